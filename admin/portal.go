package admin

import (
	"errors"
	"fmt"
	"io"
	"net/http"
	"strconv"
	"strings"

	"github.com/lobbyhq/lobby/guest"
	"github.com/lobbyhq/lobby/internal/webkit"
	"github.com/lobbyhq/lobby/storage"
)

// The portal page: the guest portal's settings an admin changes at run
// time (guest.PortalSettings). The rules are the guest package's; this
// page parses the form, calls SavePortalSettings and shows its answer. A
// save applies to the guest portal at once.

// fieldRules are the optional registration fields: form name prefix and
// label.
var fieldRules = []struct{ Key, Label string }{
	{"phone", "Phone"}, {"company", "Company"}, {"person_visited", "Person visited"}, {"reason", "Reason for the visit"},
}

func portalForm() *webkit.Form {
	f := webkit.NewForm(
		&webkit.Field{Name: "site_name", Label: "Site name", Type: "text", Required: true, MaxLen: guest.MaxSiteName,
			Hint: "Shown to guests on every page and in their emails, such as your organisation's name."},
		&webkit.Field{Name: "accent", Label: "Accent colour", Type: "text", MaxLen: 7,
			Hint: "The colour of buttons and links, as # and six hexadecimal digits such as #0b5cad. Leave blank for the standard blue."},
		&webkit.Field{Name: "terms", Label: "Acceptable-use terms", Type: "textarea", Required: true, MaxLen: guest.MaxTerms,
			Hint: "What guests accept before they connect. Separate paragraphs with a blank line."},
		&webkit.Field{Name: "allow_domains", Label: "Allowed email domains", Type: "textarea",
			Hint: "One domain per line, such as example.com. When the list has any, only guests with an address in them may register."},
		&webkit.Field{Name: "block_domains", Label: "Blocked email domains", Type: "textarea",
			Hint: "One domain per line. Guests with an address in these may not register."},
		&webkit.Field{Name: "require_approval", Label: "Registrations need approval", Type: "checkbox",
			Hint: "A self-registered guest gets access only after an approver (or the person visited) approves."},
		&webkit.Field{Name: "approvers", Label: "Approvers", Type: "textarea",
			Hint: "One email address per line; they get the approval requests. Leave blank for the person visited to approve."},
		&webkit.Field{Name: "registration_code", Label: "Registration code", Type: "password", MaxLen: guest.MaxCode, Autocomplete: "off",
			Hint: "A code guests must type to register, such as one on a sign at the reception."},
		&webkit.Field{Name: "remove_code", Label: "No registration code", Type: "checkbox",
			Hint: "Tick to let guests register without a code."},
		&webkit.Field{Name: "logo", Label: "Logo", Type: "file",
			Hint: "A PNG, JPEG, GIF or WebP image of at most " + strconv.Itoa(guest.MaxLogoBytes>>10) + " KB, shown beside the site name. Choose none to keep the current one."},
		&webkit.Field{Name: "remove_logo", Label: "Remove the logo", Type: "checkbox"},
		&webkit.Field{Name: "send_guest_email", Label: "Send email to guests", Type: "checkbox",
			Hint: "Credentials, the approval outcome, new passwords, extensions and expiry notices go to guests by email. " +
				"Untick to send guests no email: the registration page then shows the credentials, and sponsors hand them over. " +
				"Email to approvers and administrators still goes."},
		&webkit.Field{Name: "mail_from_name", Label: "Sender name", Type: "text", MaxLen: guest.MaxMailFromName,
			Hint: "The name guests see as the sender of their emails, such as Contoso Reception. Leave blank for the site name. The address stays the sender mailbox of the SMTP settings."},
		&webkit.Field{Name: "sponsor_reply_to", Label: "Replies go to the sponsor", Type: "checkbox",
			Hint: "The emails a sponsor's action sends (credentials, resend, new password, extension) have the sponsor's address as Reply-To. Untick for no Reply-To."},
	)
	for _, fr := range fieldRules {
		f.Fields = append(f.Fields,
			&webkit.Field{Name: fr.Key + "_show", Label: "Show " + strings.ToLower(fr.Label), Type: "checkbox"},
			&webkit.Field{Name: fr.Key + "_required", Label: fr.Label + " is required", Type: "checkbox"})
	}
	return f
}

