package admin

import (
	"context"
	"net/http"
	"net/mail"
	"strconv"
	"strings"

	"github.com/lobbyhq/lobby/internal/webkit"
	"github.com/lobbyhq/lobby/notify"
	"github.com/lobbyhq/lobby/storage"
)

// Send Test Email: a message through the retry pool with the saved
// settings, as every email goes, waiting for its Future for a while.

func sendForm() *webkit.Form {
	return webkit.NewForm(&webkit.Field{Name: "to", Label: "Send a test email to", Type: "email", Required: true, MaxLen: 254,
		Autocomplete: "email", Hint: "Any address. It goes out with the saved settings, through the same queue as guests' email."})
}

// sendView is what the page says about a test email.
type sendView struct {
	To, Status, Took, Attempts string
	Sent, Pending, Failed      bool
	Diagnosis                  *notify.Diagnosis
}

func (a *Admin) postSMTPSend(w http.ResponseWriter, r *http.Request, st *storage.Staff) {
	ctx := r.Context()
	send := sendForm()
	send.Load(r.PostForm)
	cur, err := a.loadStored(ctx)
	if err != nil {
		a.fail(w, r, st, "load SMTP settings", err)
		return
	}
	form := smtpForm()
	p := &smtpPage{Version: cur.s.Version, Saved: cur.about, Send: send}
	a.fillForm(form, cur.s)
	a.secretHints(form, p, cur.s, pendingSecrets{})
	show := func(status int) {
		v := a.smtpView(r, st, form, p)
		v.Form = send // the error summary is about the send form
		a.page(w, r, status, "smtp", v)
	}
	to := send.Value("to")
	addr, perr := mail.ParseAddress(to)
	switch {
	case to == "":
		send.Fail("to", "Enter the address to send the test email to.")
	case perr != nil || addr.Name != "":
		send.Fail("to", "Enter one email address, such as name@example.com.")
	case !cur.ok:
		send.Fail("to", "Save the SMTP settings first (after a passing Test Connection): the test email goes out with the saved settings.")
	}
	if !send.Valid() {
		show(http.StatusUnprocessableEntity)
		return
	}
	if ok, wait := a.limitTests.Allow("staff:" + st.ID.String()); !ok {
		webkit.TooMany(w, r, wait)
		return
	}
	v, res := a.sendAndWait(r, st, "smtp", notify.Message{
		Kind:    "admin.test",
		To:      []string{addr.Address},
		Subject: a.cfg.SiteName + " test email",
		Text: "This is a test email from " + a.cfg.SiteName + ", sent by " + st.Username + " from the SMTP server page.\n\n" +
			"If you can read it, guests will get their credentials by email.\n",
	})
	code := ""
	if res.Diagnosis != nil {
		code = res.Diagnosis.Code
	}
	a.audit(r, st, "smtp.test_email", addr.Address, string(res.Status)+" "+code+" after "+ms(res.Took))
	p.SendResult = v
	send.Field("to").Value = addr.Address
	show(http.StatusOK)
}

// sendAndWait submits m through the retry pool, as every email goes, and
// waits for its Future up to MailWait: what the page says about it. from
// names the page in the log.
func (a *Admin) sendAndWait(r *http.Request, st *storage.Staff, from string, m notify.Message) (*sendView, notify.Result) {
	ctx := r.Context()
	f := a.cfg.Mail.Submit(ctx, m)
	a.log.InfoContext(ctx, from+" test email submitted", "staff_id", st.ID, "id", f.ID())
	wctx, cancel := context.WithTimeout(ctx, a.cfg.MailWait)
	res := f.Wait(wctx)
	cancel()
	v := &sendView{To: strings.Join(m.To, ", "), Status: string(res.Status), Took: ms(res.Took), Attempts: strconv.Itoa(res.Attempts),
		Diagnosis: res.Diagnosis}
	switch res.Status {
	case notify.StatusSent:
		v.Sent = true
	case notify.StatusPending:
		v.Pending = true
		v.Took = ms(a.cfg.MailWait)
	case notify.StatusFailed:
		v.Failed = true
	}
	code := ""
	if res.Diagnosis != nil {
		code = res.Diagnosis.Code
	}
	a.log.InfoContext(ctx, from+" test email", "staff_id", st.ID, "id", f.ID(), "status", res.Status, "code", code,
		"attempts", res.Attempts, "took_ms", res.Took.Milliseconds())
	return v, res
}
