package notify

import (
	"errors"
	"fmt"
	htmltemplate "html/template"
	"io/fs"
	"path"
	"slices"
	"strings"
	texttemplate "text/template"
	"time"

	"github.com/lobbyhq/lobby/web"
)

// The notification templates every template set must have. Each is three
// files: NAME.subject.tmpl and NAME.txt.tmpl (text/template) and
// NAME.html.tmpl (html/template). The data each gets:
//
//	guest_credentials: GuestName, Username, Password, ValidUntil (time.Time), PortalURL, SiteName
//	guest_pending:     GuestName, SiteName
//	guest_denied:      GuestName, SiteName
//	approval_request:  GuestName, GuestEmail, Company, Reason, ApproveURL, DenyURL, ExpiresAt, SiteName
//	guest_expiry:      GuestName, ValidUntil, SiteName
//	guest_reset:       GuestName, Username, Password, ValidUntil, PortalURL, SiteName
//	guest_extended:    GuestName, ValidUntil, SiteName
//	test_email:        SiteName, SentAt
//	alarm:             SiteName, Severity, Title, Detail, RaisedAt, AlarmsURL (to the admins)
//
// Data is a struct or a map[string]any; every listed field must be present
// (Company and Reason may be empty). Times are time.Time.
const (
	TemplateGuestCredentials = "guest_credentials"
	TemplateGuestPending     = "guest_pending"
	TemplateGuestDenied      = "guest_denied"
	TemplateApprovalRequest  = "approval_request"
	TemplateGuestExpiry      = "guest_expiry"
	TemplateGuestReset       = "guest_reset"    // a new password a sponsor set
	TemplateGuestExtended    = "guest_extended" // a sponsor extended the guest's access
	TemplateTestEmail        = "test_email"
	TemplateAlarm            = "alarm" // an alarm, to the admin recipients
)

// TemplateNames lists the notification templates, in a stable order.
func TemplateNames() []string {
	return []string{TemplateGuestCredentials, TemplateGuestPending, TemplateGuestDenied,
		TemplateApprovalRequest, TemplateGuestExpiry, TemplateGuestReset, TemplateGuestExtended, TemplateTestEmail, TemplateAlarm}
}

// Template file suffixes.
const (
	suffixSubject = ".subject.tmpl"
	suffixText    = ".txt.tmpl"
	suffixHTML    = ".html.tmpl"
)

// Renderer renders the notification templates. They are parsed once, by
// [NewRenderer]; Render is safe for concurrent use.
type Renderer struct {
	sets map[string]*templateSet
}

type templateSet struct {
	subject *texttemplate.Template
	text    *texttemplate.Template
	html    *htmltemplate.Template
}

// NewRenderer parses every template in fsys (nil: the embedded
// [web.Emails]) and checks that each notification has its three files. An
// operator's directory of overrides must hold the whole set.
func NewRenderer(fsys fs.FS) (*Renderer, error) {
	if fsys == nil {
		fsys = web.Emails()
	}
	files, err := fs.Glob(fsys, "*.tmpl")
	if err != nil {
		return nil, fmt.Errorf("notify: templates: %w", err)
	}
	parts := map[string]map[string]string{} // name → suffix → source
	for _, f := range files {
		var name, suffix string
		for _, sfx := range []string{suffixSubject, suffixText, suffixHTML} {
			if n, ok := strings.CutSuffix(f, sfx); ok {
				name, suffix = n, sfx
				break
			}
		}
		if name == "" || strings.Contains(name, ".") {
			return nil, fmt.Errorf("notify: templates: %q is not named NAME.subject.tmpl, NAME.txt.tmpl or NAME.html.tmpl", f)
		}
		src, err := fs.ReadFile(fsys, f)
		if err != nil {
			return nil, fmt.Errorf("notify: templates: %w", err)
		}
		if parts[name] == nil {
			parts[name] = map[string]string{}
		}
		parts[name][suffix] = string(src)
	}

	var errs []error
	for _, name := range TemplateNames() {
		if parts[name] == nil {
			errs = append(errs, fmt.Errorf("notify: templates: %s is missing (%s%s, %s%s, %s%s)",
				name, name, suffixSubject, name, suffixText, name, suffixHTML))
		}
	}
	r := &Renderer{sets: map[string]*templateSet{}}
	for name, p := range parts {
		set, err := parseSet(name, p)
		if err != nil {
			errs = append(errs, err)
			continue
		}
		r.sets[name] = set
	}
	if len(errs) > 0 {
		return nil, errors.Join(errs...)
	}
	return r, nil
}

