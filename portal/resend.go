package portal

import (
	"errors"
	"fmt"
	"net/http"

	"github.com/google/uuid"

	"github.com/lobbyhq/lobby/internal/webkit"
	"github.com/lobbyhq/lobby/notify"
	"github.com/lobbyhq/lobby/storage"
)

// resendData is the resend page's own data.
type resendData struct {
	Done  bool
	Email string
}

func resendForm() *webkit.Form {
	return webkit.NewForm(&webkit.Field{Name: fEmail, Label: "Email address", Type: "email", Autocomplete: "email", Required: true, MaxLen: maxEmail})
}

func (p *Portal) getResend(w http.ResponseWriter, r *http.Request) {
	form := resendForm()
	form.Field(fEmail).Value = r.URL.Query().Get("email")
	if _, msg := normalizeEmail(form.Value(fEmail)); msg != "" {
		form.Field(fEmail).Value = ""
	}
	p.page(w, r, http.StatusOK, "resend", p.view(r, "Email me my credentials again", form, resendData{}))
}

// postResend emails an active guest their credentials again. The answer is
// the same whether or not the address is registered, so that the page does
// not tell who is; it is rate limited per client and per address.
func (p *Portal) postResend(w http.ResponseWriter, r *http.Request) {
	ctx := r.Context()
	form := resendForm()
	form.Load(r.PostForm)
	email, msg := normalizeEmail(form.Value(fEmail))
	if msg != "" {
		form.Fail(fEmail, msg)
		p.page(w, r, http.StatusUnprocessableEntity, "resend", p.view(r, "Email me my credentials again", form, resendData{}))
		return
	}
	if ok, wait := p.limitAddress.Allow(email); !ok {
		webkit.TooMany(w, r, wait)
		return
	}
	g, err := p.store.GetGuestByEmail(ctx, email)
	switch {
	case errors.Is(err, storage.ErrNotFound):
		g = nil
	case err != nil:
		p.fail(w, r, "resend: look up", err)
		return
	}
	if g != nil && g.CanLogIn(p.now()) {
		m, err := p.credentialsMessage(g)
		if err != nil {
			p.fail(w, r, "resend", err)
			return
		}
		// One resend per guest per minute, however often the form is sent.
		m.IdempotencyKey = fmt.Sprintf("portal:resend:%s:%d", g.ID, p.now().Unix()/60)
		var mid uuid.UUID
		err = p.store.WithTx(ctx, func(tx storage.Store) error {
			if mid, err = notify.Enqueue(ctx, tx, m); err != nil {
				return err
			}
			return tx.Audit(ctx, storage.AuditEntry{Actor: "guest:" + g.Username, Action: "guest.resend", Subject: g.ID.String()})
		})
		if err != nil {
			p.fail(w, r, "resend", err)
			return
		}
		p.track(mid)
	}
	p.page(w, r, http.StatusOK, "resend", p.view(r, "Email me my credentials again", nil, resendData{Done: true, Email: email}))
}
