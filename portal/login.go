package portal

import (
	"context"
	"crypto/subtle"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"strings"

	"github.com/google/uuid"

	"github.com/lobbyhq/lobby/internal/i18n"
	"github.com/lobbyhq/lobby/internal/webkit"
	"github.com/lobbyhq/lobby/storage"
)

// loginData is the login page's own data.
type loginData struct {
	Return      string
	RegisterURL string // the register page, carrying Return
}

func newLoginData(ret string) loginData {
	return loginData{Return: ret, RegisterURL: withReturn("register", ret)}
}

// withReturn is page with ?return=ret when ret is set.
func withReturn(page, ret string) string {
	if ret == "" {
		return page
	}
	return page + "?return=" + url.QueryEscape(ret)
}

func loginForm(loc *i18n.Localizer) *webkit.Form {
	return webkit.NewForm(
		&webkit.Field{Name: "username", Label: loc.T("portal.login.username"), Type: "text", Autocomplete: "username", Required: true, MaxLen: maxEmail},
		&webkit.Field{Name: "password", Label: loc.T("portal.login.password"), Type: "password", Autocomplete: "current-password", Required: true, MaxLen: 128},
	)
}

// Guest returns the signed-in guest of r when the session cookie is genuine,
// the session was issued after the guest's SessionsValidAfter (after their
// last sign-out, anywhere) and the guest may log in now (active and within
// their validity): one primary-key lookup. A suspended, expired or deleted
// guest is not signed in, whatever their cookie says.
func (p *Portal) Guest(r *http.Request) (*storage.Guest, bool) {
	s, ok := p.sessions.Get(r)
	if !ok {
		return nil, false
	}
	id, err := uuid.Parse(s.Subject)
	if err != nil {
		return nil, false
	}
	g, err := p.store.GetGuest(r.Context(), id)
	if err != nil {
		if !errors.Is(err, storage.ErrNotFound) {
			p.log.WarnContext(r.Context(), "portal: look up signed-in guest", "error", err.Error())
		}
		return nil, false
	}
	if !s.IssuedAt.After(g.SessionsValidAfter) || !g.CanLogIn(p.now()) {
		return nil, false
	}
	return g, true
}

// LoginURL is the sign-in page's URL relative to where the portal is
// mounted, e.g. "login?return=%2Fapp%2F", for RequireGuest to redirect to.
// returnTo must be a local path ("/app/"); anything else is dropped.
func (p *Portal) LoginURL(returnTo string) string {
	if rt := safeReturn(returnTo); rt != "" {
		return "login?return=" + url.QueryEscape(rt)
	}
	return "login"
}

func (p *Portal) getLogin(w http.ResponseWriter, r *http.Request) {
	ret := safeReturn(r.URL.Query().Get("return"))
	if _, ok := p.Guest(r); ok && ret != "" {
		webkit.SeeOther(w, ret)
		return
	}
	loc := p.loc(r)
	v := p.view(r, loc.T("portal.login.title"), loginForm(loc), newLoginData(ret))
	if r.URL.Query().Has("signed_out") {
		v.Notice = loc.T("portal.login.signed_out")
	}
	p.page(w, r, http.StatusOK, "login", v)
}

func (p *Portal) postLogin(w http.ResponseWriter, r *http.Request) {
	ctx := r.Context()
	loc := p.loc(r)
	form := loginForm(loc)
	form.Load(r.PostForm)
	ret := safeReturn(r.PostForm.Get("return"))
	username := form.Field("username")
	password := form.Field("password")
	pw := r.PostForm.Get("password") // as typed: spaces may be part of it
	password.Value = ""              // never sent back to the page
	again := func(status int) {
		p.page(w, r, status, "login", p.view(r, loc.T("portal.login.title"), form, newLoginData(ret)))
	}
	if username.Value == "" {
		form.Fail("username", loc.T("portal.login.enter_username"))
	}
	if pw == "" {
		form.Fail("password", loc.T("portal.login.enter_password"))
	}
	if !form.Valid() {
		again(http.StatusUnprocessableEntity)
		return
	}
	name := strings.ToLower(username.Value)
	g, err := p.store.GetGuestByUsername(ctx, name)
	if errors.Is(err, storage.ErrNotFound) && strings.Contains(name, "@") {
		g, err = p.store.GetGuestByEmail(ctx, name)
	}
	if err != nil && !errors.Is(err, storage.ErrNotFound) {
		p.fail(w, r, "login", err)
		return
	}
	// Compare even when there is no such guest, against a stand-in, so that
	// both cases take the same time.
	want := "\x00no such guest\x00"
	if g != nil {
		want = g.Password
	}
	if subtle.ConstantTimeCompare([]byte(pw), []byte(want)) != 1 || g == nil {
		username.Error = loc.T("portal.login.wrong")
		username.ErrorLink = &webkit.Link{Href: "resend", Text: loc.T("portal.login.resend_link")}
		p.log.InfoContext(ctx, "guest login failed", "client", p.clientIP(r))
		again(http.StatusUnauthorized)
		return
	}
	if !g.CanLogIn(p.now()) {
		form.Fail("username", p.cannotLogIn(r, g))
		again(http.StatusForbidden)
		return
	}
	g = p.signedIn(ctx, g)
	// After the last sign-out even if that was in this microsecond, or on
	// a node whose clock is ahead.
	p.signInDone(r, g.ID, p.sessions.SetAfter(w, r, g.ID.String(), g.SessionsValidAfter))
	if err := p.store.Audit(ctx, storage.AuditEntry{Actor: "guest:" + g.Username, Action: "guest.login", Subject: g.ID.String()}); err != nil {
		p.log.WarnContext(ctx, "portal: audit login", "error", err.Error())
	}
	p.log.InfoContext(ctx, "guest signed in", "guest_id", g.ID)
	if ret != "" {
		webkit.SeeOther(w, ret)
		return
	}
	webkit.SeeOther(w, "account")
}

