package portal

import (
	"context"
	"encoding/json"
	"errors"
	"net/http"
	"net/url"
	"time"

	"github.com/google/uuid"

	"github.com/lobbyhq/lobby/internal/webkit"
	"github.com/lobbyhq/lobby/notify"
	"github.com/lobbyhq/lobby/storage"
)

// successLinkTTL is how long the success page's link works.
const successLinkTTL = time.Hour

// ticket is what a success page's link carries, sealed (webkit.Box) so that
// the link shows nothing of it: the registration it reports on and what
// the registrant typed.
type ticket struct {
	// Kind is ticketGuest for a registration that made or renewed guest
	// Guest, ticketEcho for one that changed nothing (the address was
	// registered already): its page repeats what was typed, with Status
	// the status a new guest would have had, and reads nothing stored.
	Kind   string              `json:"k"`
	Guest  uuid.UUID           `json:"g"` // the page's path ID
	Mail   uuid.UUID           `json:"m"` // the first email, or uuid.Nil
	Status storage.GuestStatus `json:"s"`
	Until  int64               `json:"u"` // access ends (Unix seconds) for a new guest
	Name   string              `json:"n"`
	Email  string              `json:"e"`
	Return string              `json:"r,omitempty"` // where signing in leads: a local path (safeReturn), or ""
}

// Ticket kinds.
const (
	ticketGuest = "g"
	ticketEcho  = "e"
)

// successURL is the success page of t, relative to the portal root. The
// return path of the registration form r posted goes with it, so that
// signing in from the success page leads where the guest was going.
func (p *Portal) successURL(r *http.Request, t ticket) string {
	t.Return = formReturn(r)
	raw, _ := json.Marshal(t) // cannot fail: strings, numbers and UUIDs
	return "registered/" + t.Guest.String() + "?t=" + p.registered.Seal(string(raw), p.now().Add(successLinkTTL))
}

// formReturn is the return path a page of r carries: the posted "return"
// field, else the "return" query parameter, when it is a local path.
func formReturn(r *http.Request) string {
	if ret := safeReturn(r.PostForm.Get("return")); ret != "" {
		return ret
	}
	return safeReturn(r.URL.Query().Get("return"))
}

// guestTicket is the ticket of a registration that made or renewed g with
// first email mail.
func guestTicket(g *storage.Guest, mail uuid.UUID) ticket {
	return ticket{Kind: ticketGuest, Guest: g.ID, Mail: mail, Status: g.Status, Until: g.ValidUntil.Unix(), Name: guestName(g), Email: g.Email}
}

// Registration cookie: ShowCredentials shows the password on a success page
// only in the browser that registered, once, within regCookieTTL.
const (
	regCookieName    = "lobby_registered"
	signInCookieName = "lobby_sign_in_now" // the registration cookie, moved to the "Sign in now" button
	regCookieTTL     = 15 * time.Minute
)

// setRegisteredCookie sets the cookie of the success page of guest ID id:
// HttpOnly, SameSite=Strict, scoped to that page's path, signed with its
// expiry. Every registration sets it, the ones that changed nothing too.
func (p *Portal) setRegisteredCookie(w http.ResponseWriter, r *http.Request, id uuid.UUID) {
	p.setRegCookie(w, r, regCookieName, p.regCookiePath(id), p.regCookie.Sign(id.String(), p.now().Add(regCookieTTL)), int(regCookieTTL/time.Second))
}

// clearRegisteredCookie removes the cookie setRegisteredCookie set.
func (p *Portal) clearRegisteredCookie(w http.ResponseWriter, r *http.Request, id uuid.UUID) {
	p.setRegCookie(w, r, regCookieName, p.regCookiePath(id), "", -1)
}

// The "Sign in now" button: the success page that shows the credentials
// moves the registration cookie, unchanged (so it ends when it would
// have), from the page to the button, under another name, so that the
// button works only after the page showed the credentials, and once.
func (p *Portal) moveRegisteredCookieToSignIn(w http.ResponseWriter, r *http.Request, id uuid.UUID, value string) {
	p.clearRegisteredCookie(w, r, id)
	p.setRegCookie(w, r, signInCookieName, p.regCookiePath(id)+"/login", value, int(regCookieTTL/time.Second))
}

// clearSignInCookie spends the cookie of the "Sign in now" button.
func (p *Portal) clearSignInCookie(w http.ResponseWriter, r *http.Request, id uuid.UUID) {
	p.setRegCookie(w, r, signInCookieName, p.regCookiePath(id)+"/login", "", -1)
}

func (p *Portal) regCookiePath(id uuid.UUID) string { return p.basePath + "/registered/" + id.String() }

func (p *Portal) setRegCookie(w http.ResponseWriter, r *http.Request, name, path, value string, maxAge int) {
	http.SetCookie(w, &http.Cookie{
		Name:     name,
		Value:    value,
		Path:     path,
		MaxAge:   maxAge,
		HttpOnly: true,
		Secure:   p.cfg.SecureCookies || r.TLS != nil,
		SameSite: http.SameSiteStrictMode,
	})
}

