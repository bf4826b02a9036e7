package portal

import (
	"context"
	"crypto/hmac"
	"crypto/sha256"
	"crypto/subtle"
	"errors"
	"fmt"
	"net/http"
	"strings"
	"time"

	"github.com/google/uuid"

	"github.com/lobbyhq/lobby/guest"
	"github.com/lobbyhq/lobby/internal/i18n"
	"github.com/lobbyhq/lobby/internal/webkit"
	"github.com/lobbyhq/lobby/storage"
)

// Registration form field names.
const (
	fFirst   = "first_name"
	fLast    = "last_name"
	fEmail   = "email"
	fPhone   = "phone"
	fCompany = "company"
	fVisited = "person_visited"
	fReason  = "reason"
	fCode    = "code"
	fTerms   = "terms"
)

// registerData is the register page's own data.
type registerData struct {
	Nonce           string
	Terms           []string
	Duration        string
	RequireApproval bool
	Return          string // a local path to go to after signing in, carried through the success page
	LoginURL        string // the sign-in page, carrying Return
}

// registerForm returns the registration fields the settings in force show,
// in English.
func (p *Portal) registerForm(approval bool) *webkit.Form {
	return p.registerFormFor(p.settings(context.Background()), approval, p.words.Localizer(i18n.English))
}

// registerFormFor returns the registration fields pol shows, in loc's
// language.
func (p *Portal) registerFormFor(pol guest.PortalSettings, approval bool, loc *i18n.Localizer) *webkit.Form {
	f := webkit.NewForm(
		&webkit.Field{Name: fFirst, Label: loc.T("portal.field.first_name"), Type: "text", Autocomplete: "given-name", Required: true, MaxLen: maxName},
		&webkit.Field{Name: fLast, Label: loc.T("portal.field.last_name"), Type: "text", Autocomplete: "family-name", Required: true, MaxLen: maxName},
		&webkit.Field{Name: fEmail, Label: loc.T("portal.field.email"), Hint: loc.T("portal.field.email_hint"), Type: "email", Autocomplete: "email", Required: true, MaxLen: maxEmail},
	)
	add := func(rule FieldRule, fl *webkit.Field) {
		if rule.Show {
			fl.Required = rule.Required
			f.Fields = append(f.Fields, fl)
		}
	}
	add(pol.Fields.Phone, &webkit.Field{Name: fPhone, Label: loc.T("portal.field.phone"), Type: "tel", Autocomplete: "tel", MaxLen: maxPhone})
	add(pol.Fields.Company, &webkit.Field{Name: fCompany, Label: loc.T("portal.field.company"), Type: "text", Autocomplete: "organization", MaxLen: maxOther})
	visited := &webkit.Field{Name: fVisited, Label: loc.T("portal.field.visited"), Type: "text", MaxLen: maxOther}
	rule := pol.Fields.PersonVisited
	if p.approverIsVisited(approval) {
		rule = FieldRule{Show: true, Required: true}
		visited.Hint = loc.T("portal.field.visited_approver_hint")
		visited.Type = "email"
		visited.MaxLen = maxEmail
	}
	add(rule, visited)
	add(pol.Fields.Reason, &webkit.Field{Name: fReason, Label: loc.T("portal.field.reason"), Type: "text", MaxLen: maxReason})
	if pol.RegistrationCode != "" {
		f.Fields = append(f.Fields, &webkit.Field{Name: fCode, Label: loc.T("portal.field.code"), Hint: loc.T("portal.field.code_hint"), Type: "text", Autocomplete: "off", Required: true, MaxLen: maxCode})
	}
	f.Fields = append(f.Fields, &webkit.Field{Name: fTerms, Label: loc.T("portal.field.terms"), Type: "checkbox", Required: true})
	return f
}

// approverIsVisited reports whether the person visited approves: approval
// is needed and no approvers are configured.
func (p *Portal) approverIsVisited(approval bool) bool {
	return p.guests.ApproverIsVisited(approval)
}