// cannotLogIn says why g's right credentials do not sign them in, in r's
// language.
func (p *Portal) cannotLogIn(r *http.Request, g *storage.Guest) string {
	loc := p.loc(r)
	switch g.Status {
	case storage.GuestPending:
		return loc.T("portal.status.pending")
	case storage.GuestSuspended:
		return loc.T("portal.status.suspended")
	case storage.GuestDenied:
		return loc.T("portal.status.denied")
	case storage.GuestExpired:
		return loc.T("portal.status.expired")
	}
	if p.now().Before(g.ValidFrom) {
		return loc.T("portal.status.not_yet", "ValidFrom", p.formatTime(r, g.ValidFrom))
	}
	return loc.T("portal.status.expired")
}

// postLogout signs the guest out on every device: clearing this browser's
// cookie cannot recall a copy of it, or the cookies of other devices, so it
// moves the guest's SessionsValidAfter to now, which ends them all. A
// session that had ended already changes nothing: a stale copy of a cookie
// cannot sign the guest out again and again.
func (p *Portal) postLogout(w http.ResponseWriter, r *http.Request) {
	if s, ok := p.sessions.Get(r); ok {
		if err := p.endSessions(r.Context(), s); err != nil {
			p.fail(w, r, "sign out", err) // the cookie stays, to try again with
			return
		}
	}
	p.sessions.Clear(w, r)
	webkit.SeeOther(w, "login?signed_out=1")
}

// endSessions ends every session of the guest of s, if s has not ended
// already (the guest's own state aside: a suspended guest's sessions end
// too, lest a reinstatement bring them back).
func (p *Portal) endSessions(ctx context.Context, s webkit.Session) error {
	id, err := uuid.Parse(s.Subject)
	if err != nil {
		return nil // not a guest's session
	}
	g, err := p.store.GetGuest(ctx, id)
	if errors.Is(err, storage.ErrNotFound) {
		return nil
	} else if err != nil {
		return fmt.Errorf("read the guest: %w", err)
	}
	if !s.IssuedAt.After(g.SessionsValidAfter) {
		return nil
	}
	// Not before the session itself, which may come from a node whose clock
	// is ahead of this one's (see webkit.Sessions.SetAfter).
	cutoff := p.now()
	if s.IssuedAt.After(cutoff) {
		cutoff = s.IssuedAt
	}
	if _, err := p.store.UpdateGuest(ctx, id, storage.GuestUpdate{SessionsValidAfter: &cutoff}); err != nil && !errors.Is(err, storage.ErrNotFound) {
		return fmt.Errorf("end the guest's sessions: %w", err)
	}
	if err := p.store.Audit(ctx, storage.AuditEntry{Actor: "guest:" + g.Username, Action: "guest.logout", Subject: g.ID.String(),
		Detail: "signed out on all devices"}); err != nil {
		p.log.WarnContext(ctx, "portal: audit logout", "error", err.Error())
	}
	p.log.InfoContext(ctx, "guest signed out on all devices", "guest_id", g.ID)
	return nil
}

// accountData is the account page's own data.
type accountData struct {
	Name, Username, ValidUntil string
}

func (p *Portal) getAccount(w http.ResponseWriter, r *http.Request) {
	g, ok := p.Guest(r)
	if !ok {
		webkit.SeeOther(w, "login")
		return
	}
	p.page(w, r, http.StatusOK, "account", p.view(r, p.loc(r).T("portal.account.page_title"), nil, accountData{
		Name: guestName(g), Username: g.Username, ValidUntil: p.formatTime(r, g.ValidUntil),
	}))
}

// signedIn records g's sign-in with the guest rules (the first one starts
// the validity of a type that counts from it) and returns the guest as
// stored. When that fails the sign-in still goes ahead, and the next one
// tries again.
func (p *Portal) signedIn(ctx context.Context, g *storage.Guest) *storage.Guest {
	out, err := p.guests.SignedIn(ctx, g)
	if err != nil {
		p.log.WarnContext(ctx, "portal: could not record the first sign-in; the next sign-in tries again", "guest_id", g.ID, "error", err.Error())
		return g
	}
	return out
}

// signInDone tells Config.OnSignIn of the session s just started for the
// guest with id.
func (p *Portal) signInDone(r *http.Request, id uuid.UUID, s webkit.Session) {
	if p.cfg.OnSignIn != nil {
		p.cfg.OnSignIn(r, id, s.IssuedAt)
	}
}
