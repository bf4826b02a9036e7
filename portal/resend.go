package portal

import (
	"context"
	"math"
	"net/http"
	"strconv"
	"time"

	"github.com/lobbyhq/lobby/internal/i18n"
	"github.com/lobbyhq/lobby/internal/webkit"
)

// resendData is the resend page's own data.
type resendData struct {
	Done  bool
	Email string
	Off   bool // guest email is off: nothing can be sent
}

func resendForm(loc *i18n.Localizer) *webkit.Form {
	return webkit.NewForm(&webkit.Field{Name: fEmail, Label: loc.T("portal.field.email"), Type: "email", Autocomplete: "email", Required: true, MaxLen: maxEmail})
}

func (p *Portal) getResend(w http.ResponseWriter, r *http.Request) {
	loc := p.loc(r)
	if !p.guests.GuestEmail() {
		p.page(w, r, http.StatusOK, "resend", p.view(r, loc.T("portal.resend.title"), nil, resendData{Off: true}))
		return
	}
	form := resendForm(loc)
	form.Field(fEmail).Value = r.URL.Query().Get("email")
	if _, msg := normalizeEmail(form.Value(fEmail)); msg != "" {
		form.Field(fEmail).Value = ""
	}
	p.page(w, r, http.StatusOK, "resend", p.view(r, loc.T("portal.resend.title"), form, resendData{}))
}

// postResend emails an active guest their credentials again. The answer is
// the same whether or not the address is registered, and it comes at once:
// the look-up and the email are done in the background (see background),
// so that neither the page nor its timing tells who is registered. It is
// rate limited per client, and per address from each client (see
// addressKey).
func (p *Portal) postResend(w http.ResponseWriter, r *http.Request) {
	loc := p.loc(r)
	if !p.guests.GuestEmail() {
		p.page(w, r, http.StatusOK, "resend", p.view(r, loc.T("portal.resend.title"), nil, resendData{Off: true}))
		return
	}
	form := resendForm(loc)
	form.Load(r.PostForm)
	email, msg := normalizeEmail(form.Value(fEmail))
	if msg != "" {
		form.Fail(fEmail, problemText(loc, msg))
		p.page(w, r, http.StatusUnprocessableEntity, "resend", p.view(r, loc.T("portal.resend.title"), form, resendData{}))
		return
	}
	// The per-address token is taken only for a look-up that will run:
	// one dropped for want of room (logged) spends nothing.
	var wait time.Duration
	admit := func() bool {
		ok, w := p.limitAddress.Allow(p.addressKey(r, email))
		wait = w
		return ok
	}
	if p.background(r.Context(), "resend", func(ctx context.Context) error { return p.resend(ctx, email) }, admit) == bgRefused {
		webkit.TooMany(w, r, wait)
		return
	}
	p.page(w, r, http.StatusOK, "resend", p.view(r, loc.T("portal.resend.title"), nil, resendData{Done: true, Email: email}))
}

// addressKey is the per-address limit's key for email sent from r's client.
// The limit counts per address and client, so that nobody can use up the
// allowance of someone else's address and lock its guest out of "email me
// my credentials again" or of registering again. Each guest still gets at
// most one resent email a minute, however many clients ask (see resend).
func (p *Portal) addressKey(r *http.Request, email string) string {
	return p.limitAddress.ClientKey(r) + " " + email
}

// tooManyForAddress answers a registration over the per-address limit:
// 429, and the same words whether or not the address is registered, which
// are true either way (it was sent several emails from this client).
func (p *Portal) tooManyForAddress(w http.ResponseWriter, r *http.Request, wait time.Duration) {
	mins := max(1, int(math.Ceil(wait.Minutes())))
	w.Header().Set("Retry-After", strconv.Itoa(int(math.Ceil(wait.Seconds()))))
	p.errorPage(w, r, http.StatusTooManyRequests, p.loc(r).N("portal.error.429_address", mins))
}

// resend queues the credentials of the guest with email, if there is one
// who may sign in now (see guest.Service.ResendByEmail).
func (p *Portal) resend(ctx context.Context, email string) error {
	_, err := p.guests.ResendByEmail(ctx, email)
	return err
}