// guestType returns the default guest type and whether registering with it
// needs approval.
func (p *Portal) guestType(ctx context.Context) (*storage.GuestType, bool, error) {
	gt, err := p.defaultGuestType(ctx)
	if err != nil {
		return nil, false, fmt.Errorf("guest type %q: %w", p.cfg.Policy.DefaultGuestType, err)
	}
	return gt, p.guests.RequiresApproval(gt), nil
}

func (p *Portal) registerPage(w http.ResponseWriter, r *http.Request, status int, form *webkit.Form, nonce string, gt *storage.GuestType, approval bool, notice ...string) {
	loc := p.loc(r)
	ps := p.settings(r.Context())
	terms := p.termParagraphs(ps)
	if ps.Terms == guest.DefaultTerms {
		terms = []string{loc.T("portal.register.default_terms")} // the built-in terms, in the page's language
	}
	data := registerData{Nonce: nonce, Terms: terms, Duration: loc.Duration(validity(gt)), RequireApproval: approval, Return: formReturn(r)}
	data.LoginURL = withReturn("login", data.Return)
	v := p.view(r, loc.T("portal.register.title"), form, data)
	v.Notice = strings.Join(notice, " ")
	p.page(w, r, status, "register", v)
}

func (p *Portal) getRegister(w http.ResponseWriter, r *http.Request) {
	gt, approval, err := p.guestType(r.Context())
	if err != nil {
		p.fail(w, r, "register page", err)
		return
	}
	p.registerPage(w, r, http.StatusOK, p.registerFormFor(p.settings(r.Context()), approval, p.loc(r)), p.newNonce(), gt, approval)
}

// registration is a validated registration form.
type registration = guest.Registration

func (p *Portal) postRegister(w http.ResponseWriter, r *http.Request) {
	ctx := r.Context()
	gt, approval, err := p.guestType(ctx)
	if err != nil {
		p.fail(w, r, "register", err)
		return
	}
	ps := p.settings(ctx)
	loc := p.loc(r)
	form := p.registerFormFor(ps, approval, loc)
	form.Load(r.PostForm)
	nonce := r.PostForm.Get("nonce")
	if !p.validNonce(nonce) {
		// A form shown over two hours ago, or one this server did not
		// issue: show it again, with a fresh nonce, and register nothing.
		p.registerPage(w, r, http.StatusUnprocessableEntity, form, p.newNonce(), gt, approval,
			loc.T("portal.register.out_of_date"))
		return
	}
	reg, err := p.validate(ctx, loc, form, ps, approval)
	if err != nil {
		p.fail(w, r, "register: validate", err)
		return
	}
	if !form.Valid() {
		p.registerPage(w, r, http.StatusUnprocessableEntity, form, nonce, gt, approval)
		return
	}
	id := p.guestIDFor(nonce, reg.Email)

	// The address may have a registration already. A second POST of the
	// same form (double click, reload) finds the guest the first one made,
	// whose ID comes from the nonce and the address: send it to the same
	// success page. The same form sent with another address is another
	// registration, answered as any other: a form left in a browser does
	// not lead someone else to the first guest's page, and the answer does
	// not tell whether the first address was new. A registration that has
	// run its course is renewed (see guest.Service.Register).
	//
	// A new registration spends the address's allowance as a registration
	// for a registered address does (see echo), so that over it both are
	// answered alike, and truly.
	var wait time.Duration
	res, err := p.guests.Register(ctx, guest.SelfRegistration{
		ID: id, Key: registrationKey(nonce, reg.Email), Reg: reg, Type: gt, Approval: approval, Language: loc.Lang(),
		Admit: func() bool {
			ok, w := p.limitRegAddress.Allow(p.addressKey(r, reg.Email))
			wait = w
			return ok
		},
	})
	switch {
	case errors.Is(err, guest.ErrLimited):
		p.tooManyForAddress(w, r, wait)
		return
	case err != nil:
		p.fail(w, r, "register", err)
		return
	}
	switch res.Outcome {
	case guest.OutcomeRepeated:
		p.redirectRegistered(w, r, res.Guest, nonce)
		return
	case guest.OutcomeKnown:
		p.echo(w, r, id, nonce, reg, res.Guest, gt, approval)
		return
	}
	g := res.Guest
	p.setRegisteredCookie(w, r, g.ID)
	webkit.SeeOther(w, p.successURL(r, guestTicket(g, res.GuestMail())))
}