// portalPage is the portal page's own data.
type portalPage struct {
	F         map[string]*webkit.Field
	Rules     []ruleFields
	Version   int64
	Updated   string // "version 3, by staff:ada on …"; "" when never saved
	HasCode   bool
	HasLogo   bool
	GuestPage string // the guest portal's registration page
	Conflict  bool   // someone saved meanwhile
	// GuestEmailOff: the saved settings send guests no email, so a
	// self-registered address is never checked by mail.
	GuestEmailOff bool
}

// ruleFields are the two checkboxes of an optional registration field.
type ruleFields struct {
	Label          string
	Show, Required *webkit.Field
}

func checked(b bool) string {
	if b {
		return "yes"
	}
	return ""
}

// fillPortal shows ps in form.
func fillPortal(form *webkit.Form, ps guest.PortalSettings) {
	form.Field("site_name").Value = ps.SiteName
	form.Field("accent").Value = ps.Accent
	form.Field("terms").Value = ps.Terms
	form.Field("allow_domains").Value = strings.Join(ps.AllowDomains, "\n")
	form.Field("block_domains").Value = strings.Join(ps.BlockDomains, "\n")
	form.Field("require_approval").Value = checked(ps.RequireApproval)
	form.Field("approvers").Value = strings.Join(ps.Approvers, "\n")
	form.Field("mail_from_name").Value = ps.MailFromName
	form.Field("sponsor_reply_to").Value = checked(ps.SponsorReplyTo)
	form.Field("send_guest_email").Value = checked(ps.SendGuestEmail)
	for _, fr := range fieldRules {
		rule := fieldRule(&ps.Fields, fr.Key)
		form.Field(fr.Key + "_show").Value = checked(rule.Show)
		form.Field(fr.Key + "_required").Value = checked(rule.Required)
	}
}

func fieldRule(f *guest.Fields, key string) *guest.FieldRule {
	switch key {
	case "phone":
		return &f.Phone
	case "company":
		return &f.Company
	case "person_visited":
		return &f.PersonVisited
	}
	return &f.Reason
}

// lines splits a textarea into its non-blank lines.
func lines(s string) []string {
	var out []string
	for _, l := range strings.FieldsFunc(s, func(r rune) bool { return r == '\n' || r == '\r' || r == ',' }) {
		if l = strings.TrimSpace(l); l != "" {
			out = append(out, l)
		}
	}
	return out
}

// readPortal lays the form and the uploaded logo (nil: none chosen) over
// cur: the settings to save.
func readPortal(form *webkit.Form, cur guest.PortalSettings, logo []byte) guest.PortalSettings {
	ps := cur
	ps.SiteName = form.Value("site_name")
	ps.Accent = form.Value("accent")
	ps.Terms = form.Field("terms").Value
	ps.AllowDomains = lines(form.Value("allow_domains"))
	ps.BlockDomains = lines(form.Value("block_domains"))
	ps.RequireApproval = form.Field("require_approval").Checked()
	ps.Approvers = lines(form.Value("approvers"))
	if code := form.Field("registration_code").Value; code != "" {
		ps.RegistrationCode = code
	}
	if form.Field("remove_code").Checked() {
		ps.RegistrationCode = ""
	}
	if form.Field("remove_logo").Checked() {
		ps.Logo, ps.LogoType = nil, ""
	}
	if logo != nil {
		ps.Logo, ps.LogoType = logo, "" // the rules check the bytes and set the type
	}
	ps.MailFromName = form.Value("mail_from_name")
	ps.SponsorReplyTo = form.Field("sponsor_reply_to").Checked()
	ps.SendGuestEmail = form.Field("send_guest_email").Checked()
	for _, fr := range fieldRules {
		rule := fieldRule(&ps.Fields, fr.Key)
		rule.Required = form.Field(fr.Key + "_required").Checked()
		rule.Show = form.Field(fr.Key+"_show").Checked() || rule.Required
	}
	return ps
}

func (a *Admin) portalView(w http.ResponseWriter, r *http.Request, st *storage.Staff, status int, form *webkit.Form, ps guest.PortalSettings, version int64, conflict bool) {
	p := &portalPage{F: map[string]*webkit.Field{}, Version: version, HasCode: ps.RegistrationCode != "", HasLogo: len(ps.Logo) > 0,
		GuestPage: a.cfg.Guests.Link("register"), Conflict: conflict,
		GuestEmailOff: !ps.SendGuestEmail}
	for _, f := range form.Fields {
		p.F[f.Name] = f
	}
	for _, fr := range fieldRules {
		p.Rules = append(p.Rules, ruleFields{Label: fr.Label, Show: p.F[fr.Key+"_show"], Required: p.F[fr.Key+"_required"]})
	}
	if ps.Version > 0 {
		p.Updated = "version " + strconv.FormatInt(ps.Version, 10) + ", by " + ps.UpdatedBy + " on " + a.formatTime(ps.UpdatedAt)
	}
	// The code is a secret: never sent back ("leave blank to keep").
	form.Field("registration_code").Value = ""
	if p.HasCode {
		form.Field("registration_code").Hint = "A code is set. Leave blank to keep it, or type a new one."
	}
	v := a.view(r, "Guest portal", st, "portal", form, p)
	v.Notice = a.takeFlash(w, r, st, "portal")
	a.page(w, r, status, "portal", v)
}

