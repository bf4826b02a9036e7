package admin

import (
	"errors"
	"net/http"
	"net/mail"
	"slices"
	"strconv"

	"github.com/lobbyhq/lobby/guest"
	"github.com/lobbyhq/lobby/internal/webkit"
	"github.com/lobbyhq/lobby/notify"
	"github.com/lobbyhq/lobby/storage"
)

// The email templates pages: the list of kinds, and per kind an editor
// with Preview (sample data, nothing saved), Save (refused, with line and
// column, when a part does not parse or render), Restore default and Send
// Test Email (the saved template with sample data, through the retry
// pool). The rules are the guest package's (guest/templates.go).

// templatesPage is the list.
type templatesPage struct {
	Templates []guest.EmailTemplate
}

func (a *Admin) getTemplates(w http.ResponseWriter, r *http.Request, st *storage.Staff) {
	list, _, err := a.cfg.Guests.EmailTemplates(r.Context())
	if err != nil {
		a.fail(w, r, st, "load email templates", err)
		return
	}
	v := a.view(r, "Email templates", st, "templates", nil, &templatesPage{Templates: list})
	v.Notice = a.takeFlash(w, r, st, "templates")
	a.page(w, r, http.StatusOK, "templates", v)
}

func templateForm() *webkit.Form {
	return webkit.NewForm(
		&webkit.Field{Name: "subject", Label: "Subject", Type: "text", MaxLen: 2000},
		&webkit.Field{Name: "text", Label: "Plain-text body", Type: "textarea", MaxLen: 100_000},
		&webkit.Field{Name: "html", Label: "HTML body", Type: "textarea", MaxLen: 200_000,
			Hint: "Leave blank to send plain text only."},
	)
}

// previewView is a rendered template.
type previewView struct {
	Subject, Text, HTML string
}

// templatePage is one template's editor.
type templatePage struct {
	T        guest.EmailTemplate
	F        map[string]*webkit.Field
	Version  int64
	Preview  *previewView
	Conflict bool
	Send     *webkit.Form
	// SendResult is the outcome of Send Test Email.
	SendResult *sendView
}

// loadTemplate finds name's template; nil (after answering 404) when there
// is none.
func (a *Admin) loadTemplate(w http.ResponseWriter, r *http.Request, st *storage.Staff) (*guest.EmailTemplate, int64, bool) {
	list, version, err := a.cfg.Guests.EmailTemplates(r.Context())
	if err != nil {
		a.fail(w, r, st, "load email templates", err)
		return nil, 0, false
	}
	name := r.PathValue("name")
	i := slices.IndexFunc(list, func(t guest.EmailTemplate) bool { return t.Name == name })
	if i < 0 {
		a.message(w, r, http.StatusNotFound, st, "No such email", &webkit.Link{Href: webkit.RelRoot(r.URL.Path) + "templates", Text: "Back to the email templates"},
			"There is no email called "+strconv.Quote(name)+". Choose one from the list.")
		return nil, 0, false
	}
	return &list[i], version, true
}

// showTemplate renders the editor; form nil shows the template in force.
func (a *Admin) showTemplate(w http.ResponseWriter, r *http.Request, st *storage.Staff, status int, t *guest.EmailTemplate, version int64, form *webkit.Form, p *templatePage) {
	if form == nil {
		form = templateForm()
		form.Field("subject").Value = t.Source.Subject
		form.Field("text").Value = t.Source.Text
		form.Field("html").Value = t.Source.HTML
	}
	p.T, p.Version = *t, version
	p.F = map[string]*webkit.Field{}
	for _, f := range form.Fields {
		p.F[f.Name] = f
	}
	if p.Send == nil {
		p.Send = sendForm()
		p.Send.Field("to").Hint = "Any address. The saved template goes out with sample data, through the same queue as guests' email."
	}
	v := a.view(r, t.Title, st, "templates", form, p)
	if p.Send.Errors() != nil {
		v.Form = p.Send
	}
	v.Notice = a.takeFlash(w, r, st, "template:"+t.Name)
	a.page(w, r, status, "template", v)
}

func (a *Admin) getTemplate(w http.ResponseWriter, r *http.Request, st *storage.Staff) {
	t, version, ok := a.loadTemplate(w, r, st)
	if !ok {
		return
	}
	a.showTemplate(w, r, st, http.StatusOK, t, version, nil, &templatePage{})
}

// readTemplate reads the editor's form: the form and the source it holds.
// Parts are kept as typed (templates care about spaces), without "\r".
func readTemplate(r *http.Request) (*webkit.Form, notify.Source) {
	form := templateForm()
	for _, f := range form.Fields {
		f.Value = stripCR(r.PostForm.Get(f.Name))
	}
	return form, notify.Source{Subject: form.Value("subject"), Text: form.Value("text"), HTML: form.Value("html")}
}

func stripCR(s string) string {
	b := []byte(s)
	out := b[:0]
	for _, c := range b {
		if c != '\r' {
			out = append(out, c)
		}
	}
	return string(out)
}

// failTemplate shows a template error on its part; false when err is no
// such error.
func failTemplate(form *webkit.Form, err error) bool {
	fields := guest.FieldErrors(err)
	for _, fe := range fields {
		name := fe.Field
		if form.Field(name) == nil {
			name = "subject"
		}
		form.Fail(name, fe.Message)
	}
	return len(fields) > 0
}