// guestIDFor derives the ID of the guest a registration nonce creates for
// the (normalized) address email, so that one form makes at most one guest
// per address however often it is sent.
func (p *Portal) guestIDFor(nonce, email string) uuid.UUID {
	m := hmac.New(sha256.New, p.nonceKey)
	m.Write([]byte(nonce))
	m.Write([]byte{0})
	m.Write([]byte(email))
	return uuid.NewSHA1(uuid.NameSpaceOID, m.Sum(nil))
}

// validate checks the form, setting a message at every bad field, and
// returns the registration it describes (see guest.Service.CheckApplication
// and Sponsorship); the registration code and the terms are the form's own.
func (p *Portal) validate(ctx context.Context, loc *i18n.Localizer, form *webkit.Form, ps guest.PortalSettings, approval bool) (registration, error) {
	field := func(name string) guest.Field {
		fl := form.Field(name)
		if fl == nil {
			return guest.Field{}
		}
		return guest.Field{Value: fl.Value, Shown: true, Required: fl.Required}
	}
	reg, problems := p.guests.CheckApplication(guest.Application{
		FirstName: form.Value(fFirst), LastName: form.Value(fLast), Email: form.Value(fEmail),
		Phone: field(fPhone), Company: field(fCompany), PersonVisited: field(fVisited), Reason: field(fReason),
	}, approval)
	for _, pr := range problems {
		form.Fail(pr.Field, problemText(loc, pr.Message))
	}
	if fl := form.Field(fCode); fl != nil {
		switch {
		case fl.Value == "":
			form.Fail(fCode, loc.T("portal.field.code_missing"))
		case subtle.ConstantTimeCompare([]byte(fl.Value), []byte(ps.RegistrationCode)) != 1:
			form.Fail(fCode, loc.T("portal.field.code_wrong"))
		}
		fl.Value = "" // never echo a code back
	}
	if !form.Field(fTerms).Checked() {
		form.Fail(fTerms, loc.T("portal.field.terms_missing"))
	}
	if !form.Valid() {
		return reg, nil
	}
	// Who sponsors and who approves. Only when the rest is valid: it reads
	// the staff list.
	problem, err := p.guests.Sponsorship(ctx, &reg, approval)
	if err != nil {
		return reg, err
	}
	if problem != nil {
		form.Fail(problem.Field, problem.Message)
	}
	return reg, nil
}

// registrationKey is the idempotency key of the first email of the
// registration of email with nonce.
func registrationKey(nonce, email string) string { return "portal:register:" + nonce + ":" + email }

// redirectRegistered sends a repeated POST of a registration form to the
// success page of the guest the first one made.
func (p *Portal) redirectRegistered(w http.ResponseWriter, r *http.Request, g *storage.Guest, nonce string) {
	// The first email's ID (or, if the outbox no longer has it, the one
	// the guest's state calls for now).
	mid, err := p.guests.RepeatMail(r.Context(), g, registrationKey(nonce, g.Email))
	if err != nil {
		p.fail(w, r, "register: repeated form", err)
		return
	}
	// A double click or a reload gets the page as the first POST did; the
	// same form sent long after (a kiosk's back button) gets it without the
	// credentials.
	if p.now().Sub(g.CreatedAt) < repeatWindow {
		p.setRegisteredCookie(w, r, g.ID)
	}
	webkit.SeeOther(w, p.successURL(r, guestTicket(g, mid)))
}

// repeatWindow is how soon after registering a repeated POST of the form
// still counts as the same visit (a double click, a reload).
const repeatWindow = 2 * time.Minute

// validity is how long a new guest of gt may stay (see guest.Validity).
func validity(gt *storage.GuestType) time.Duration { return guest.Validity(gt) }

// humanDuration says d in words (see guest.HumanDuration).
func humanDuration(d time.Duration) string { return guest.HumanDuration(d) }
