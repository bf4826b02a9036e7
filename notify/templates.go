package notify

import (
	"encoding/json"
	"errors"
	"fmt"
	htmltemplate "html/template"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/lobbyhq/lobby/storage"
)

// TemplatesSettingsKey is the storage setting key of the email templates an
// admin saved: a JSON object of notification name to [Source], laid over
// the operator's directory and the embedded templates.
const TemplatesSettingsKey = "templates"

// DecodeOverrides reads the overrides in a stored templates setting.
func DecodeOverrides(row *storage.Setting) (map[string]Source, error) {
	out := map[string]Source{}
	if len(row.Value) == 0 {
		return out, nil
	}
	if err := json.Unmarshal(row.Value, &out); err != nil {
		return nil, fmt.Errorf("notify: the stored email templates (version %d) are not valid: %w", row.Version, err)
	}
	for name, src := range out {
		if src.IsZero() {
			delete(out, name)
		}
	}
	return out, nil
}

// Placeholder is a field of the data a notification's templates get.
type Placeholder struct {
	Name string // as written in a template: {{.Name}}
	Help string
}

var placeholderHelp = map[string]string{
	"GuestName":  "the guest's first and last name",
	"Username":   "the guest's username",
	"Password":   "the guest's password",
	"ValidUntil": "when the guest's access ends (a time: {{datetime .ValidUntil}})",
	"PortalURL":  "the guest portal's sign-in page",
	"SiteName":   "the site name of the portal settings",
	"GuestEmail": "the guest's email address",
	"Company":    "the guest's company (may be empty)",
	"Reason":     "the reason for the visit (may be empty)",
	"ApproveURL": "the link that approves the guest",
	"DenyURL":    "the link that denies the guest",
	"ExpiresAt":  "when the approve and deny links stop working (a time: {{datetime .ExpiresAt}})",
	"SentAt":     "when the test email was sent (a time: {{datetime .SentAt}})",
	"Severity":   "the alarm's severity: info, warning or critical",
	"Title":      "what the alarm is about, in one line",
	"Detail":     "what happened and what to do",
	"RaisedAt":   "when the alarm was raised (a time: {{datetime .RaisedAt}})",
	"AlarmsURL":  "the admin pages' list of alarms",
}

var placeholderNames = map[string][]string{
	TemplateGuestCredentials: {"GuestName", "Username", "Password", "ValidUntil", "PortalURL", "SiteName"},
	TemplateGuestPending:     {"GuestName", "SiteName"},
	TemplateGuestDenied:      {"GuestName", "SiteName"},
	TemplateApprovalRequest:  {"GuestName", "GuestEmail", "Company", "Reason", "ApproveURL", "DenyURL", "ExpiresAt", "SiteName"},
	TemplateGuestExpiry:      {"GuestName", "ValidUntil", "SiteName"},
	TemplateGuestReset:       {"GuestName", "Username", "Password", "ValidUntil", "PortalURL", "SiteName"},
	TemplateGuestExtended:    {"GuestName", "ValidUntil", "SiteName"},
	TemplateTestEmail:        {"SiteName", "SentAt"},
	TemplateAlarm:            {"SiteName", "Severity", "Title", "Detail", "RaisedAt", "AlarmsURL"},
}

// TemplateTitles names each notification for people.
var templateTitles = map[string]string{
	TemplateGuestCredentials: "Guest credentials",
	TemplateGuestPending:     "Registration pending approval",
	TemplateGuestDenied:      "Registration denied",
	TemplateApprovalRequest:  "Approval request (to the approver)",
	TemplateGuestExpiry:      "Expiry notice",
	TemplateGuestReset:       "New password",
	TemplateGuestExtended:    "Access extended",
	TemplateTestEmail:        "Test email",
	TemplateAlarm:            "Alarm (to the admins)",
}

// TemplateTitle names notification name for people ("Expiry notice"); ""
// for an unknown name.
func TemplateTitle(name string) string { return templateTitles[name] }

// Placeholders lists the data fields notification name's templates get, in
// the order a template would usually use them; nil for an unknown name.
func Placeholders(name string) []Placeholder {
	var out []Placeholder
	for _, f := range placeholderNames[name] {
		out = append(out, Placeholder{Name: f, Help: placeholderHelp[f]})
	}
	return out
}

// SampleData is made-up data for notification name, with every field its
// templates get: for previews and test emails. Each call returns a new map.
func SampleData(name string) map[string]any {
	when := time.Date(2026, 3, 9, 17, 30, 0, 0, time.UTC)
	all := map[string]any{
		"GuestName": "Eve Example", "Username": "eve.example", "Password": "Zq8-x1-pw", "ValidUntil": when,
		"PortalURL": "https://guest.example.com/portal/login", "SiteName": "Contoso Guest Wi-Fi",
		"GuestEmail": "eve@example.org", "Company": "Fabrikam", "Reason": "Workshop",
		"ApproveURL": "https://guest.example.com/portal/approve/sample", "DenyURL": "https://guest.example.com/portal/deny/sample",
		"ExpiresAt": when.Add(-48 * time.Hour), "SentAt": when,
		"Severity": "critical", "Title": "The SMTP client secret expires in 7 days", "Detail": "Renew it in Entra ID, then save it on the SMTP page.",
		"RaisedAt": when, "AlarmsURL": "https://guest.example.com/admin/alarms",
	}
	names, ok := placeholderNames[name]
	if !ok {
		return nil
	}
	data := make(map[string]any, len(names))
	for _, f := range names {
		data[f] = all[f]
	}
	return data
}