func (a *Admin) postTemplatePreview(w http.ResponseWriter, r *http.Request, st *storage.Staff) {
	t, version, ok := a.loadTemplate(w, r, st)
	if !ok {
		return
	}
	form, src := readTemplate(r)
	p := &templatePage{}
	subject, text, html, err := a.cfg.Guests.PreviewEmailTemplate(r.Context(), t.Name, src)
	switch {
	case err == nil:
		p.Preview = &previewView{Subject: subject, Text: text, HTML: html}
	case failTemplate(form, err):
		a.showTemplate(w, r, st, http.StatusUnprocessableEntity, t, version, form, p)
		return
	default:
		a.fail(w, r, st, "preview email template", err)
		return
	}
	a.showTemplate(w, r, st, http.StatusOK, t, formVersion(r, version), form, p)
}

// formVersion is the version the form was read at (def when missing).
func formVersion(r *http.Request, def int64) int64 {
	if v, err := strconv.ParseInt(r.PostForm.Get("version"), 10, 64); err == nil {
		return v
	}
	return def
}

func (a *Admin) postTemplateSave(w http.ResponseWriter, r *http.Request, st *storage.Staff) {
	t, version, ok := a.loadTemplate(w, r, st)
	if !ok {
		return
	}
	form, src := readTemplate(r)
	_, err := a.cfg.Guests.SaveEmailTemplate(r.Context(), guest.Actor{Staff: st}, t.Name, src, formVersion(r, -1))
	a.templateChanged(w, r, st, t, version, form, err, "Saved. The next "+t.Title+" email uses this template.")
}

func (a *Admin) postTemplateRestore(w http.ResponseWriter, r *http.Request, st *storage.Staff) {
	t, version, ok := a.loadTemplate(w, r, st)
	if !ok {
		return
	}
	_, err := a.cfg.Guests.RestoreEmailTemplate(r.Context(), guest.Actor{Staff: st}, t.Name, formVersion(r, -1))
	a.templateChanged(w, r, st, t, version, nil, err, "Restored the default. The next "+t.Title+" email uses it.")
}

// templateChanged answers a save or restore.
func (a *Admin) templateChanged(w http.ResponseWriter, r *http.Request, st *storage.Staff, t *guest.EmailTemplate, version int64, form *webkit.Form, err error, done string) {
	switch {
	case err == nil:
		a.setFlash(w, r, st, "template:"+t.Name, done)
		webkit.SeeOther(w, webkit.RelRoot(r.URL.Path)+"templates/"+t.Name)
	case errors.Is(err, guest.ErrConflict):
		a.showTemplate(w, r, st, http.StatusConflict, t, version, form, &templatePage{Conflict: true})
	case errors.Is(err, guest.ErrForbidden):
		a.message(w, r, http.StatusForbidden, st, "Not allowed", &webkit.Link{Href: webkit.RelRoot(r.URL.Path) + "templates/" + t.Name, Text: "Back to the template"}, err.Error())
	case form != nil && failTemplate(form, err):
		a.showTemplate(w, r, st, http.StatusUnprocessableEntity, t, formVersion(r, version), form, &templatePage{})
	default:
		a.fail(w, r, st, "save email template", err)
	}
}

// postTemplateSend sends the saved template of a kind, with sample data, to
// an address, and shows its Future's result.
func (a *Admin) postTemplateSend(w http.ResponseWriter, r *http.Request, st *storage.Staff) {
	t, version, ok := a.loadTemplate(w, r, st)
	if !ok {
		return
	}
	ctx := r.Context()
	p := &templatePage{Send: sendForm()}
	p.Send.Load(r.PostForm)
	to := p.Send.Value("to")
	addr, perr := mail.ParseAddress(to)
	switch {
	case to == "":
		p.Send.Fail("to", "Enter the address to send the test email to.")
	case perr != nil || addr.Name != "":
		p.Send.Fail("to", "Enter one email address, such as name@example.com.")
	}
	if !p.Send.Valid() {
		a.showTemplate(w, r, st, http.StatusUnprocessableEntity, t, version, nil, p)
		return
	}
	if ok, wait := a.limitTests.Allow("staff:" + st.ID.String()); !ok {
		webkit.TooMany(w, r, wait)
		return
	}
	render, err := a.cfg.Guests.Renderer(ctx)
	if err != nil {
		a.fail(w, r, st, "load email templates", err)
		return
	}
	data := notify.SampleData(t.Name)
	if ps, err := a.cfg.Guests.PortalSettings(ctx); err == nil {
		data["SiteName"] = ps.SiteName
	}
	subject, text, html, err := render.Render(t.Name, data)
	if err != nil {
		a.fail(w, r, st, "render email template", err)
		return
	}
	res, out := a.sendAndWait(r, st, "template", notify.Message{Kind: "admin.test_template", To: []string{addr.Address},
		Subject: "[Test] " + subject, Text: text, HTML: html})
	code := ""
	if out.Diagnosis != nil {
		code = out.Diagnosis.Code
	}
	a.audit(r, st, "templates.test_email", addr.Address, t.Name+": "+string(out.Status)+" "+code+" after "+ms(out.Took))
	p.SendResult = res
	p.Send.Field("to").Value = addr.Address
	a.showTemplate(w, r, st, http.StatusOK, t, version, nil, p)
}
