package sponsor

import (
	"cmp"
	"context"
	"errors"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/google/uuid"

	"github.com/lobbyhq/lobby/internal/passhash"
	"github.com/lobbyhq/lobby/internal/webkit"
	"github.com/lobbyhq/lobby/storage"
)

// Sign-in throttling: after lockAfter failures in a row an account pauses
// for lockFirst, doubling with each further failure up to lockMax.
const (
	lockAfter = 5
	lockFirst = time.Minute
	lockMax   = 15 * time.Minute
)

// lockFor is how long sign-in pauses after the failures-th failure in a
// row: nothing before the fifth, then 1, 2, 4, 8 and at most 15 minutes.
// The pause always ends: a lock is a time, never a state.
func lockFor(failures int) time.Duration {
	if failures < lockAfter {
		return 0
	}
	d := lockFirst
	for i := lockAfter; i < failures && d < lockMax; i++ {
		d *= 2
	}
	return min(d, lockMax)
}

// badSignIn is the one answer to a wrong username, a wrong password and a
// locked account, so that none tells which it was.
const badSignIn = "The username or password is not right. After several failed attempts sign-in pauses for a few minutes: check them and try again."

// Staff returns the signed-in staff user of r: a genuine session cookie,
// issued after the user's last sign-out and password change, of a user
// who is not disabled. One primary-key read.
func (s *Sponsor) Staff(r *http.Request) (*storage.Staff, bool) {
	sess, ok := s.sessions.Get(r)
	if !ok {
		return nil, false
	}
	id, err := uuid.Parse(sess.Subject)
	if err != nil {
		return nil, false
	}
	st, err := s.store.GetStaff(r.Context(), id)
	if err != nil {
		if !errors.Is(err, storage.ErrNotFound) {
			s.log.WarnContext(r.Context(), "sponsor: look up signed-in staff", "error", err.Error())
		}
		return nil, false
	}
	if st.Disabled || !sess.IssuedAt.After(st.SessionCutoff()) {
		return nil, false
	}
	return st, true
}

// signedIn runs h for signed-in staff and sends everyone else to sign in.
func (s *Sponsor) signedIn(h func(http.ResponseWriter, *http.Request, *storage.Staff)) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		st, ok := s.Staff(r)
		if !ok {
			webkit.SeeOther(w, webkit.RelRoot(r.URL.Path)+"login")
			return
		}
		h(w, r, st)
	}
}

func loginForm() *webkit.Form {
	return webkit.NewForm(
		&webkit.Field{Name: "username", Label: "Username", Type: "text", Autocomplete: "username", Required: true, MaxLen: 254},
		&webkit.Field{Name: "password", Label: "Password", Type: "password", Autocomplete: "current-password", Required: true, MaxLen: 256},
	)
}

// safeReturn is ret if it is a local address (a path on this site, such
// as "/lobby/admin/smtp"), for the redirect after sign-in; "" otherwise, so
// that a crafted sign-in link cannot send anyone to another site.
func safeReturn(ret string) string {
	if !strings.HasPrefix(ret, "/") || strings.HasPrefix(ret, "//") || strings.HasPrefix(ret, "/\\") || len(ret) > 1024 {
		return ""
	}
	for _, c := range ret {
		if c < 0x20 || c == 0x7f || c == '\\' {
			return ""
		}
	}
	u, err := url.Parse(ret)
	if err != nil || u.Scheme != "" || u.Host != "" || u.User != nil {
		return ""
	}
	return ret
}

// afterSignIn is where sign-in leads: the safe return address of r, or the
// guests list.
func afterSignIn(r *http.Request) string {
	return cmp.Or(safeReturn(r.URL.Query().Get("return")), "./")
}

func (s *Sponsor) getLogin(w http.ResponseWriter, r *http.Request) {
	if _, ok := s.Staff(r); ok {
		webkit.SeeOther(w, afterSignIn(r))
		return
	}
	v := s.view(r, "Sign in", nil, "", loginForm(), safeReturn(r.URL.Query().Get("return")))
	if r.URL.Query().Has("signed_out") {
		v.Notice = "You are signed out on all devices."
	}
	s.page(w, r, http.StatusOK, "login", v)
}