// registeredCookie returns the value of r's live registration cookie
// called name for guest ID id.
func (p *Portal) registeredCookie(r *http.Request, name string, id uuid.UUID) (string, bool) {
	for _, c := range r.CookiesNamed(name) {
		if got, err := p.regCookie.Verify(c.Value, p.now()); err == nil && got == id.String() {
			return c.Value, true
		}
	}
	return "", false
}

// Mail states on the success page.
const (
	mailSent    = "sent"
	mailDead    = "dead"    // failed for good: it will not arrive
	mailWaiting = "waiting" // queued or being retried
	mailOff     = "off"     // guest email is off: none is sent, the page shows the credentials
)

// showCredentials reports whether the success page shows the credentials
// (in the registering browser, once): with ShowCredentials, and always
// while guest email is off, as no email brings them.
func (p *Portal) showCredentials() bool {
	return p.cfg.Policy.ShowCredentials || !p.guests.GuestEmail()
}

// registeredData is the success page's own data.
type registeredData struct {
	Name, Email        string
	Pending            bool
	Mail               string // mailSent, mailDead or mailWaiting
	Credentials        bool
	Username, Password string
	ValidUntil         string
	Return             string // where signing in leads, or ""
	SignInNow          string // the "Sign in now" form's action, relative to the portal root, or ""
	LoginURL           string // the sign-in page relative to the portal root, carrying Return
}

// getRegistered is the success page. It says where the registration stands
// now: waiting for approval, or active with the credentials email sent, on
// its way (it waits up to SuccessWait for that), or failed for good.
func (p *Portal) getRegistered(w http.ResponseWriter, r *http.Request) {
	ctx := r.Context()
	loc := p.loc(r)
	payload, err := p.registered.Open(r.URL.Query().Get("t"), p.now())
	if errors.Is(err, webkit.ErrTokenExpired) {
		p.message(w, r, http.StatusGone, loc.T("portal.registered.expired_title"), &webkit.Link{Href: "login", Text: loc.T("portal.login.button")},
			loc.T("portal.registered.expired"))
		return
	}
	var t ticket
	if err != nil || json.Unmarshal([]byte(payload), &t) != nil || t.Guest.String() != r.PathValue("id") {
		p.notFound(w, r)
		return
	}
	d := registeredData{Name: t.Name, Email: t.Email, ValidUntil: p.formatTime(r, time.Unix(t.Until, 0)), Return: safeReturn(t.Return)}
	d.LoginURL = withReturn("login", d.Return)
	status, mail := t.Status, t.Mail
	var g *storage.Guest
	if t.Kind == ticketGuest {
		g, err = p.store.GetGuest(ctx, t.Guest)
		if errors.Is(err, storage.ErrNotFound) {
			p.notFound(w, r)
			return
		} else if err != nil {
			p.fail(w, r, "success page", err)
			return
		}
		status, d.ValidUntil = g.Status, p.formatTime(r, g.ValidUntil)
		if status == storage.GuestActive && t.Status == storage.GuestPending {
			// Approved since: the credentials email is the one to report on.
			if mail, err = p.credentialsMail(ctx, g); err != nil {
				p.fail(w, r, "success page", err)
				return
			}
		}
	}
	switch status {
	case storage.GuestPending, storage.GuestActive:
	case storage.GuestDenied:
		p.message(w, r, http.StatusOK, loc.T("portal.registered.denied_title"), nil, loc.T("portal.registered.denied"))
		return
	default:
		p.message(w, r, http.StatusOK, loc.T("portal.registered.inactive_title"), &webkit.Link{Href: "", Text: loc.T("portal.error.back")}, p.cannotLogIn(r, g))
		return
	}
	d.Pending = status == storage.GuestPending
	switch {
	case mail == uuid.Nil && !p.guests.GuestEmail():
		d.Mail = mailOff
	case t.Kind == ticketEcho && mail == uuid.Nil && p.cfg.Mail != nil:
		// A registration for a registered address that queued nothing
		// (over the per-address limit, a suspended or denied owner): the
		// state a new registration shows once its email went, at once,
		// so that neither the words nor the wait tell the two apart.
		d.Mail = mailSent
	default:
		d.Mail = p.mailState(ctx, mail)
	}
	if cookie, ok := p.registeredCookie(r, regCookieName, t.Guest); ok && p.showCredentials() && status == storage.GuestActive {
		// Once only: the page that shows the credentials spends the
		// cookie, so that the back button of a kiosk, or a reload by the
		// next person, does not show them again. (A registration that
		// changed nothing spends its cookie the same way.) What is left
		// of it signs the guest in with the "Sign in now" button, once.
		p.clearRegisteredCookie(w, r, t.Guest)
		if g != nil {
			d.Credentials, d.Username, d.Password = true, g.Username, g.Password
			if g.CanLogIn(p.now()) {
				p.moveRegisteredCookieToSignIn(w, r, t.Guest, cookie)
				d.SignInNow = "registered/" + t.Guest.String() + "/login"
			}
		}
	}
	title := loc.T("portal.registered.page_title")
	if d.Pending {
		title = loc.T("portal.registered.pending_page_title")
	}
	p.page(w, r, http.StatusOK, "registered", p.view(r, title, nil, d))
}