// Preview renders notification name from src laid over r's templates (an
// empty part shows r's), with data (nil: [SampleData]), without changing
// r. A template that does not parse or run gives a *TemplateError naming
// the part, the line and, where Go reports it, the column; a placeholder
// the notification does not have is named with those it has.
func (r *Renderer) Preview(name string, src Source, data any) (subject, text, html string, err error) {
	base, ok := r.sources[name]
	if !ok {
		return "", "", "", fmt.Errorf("notify: preview: there is no notification %q; the names are %s", name, strings.Join(TemplateNames(), ", "))
	}
	set, err := parseSet(name, src.over(base), r.english())
	if err != nil {
		return "", "", "", err
	}
	if data == nil {
		data = SampleData(name)
	}
	return set.render(name, data)
}

// CheckSource reports whether src, laid over r's templates for name,
// parses and renders the sample data: what an override must do before it
// is saved.
func (r *Renderer) CheckSource(name string, src Source) error {
	_, _, _, err := r.Preview(name, src, nil)
	return err
}

// TemplateError is a template that does not parse or render.
type TemplateError struct {
	Name   string // the notification
	Part   string // subject, text or html
	Line   int    // 0: unknown
	Column int    // 0: unknown
	// Message says what is wrong, in Go's words, with an unknown
	// placeholder named along with those the notification has.
	Message string
}

func (e *TemplateError) Error() string {
	var b strings.Builder
	b.WriteString(partTitle(e.Part))
	if e.Line > 0 {
		b.WriteString(", line " + strconv.Itoa(e.Line))
	}
	if e.Column > 0 {
		b.WriteString(", column " + strconv.Itoa(e.Column))
	}
	b.WriteString(": " + e.Message)
	return b.String()
}

func partTitle(part string) string {
	switch part {
	case "subject":
		return "Subject"
	case "text":
		return "Plain-text body"
	case "html":
		return "HTML body"
	}
	return part
}

var (
	// text/template: "template: NAME:LINE: msg" (parse) or
	// "template: NAME:LINE:COL: executing "NAME" at <.X>: msg" (run);
	// html/template: "html/template:NAME:LINE:COL: msg" and variants.
	tmplErrRE    = regexp.MustCompile(`(?s)^(?:html/)?template: ?[^:]*:(\d+)(?::(\d+))?: ?(.*)$`)
	execAtRE     = regexp.MustCompile(`(?s)^executing "[^"]*" at <([^>]*)>: (.*)$`)
	missingKeyRE = regexp.MustCompile(`map has no entry for key "([^"]*)"`)
	noFieldRE    = regexp.MustCompile(`can't evaluate field (\w+)`)
)

// templateError turns a text/template or html/template error into a
// *TemplateError (which it returns as is).
func templateError(name, part string, err error) error {
	var te *TemplateError
	if errors.As(err, &te) {
		return err
	}
	e := &TemplateError{Name: name, Part: part, Message: err.Error()}
	var he *htmltemplate.Error
	if errors.As(err, &he) && he.ErrorCode != htmltemplate.OK {
		e.Line, e.Message = he.Line, he.Description
		if he.ErrorCode == htmltemplate.ErrEndContext {
			e.Message = "the HTML ends inside a tag, an attribute, a comment or a script; close every quote, tag and comment"
		}
		return e
	}
	if m := tmplErrRE.FindStringSubmatch(err.Error()); m != nil {
		e.Line, _ = strconv.Atoi(m[1])
		e.Column, _ = strconv.Atoi(m[2])
		e.Message = m[3]
		if x := execAtRE.FindStringSubmatch(e.Message); x != nil {
			e.Message = "at {{" + x[1] + "}}: " + x[2]
		}
	}
	key := ""
	if m := missingKeyRE.FindStringSubmatch(e.Message); m != nil {
		key = m[1]
	} else if m := noFieldRE.FindStringSubmatch(e.Message); m != nil {
		key = m[1]
	}
	if key != "" && placeholderNames[name] != nil && !slices.Contains(placeholderNames[name], key) {
		have := make([]string, 0, len(placeholderNames[name]))
		for _, f := range placeholderNames[name] {
			have = append(have, "{{."+f+"}}")
		}
		e.Message = fmt.Sprintf("there is no placeholder {{.%s}} in this email; it has %s", key, strings.Join(have, ", "))
	}
	return e
}
