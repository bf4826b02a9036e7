package portal

import (
	"context"
	"errors"
	"net/http"
	"strings"
	"time"

	"github.com/google/uuid"

	"github.com/lobbyhq/lobby/internal/webkit"
	"github.com/lobbyhq/lobby/notify"
	"github.com/lobbyhq/lobby/storage"
)

// successLinkTTL is how long the success page's link works.
const successLinkTTL = time.Hour

// registeredToken signs the success page's link: the guest and their
// first email.
func (p *Portal) registeredToken(guest, mail uuid.UUID) string {
	return p.registered.Sign(guest.String()+"|"+mail.String(), p.now().Add(successLinkTTL))
}

// registeredData is the success page's own data.
type registeredData struct {
	Name, Email        string
	Pending            bool
	Sent               bool
	Credentials        bool
	Username, Password string
	ValidUntil         string
}

// getRegistered is the success page. It waits up to SuccessWait for the
// first email's outcome: sent, or still on its way (never an error: the
// outbox has the message and keeps retrying).
func (p *Portal) getRegistered(w http.ResponseWriter, r *http.Request) {
	ctx := r.Context()
	payload, err := p.registered.Verify(r.URL.Query().Get("t"), p.now())
	gid, mid, ok := strings.Cut(payload, "|")
	if errors.Is(err, webkit.ErrTokenExpired) {
		p.message(w, r, http.StatusGone, "This page has expired", &webkit.Link{Href: "login", Text: "Sign in"},
			"For your security this page only works for an hour. Sign in with the credentials we emailed you.")
		return
	}
	if err != nil || !ok || gid != r.PathValue("id") {
		p.notFound(w, r)
		return
	}
	guestID, err1 := uuid.Parse(gid)
	mailID, err2 := uuid.Parse(mid)
	if err1 != nil || err2 != nil {
		p.notFound(w, r)
		return
	}
	g, err := p.store.GetGuest(ctx, guestID)
	if errors.Is(err, storage.ErrNotFound) {
		p.notFound(w, r)
		return
	} else if err != nil {
		p.fail(w, r, "success page", err)
		return
	}
	if g.Status == storage.GuestDenied {
		p.message(w, r, http.StatusOK, "Registration not approved", nil,
			"Your host did not approve this registration; we have emailed you about it.")
		return
	}
	d := registeredData{
		Name:       guestName(g),
		Email:      g.Email,
		Pending:    g.Status == storage.GuestPending,
		Sent:       p.mailSent(ctx, mailID),
		ValidUntil: p.formatTime(g.ValidUntil),
	}
	if p.cfg.Policy.ShowCredentials && g.Status == storage.GuestActive {
		d.Credentials, d.Username, d.Password = true, g.Username, g.Password
	}
	title := "You are registered"
	if d.Pending {
		title = "Waiting for approval"
	}
	p.page(w, r, http.StatusOK, "registered", p.view(r, title, nil, d))
}

// mailSent reports whether outbox message id is sent, waiting up to
// SuccessWait for its Future when it is not yet.
func (p *Portal) mailSent(ctx context.Context, id uuid.UUID) bool {
	if m, err := p.store.GetMail(ctx, id); err == nil && m.Status == storage.MailSent {
		return true
	}
	f := p.track(id)
	if f == nil {
		return false
	}
	wctx, cancel := context.WithTimeout(ctx, p.cfg.Policy.SuccessWait)
	defer cancel()
	return f.Wait(wctx).Status == notify.StatusSent
}