func (s *Sponsor) postLogin(w http.ResponseWriter, r *http.Request) {
	ctx := r.Context()
	form := loginForm()
	form.Load(r.PostForm)
	pw := r.PostForm.Get("password")  // as typed: spaces may be part of it
	form.Field("password").Value = "" // never sent back
	again := func(status int) {
		s.page(w, r, status, "login", s.view(r, "Sign in", nil, "", form, safeReturn(r.URL.Query().Get("return"))))
	}
	if form.Value("username") == "" {
		form.Fail("username", "Enter your username.")
	}
	if pw == "" {
		form.Fail("password", "Enter your password.")
	}
	if !form.Valid() {
		again(http.StatusUnprocessableEntity)
		return
	}
	refuse := func() {
		form.Fail("username", badSignIn)
		again(http.StatusUnauthorized)
	}
	st, err := s.store.GetStaffByUsername(ctx, form.Value("username"))
	if errors.Is(err, storage.ErrNotFound) {
		passhash.Dummy(pw) // as long as a known user takes
		s.log.InfoContext(ctx, "staff sign-in failed", "reason", "unknown user", "client", s.proxy.ClientIP(r))
		refuse()
		return
	}
	if err != nil {
		s.fail(w, r, "sign in", err)
		return
	}
	now := s.now()
	if now.Before(st.LockedUntil) {
		// Not checked, and not counted: the pause ends when it says,
		// however many tries come meanwhile.
		passhash.Dummy(pw)
		s.log.InfoContext(ctx, "staff sign-in refused", "reason", "paused after failures", "staff_id", st.ID,
			"locked_until", st.LockedUntil, "client", s.proxy.ClientIP(r))
		refuse()
		return
	}
	ok, err := passhash.Verify(st.PasswordHash, pw)
	if err != nil {
		s.log.WarnContext(ctx, "sponsor: staff password hash unreadable; set a new password with lobby user add or an admin",
			"staff_id", st.ID, "error", err.Error())
	}
	if !ok {
		if err := s.countFailure(ctx, st, now); err != nil {
			s.fail(w, r, "sign in", err)
			return
		}
		s.log.InfoContext(ctx, "staff sign-in failed", "reason", "wrong password", "staff_id", st.ID, "client", s.proxy.ClientIP(r))
		refuse()
		return
	}
	if st.Disabled {
		form.Fail("username", "This account is disabled. Ask an administrator to enable it.")
		s.log.InfoContext(ctx, "staff sign-in refused", "reason", "disabled", "staff_id", st.ID)
		again(http.StatusForbidden)
		return
	}
	if err := s.store.RecordStaffLogin(ctx, st.ID, now); err != nil {
		s.fail(w, r, "sign in", err)
		return
	}
	// A new session (new ID, new CSRF token), after the last sign-out and
	// password change even if they were in this microsecond.
	s.sessions.SetAfter(w, r, st.ID.String(), st.SessionCutoff())
	s.audit(ctx, st, "staff.login", st.ID.String(), "")
	s.log.InfoContext(ctx, "staff signed in", "staff_id", st.ID, "role", st.Role)
	webkit.SeeOther(w, afterSignIn(r))
}

// countFailure counts a failed sign-in of st and pauses the account when
// the count calls for it.
func (s *Sponsor) countFailure(ctx context.Context, st *storage.Staff, now time.Time) error {
	n, err := s.store.RecordStaffLoginFailure(ctx, st.ID, now)
	if err != nil {
		return err
	}
	if d := lockFor(n); d > 0 {
		if err := s.store.SetStaffLockedUntil(ctx, st.ID, now.Add(d)); err != nil {
			return err
		}
		s.log.WarnContext(ctx, "staff sign-in paused after failures", "staff_id", st.ID, "failures", n, "pause", d.String())
		s.audit(ctx, st, "staff.login_paused", st.ID.String(), "after "+strconv.Itoa(n)+" failed sign-ins, for "+d.String())
	}
	return nil
}

// postLogout signs the user out on every device: their sessions issued
// until now end (a stateless cookie cannot be recalled otherwise).
func (s *Sponsor) postLogout(w http.ResponseWriter, r *http.Request) {
	if st, ok := s.Staff(r); ok {
		sess, _ := s.sessions.Get(r)
		cutoff := s.now()
		if sess.IssuedAt.After(cutoff) { // from a node whose clock is ahead
			cutoff = sess.IssuedAt
		}
		if err := s.store.EndStaffSessions(r.Context(), st.ID, cutoff); err != nil {
			s.fail(w, r, "sign out", err)
			return
		}
		s.audit(r.Context(), st, "staff.logout", st.ID.String(), "signed out on all devices")
	}
	s.sessions.Clear(w, r)
	webkit.SeeOther(w, webkit.RelRoot(r.URL.Path)+"login?signed_out=1")
}

// Password rules.
const minPassword = 12