func (a *Admin) getPortal(w http.ResponseWriter, r *http.Request, st *storage.Staff) {
	ps, err := a.cfg.Guests.PortalSettings(r.Context())
	if err != nil {
		a.fail(w, r, st, "load portal settings", err)
		return
	}
	form := portalForm()
	fillPortal(form, ps)
	a.portalView(w, r, st, http.StatusOK, form, ps, ps.Version, false)
}

var errEmptyLogo = errors.New("admin: the uploaded logo file is empty")

// uploadedLogo is the logo file sent with r, nil when none was chosen.
// Its size is bounded by the request's body limit; the guest rules check
// it against guest.MaxLogoBytes and its type.
func uploadedLogo(r *http.Request) ([]byte, error) {
	if r.MultipartForm == nil || len(r.MultipartForm.File["logo"]) == 0 {
		return nil, nil
	}
	fh := r.MultipartForm.File["logo"][0]
	if fh.Filename == "" && fh.Size == 0 {
		return nil, nil // a browser sends an empty part when no file is chosen
	}
	f, err := fh.Open()
	if err != nil {
		return nil, fmt.Errorf("admin: read the uploaded logo: %w", err)
	}
	defer f.Close()
	b, err := io.ReadAll(f)
	if err != nil {
		return nil, fmt.Errorf("admin: read the uploaded logo: %w", err)
	}
	if len(b) == 0 {
		return nil, errEmptyLogo // not "no logo": that would remove the current one
	}
	return b, nil
}

func (a *Admin) postPortal(w http.ResponseWriter, r *http.Request, st *storage.Staff) {
	ctx := r.Context()
	cur, err := a.cfg.Guests.PortalSettings(ctx)
	if err != nil {
		a.fail(w, r, st, "load portal settings", err)
		return
	}
	form := portalForm()
	form.Load(r.PostForm)
	version, verr := strconv.ParseInt(r.PostForm.Get("version"), 10, 64)
	if verr != nil {
		version = -1 // never a stored version: a conflict
	}
	logo, err := uploadedLogo(r)
	if errors.Is(err, errEmptyLogo) {
		form.Fail("logo", "The file is empty. Choose the logo image again.")
		a.portalView(w, r, st, http.StatusUnprocessableEntity, form, cur, version, false)
		return
	}
	if err != nil {
		form.Fail("logo", "The file could not be read. Choose it again.")
		a.portalView(w, r, st, http.StatusBadRequest, form, cur, version, false)
		return
	}
	_, err = a.cfg.Guests.SavePortalSettings(ctx, guest.Actor{Staff: st}, readPortal(form, cur, logo), version)
	switch {
	case err == nil:
		a.setFlash(w, r, st, "portal", "Saved. The guest portal shows the new settings now.")
		webkit.SeeOther(w, "portal")
	case errors.Is(err, guest.ErrConflict):
		// Show what is stored now; the admin's changes are lost with a
		// reload, so they stay in the form to copy, with the new version
		// only after a reload.
		a.portalView(w, r, st, http.StatusConflict, form, cur, version, true)
	case errors.Is(err, guest.ErrForbidden):
		a.message(w, r, http.StatusForbidden, st, "Not allowed", &webkit.Link{Href: "portal", Text: "Back to the portal settings"}, err.Error())
	default:
		fields := guest.FieldErrors(err)
		if len(fields) == 0 {
			a.fail(w, r, st, "save portal settings", err)
			return
		}
		for _, fe := range fields {
			name := fe.Field
			if name == "logo" && logo == nil {
				name = "remove_logo" // the stored logo is the only one
			}
			if form.Field(name) == nil {
				name = "site_name"
			}
			form.Fail(name, fe.Message)
		}
		a.portalView(w, r, st, http.StatusUnprocessableEntity, form, cur, version, false)
	}
}