// credentialsMail finds the newest credentials email to g since g was
// registered, or uuid.Nil when there is none yet.
func (p *Portal) credentialsMail(ctx context.Context, g *storage.Guest) (uuid.UUID, error) {
	rows, err := p.store.ListMail(ctx, storage.MailFilter{Query: g.Email, Limit: 50})
	if err != nil {
		return uuid.Nil, err
	}
	for _, m := range rows { // newest first
		if m.Kind == KindCredentials && m.Recipient == g.Email && !m.CreatedAt.Before(g.CreatedAt) {
			return m.ID, nil
		}
	}
	return uuid.Nil, nil
}

// mailState says where outbox message id stands, waiting up to SuccessWait
// for its Future when it is not settled yet. uuid.Nil (no message) reads as
// one that has not gone out, after the same wait.
func (p *Portal) mailState(ctx context.Context, id uuid.UUID) string {
	if id != uuid.Nil {
		if s := p.settled(ctx, id); s != "" {
			return s
		}
	}
	if p.cfg.Mail == nil {
		return mailWaiting
	}
	wctx, cancel := context.WithTimeout(ctx, p.cfg.Policy.SuccessWait)
	defer cancel()
	if id == uuid.Nil {
		<-wctx.Done()
		return mailWaiting
	}
	if f := p.track(id); f != nil {
		switch f.Wait(wctx).Status {
		case notify.StatusSent:
			return mailSent
		case notify.StatusFailed:
			return mailDead
		}
	}
	if s := p.settled(ctx, id); s != "" {
		return s
	}
	return mailWaiting
}

// settled returns mailSent or mailDead when message id is, else "".
func (p *Portal) settled(ctx context.Context, id uuid.UUID) string {
	m, err := p.store.GetMail(ctx, id)
	if err != nil {
		return ""
	}
	switch m.Status {
	case storage.MailSent:
		return mailSent
	case storage.MailDead:
		return mailDead
	}
	return ""
}

// postSignInNow is the success page's "Sign in now" button (where it shows
// the credentials: ShowCredentials, or guest email off): it signs the guest in without typing the credentials the page
// showed, then goes where the guest was going. Only the browser that
// registered can use it, once, while its registration cookie lasts (15
// minutes from registering): a guest on captive Wi-Fi may not be able to
// read their email before they are online.
func (p *Portal) postSignInNow(w http.ResponseWriter, r *http.Request) {
	ctx := r.Context()
	id, err := uuid.Parse(r.PathValue("id"))
	if err != nil || !p.showCredentials() {
		p.notFound(w, r)
		return
	}
	ret := safeReturn(r.PostForm.Get("return"))
	root := webkit.RelRoot(r.URL.Path)
	login := "login"
	if ret != "" {
		login += "?return=" + url.QueryEscape(ret)
	}
	if _, ok := p.registeredCookie(r, signInCookieName, id); !ok {
		loc := p.loc(r)
		p.message(w, r, http.StatusForbidden, loc.T("portal.registered.sign_in_now_title"), &webkit.Link{Href: login, Text: loc.T("portal.login.button")},
			loc.T("portal.registered.sign_in_now_gone"))
		return
	}
	g, err := p.store.GetGuest(ctx, id)
	if errors.Is(err, storage.ErrNotFound) {
		p.notFound(w, r)
		return
	} else if err != nil {
		p.fail(w, r, "sign in now", err)
		return
	}
	if !g.CanLogIn(p.now()) {
		p.message(w, r, http.StatusForbidden, p.loc(r).T("portal.registered.cannot_title"), &webkit.Link{Href: "", Text: p.loc(r).T("portal.error.back")}, p.cannotLogIn(r, g))
		return
	}
	p.clearSignInCookie(w, r, id)
	g = p.signedIn(ctx, g)
	p.signInDone(r, g.ID, p.sessions.SetAfter(w, r, g.ID.String(), g.SessionsValidAfter))
	if err := p.store.Audit(ctx, storage.AuditEntry{Actor: "guest:" + g.Username, Action: "guest.login", Subject: g.ID.String(),
		Detail: "signed in from the success page"}); err != nil {
		p.log.WarnContext(ctx, "portal: audit login", "error", err.Error())
	}
	p.log.InfoContext(ctx, "guest signed in from the success page", "guest_id", g.ID)
	if ret != "" {
		webkit.SeeOther(w, ret)
		return
	}
	webkit.SeeOther(w, root+"account")
}