// commonPasswords are refused whatever their length (compared folded).
var commonPasswords = []string{
	"123456789012", "1234567890123", "12345678910111213", "qwertyuiopas", "qwertyuiop123", "password1234",
	"password12345", "passwordpassword", "iloveyou1234", "welcome12345", "letmein12345", "changeme1234",
	"administrator", "administrator1", "abcdefghijkl", "aaaaaaaaaaaa", "111111111111", "000000000000",
	"correcthorsebatterystaple", "trustno1trustno1", "sponsorsponsor", "lobbylobbylobby", "guestguestguest",
}

// checkNewPassword says what is wrong with pw as username's new password,
// or "".
func checkNewPassword(username, pw string) string {
	folded := strings.ToLower(strings.TrimSpace(pw))
	switch {
	case utf8.RuneCountInString(pw) < minPassword:
		return "Use at least 12 characters. A few unrelated words make a good one."
	case folded == strings.ToLower(username):
		return "Do not use your username as your password."
	}
	for _, c := range commonPasswords {
		if folded == c {
			return "That password is too common. Choose one that others would not guess."
		}
	}
	return ""
}

func passwordForm() *webkit.Form {
	return webkit.NewForm(
		&webkit.Field{Name: "current", Label: "Current password", Type: "password", Autocomplete: "current-password", Required: true, MaxLen: 256},
		&webkit.Field{Name: "new", Label: "New password", Hint: "At least 12 characters; not your username.", Type: "password",
			Autocomplete: "new-password", Required: true, MaxLen: 256},
		&webkit.Field{Name: "again", Label: "New password again", Type: "password", Autocomplete: "new-password", Required: true, MaxLen: 256},
	)
}

func (s *Sponsor) getPassword(w http.ResponseWriter, r *http.Request, st *storage.Staff) {
	s.page(w, r, http.StatusOK, "password", s.view(r, "Change your password", st, "password", passwordForm(), nil))
}

// postPassword changes the user's own password: the current one, then the
// new one twice. It ends every other session; this browser gets a new one.
func (s *Sponsor) postPassword(w http.ResponseWriter, r *http.Request, st *storage.Staff) {
	ctx := r.Context()
	form := passwordForm()
	current, newPw, again := r.PostForm.Get("current"), r.PostForm.Get("new"), r.PostForm.Get("again")
	retry := func(status int) {
		s.page(w, r, status, "password", s.view(r, "Change your password", st, "password", form, nil))
	}
	if current == "" {
		form.Fail("current", "Enter your current password.")
	}
	if msg := checkNewPassword(st.Username, newPw); newPw == "" {
		form.Fail("new", "Enter a new password.")
	} else if msg != "" {
		form.Fail("new", msg)
	} else if newPw != again {
		form.Fail("again", "The two new passwords differ. Type the same one twice.")
	}
	if !form.Valid() {
		retry(http.StatusUnprocessableEntity)
		return
	}
	now := s.now()
	ok := false
	if now.Before(st.LockedUntil) {
		passhash.Dummy(current)
	} else {
		var err error
		if ok, err = passhash.Verify(st.PasswordHash, current); err != nil {
			s.log.WarnContext(ctx, "sponsor: staff password hash unreadable", "staff_id", st.ID, "error", err.Error())
		}
		if !ok {
			if err := s.countFailure(ctx, st, now); err != nil {
				s.fail(w, r, "change password", err)
				return
			}
		}
	}
	if !ok {
		form.Fail("current", "That is not your current password. After several failed attempts this pauses for a few minutes.")
		retry(http.StatusUnauthorized)
		return
	}
	if newPw == current {
		form.Fail("new", "Choose a password other than your current one.")
		retry(http.StatusUnprocessableEntity)
		return
	}
	hash, err := passhash.Hash(newPw)
	if err != nil {
		s.fail(w, r, "change password", err)
		return
	}
	if err := s.store.SetStaffPassword(ctx, st.ID, hash); err != nil {
		s.fail(w, r, "change password", err)
		return
	}
	fresh, err := s.store.GetStaff(ctx, st.ID)
	if err != nil {
		s.fail(w, r, "change password", err)
		return
	}
	s.sessions.SetAfter(w, r, st.ID.String(), fresh.SessionCutoff())
	s.audit(ctx, st, "staff.password_changed", st.ID.String(), "other sessions ended")
	s.log.InfoContext(ctx, "staff password changed", "staff_id", st.ID)
	webkit.SeeOther(w, "./?password_changed=1")
}

// audit records what st did; a failure to record is logged, not shown.
func (s *Sponsor) audit(ctx context.Context, st *storage.Staff, action, subject, detail string) {
	if err := s.store.Audit(ctx, storage.AuditEntry{Actor: "staff:" + st.Username, Action: action, Subject: subject, Detail: detail}); err != nil {
		s.log.WarnContext(ctx, "sponsor: audit", "action", action, "error", err.Error())
	}
}