func parseSet(name string, p map[string]string) (*templateSet, error) {
	for _, sfx := range []string{suffixSubject, suffixText, suffixHTML} {
		if _, ok := p[sfx]; !ok {
			return nil, fmt.Errorf("notify: templates: %s has no %s%s", name, name, sfx)
		}
	}
	funcs := map[string]any{"datetime": formatTime}
	var (
		set templateSet
		err error
	)
	if set.subject, err = texttemplate.New(name + suffixSubject).Funcs(funcs).Option("missingkey=error").Parse(p[suffixSubject]); err != nil {
		return nil, fmt.Errorf("notify: templates: %w", err)
	}
	if set.text, err = texttemplate.New(name + suffixText).Funcs(funcs).Option("missingkey=error").Parse(p[suffixText]); err != nil {
		return nil, fmt.Errorf("notify: templates: %w", err)
	}
	if set.html, err = htmltemplate.New(name + suffixHTML).Funcs(funcs).Option("missingkey=error").Parse(p[suffixHTML]); err != nil {
		return nil, fmt.Errorf("notify: templates: %w", err)
	}
	return &set, nil
}

// Names lists the templates the renderer has, sorted.
func (r *Renderer) Names() []string {
	names := make([]string, 0, len(r.sets))
	for n := range r.sets {
		names = append(names, n)
	}
	slices.Sort(names)
	return names
}

// Render renders the subject (one line: line breaks become spaces, so no
// value can add a header), the plain-text body and the HTML body of the
// notification name with data.
func (r *Renderer) Render(name string, data any) (subject, text, html string, err error) {
	set := r.sets[name]
	if set == nil {
		return "", "", "", fmt.Errorf("notify: render: no template %q", name)
	}
	var b strings.Builder
	exec := func(part string, run func() error) (string, error) {
		b.Reset()
		if err := run(); err != nil {
			return "", fmt.Errorf("notify: render %s: %w", path.Join(name, part), err)
		}
		return b.String(), nil
	}
	if m, ok := data.(map[string]any); ok {
		for k, v := range m {
			if v == nil {
				// text/template would print "<no value>" into the email.
				return "", "", "", fmt.Errorf("notify: render %s: field %s is nil; give it a value (an empty string for none)", name, k)
			}
		}
	}
	if subject, err = exec("subject", func() error { return set.subject.Execute(&b, data) }); err != nil {
		return "", "", "", err
	}
	subject = singleLine(subject)
	if subject == "" {
		return "", "", "", fmt.Errorf("notify: render %s: the subject is empty", name)
	}
	if text, err = exec("text", func() error { return set.text.Execute(&b, data) }); err != nil {
		return "", "", "", err
	}
	if html, err = exec("html", func() error { return set.html.Execute(&b, data) }); err != nil {
		return "", "", "", err
	}
	return subject, text, html, nil
}

// formatTime is the templates' datetime function: a time as
// "Monday 2 January 2006, 15:04 MST" in its own location; strings pass
// through; a zero time is empty.
func formatTime(v any) string {
	switch t := v.(type) {
	case time.Time:
		if t.IsZero() {
			return ""
		}
		return t.Format("Monday 2 January 2006, 15:04 MST")
	case *time.Time:
		if t == nil {
			return ""
		}
		return formatTime(*t)
	case string:
		return t
	case nil:
		return ""
	}
	return fmt.Sprint(v)
}
