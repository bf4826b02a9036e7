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

	"github.com/lobbyhq/lobby/internal/i18n"
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

// translated reports the notifications sent to guests, which RenderIn
// renders in their language. The others go to staff, in English.
func translated(name string) bool {
	switch name {
	case TemplateGuestCredentials, TemplateGuestPending, TemplateGuestDenied,
		TemplateGuestExpiry, TemplateGuestReset, TemplateGuestExtended:
		return true
	}
	return false
}

// Template file suffixes.
const (
	suffixSubject = ".subject.tmpl"
	suffixText    = ".txt.tmpl"
	suffixHTML    = ".html.tmpl"
)

// Source is the source of one notification's templates: its subject and
// plain-text body (text/template) and its HTML body (html/template). Where
// it overrides other templates, an empty part keeps theirs.
type Source struct {
	Subject string `json:"subject,omitempty"`
	Text    string `json:"text,omitempty"`
	HTML    string `json:"html,omitempty"`
}

// IsZero reports a Source with no part.
func (s Source) IsZero() bool { return s == Source{} }

// over lays s's parts over base's.
func (s Source) over(base Source) Source {
	if s.Subject != "" {
		base.Subject = s.Subject
	}
	if s.Text != "" {
		base.Text = s.Text
	}
	if s.HTML != "" {
		base.HTML = s.HTML
	}
	return base
}

// Renderer renders the notification templates. They are parsed once, by
// [NewRenderer] or [Renderer.With]; Render is safe for concurrent use.
//
// The embedded templates take their words from the message catalogs
// (package internal/i18n): {{t "email.credentials.intro" .}} is a message
// with the template's data, and {{datetime .ValidUntil}} a time, in the
// language the template set is rendered in. [Renderer.RenderIn] renders in
// a guest's language.
//
// The rule for edited templates (an operator's directory, an admin's saved
// override): they are English, and an English email uses them; an email in
// another language uses the embedded translation, unless the directory has
// that language's own files in a subdirectory named for it (DIR/de/
// NAME.txt.tmpl and so on), laid over the embedded ones the same way.
type Renderer struct {
	sources map[string]Source
	sets    map[string]*templateSet
	words   *i18n.Catalog
	// langs are the template sets of the languages other than English:
	// the embedded templates with the directory's files for that language
	// over them. Built once by NewRenderer and shared by With.
	langs map[string]map[string]*templateSet
}

type templateSet struct {
	subject *texttemplate.Template
	text    *texttemplate.Template
	html    *htmltemplate.Template
}

// NewRenderer parses the embedded templates ([web.Emails]) with the files
// of an operator's directory fsys (nil: none) over them: each file there
// (NAME.subject.tmpl, NAME.txt.tmpl or NAME.html.tmpl) replaces the
// embedded one, and what it lacks stays embedded. A file of another name,
// or of a notification that does not exist, is an error, and so is a
// template that does not parse.
func NewRenderer(fsys fs.FS) (*Renderer, error) {
	base, err := readSources(web.Emails(), "embedded")
	if err != nil {
		return nil, err
	}
	var errs []error
	for _, name := range TemplateNames() {
		src := base[name]
		if src.Subject == "" || src.Text == "" || src.HTML == "" {
			errs = append(errs, fmt.Errorf("notify: templates: embedded %s is incomplete (%s%s, %s%s, %s%s)",
				name, name, suffixSubject, name, suffixText, name, suffixHTML))
		}
	}
	if len(errs) > 0 {
		return nil, errors.Join(errs...)
	}
	words, err := i18n.Default()
	if err != nil {
		return nil, fmt.Errorf("notify: templates: %w", err)
	}
	r := &Renderer{sources: base, sets: map[string]*templateSet{}, words: words, langs: map[string]map[string]*templateSet{}}
	for _, lang := range i18n.Languages() {
		if lang == i18n.English {
			continue
		}
		srcs := base
		if fsys != nil {
			if st, err := fs.Stat(fsys, lang); err == nil && st.IsDir() {
				sub, _ := fs.Sub(fsys, lang)
				over, err := readSources(sub, "directory "+lang+"/")
				if err != nil {
					return nil, err
				}
				srcs = map[string]Source{}
				for name, src := range base {
					srcs[name] = over[name].over(src)
				}
			}
		}
		sets := map[string]*templateSet{}
		for name, src := range srcs {
			if !translated(name) {
				continue
			}
			set, err := parseSet(name, src, words.Localizer(lang))
			if err != nil {
				return nil, fmt.Errorf("notify: templates directory %s/: %w", lang, namedFiles(err))
			}
			sets[name] = set
		}
		r.langs[lang] = sets
	}
	if fsys == nil {
		return r.With(nil)
	}
	over, err := readSources(fsys, "directory")
	if err != nil {
		return nil, err
	}
	r, err = r.With(over)
	if err != nil {
		return nil, fmt.Errorf("notify: templates directory: %w", namedFiles(err))
	}
	return r, nil
}

// namedFiles prefixes each *TemplateError in err (one or joined) with its
// file name, NAME.txt.tmpl and so on.
func namedFiles(err error) error {
	if j, ok := err.(interface{ Unwrap() []error }); ok {
		var out []error
		for _, e := range j.Unwrap() {
			out = append(out, namedFiles(e))
		}
		return errors.Join(out...)
	}
	var te *TemplateError
	if errors.As(err, &te) {
		sfx := map[string]string{"subject": suffixSubject, "text": suffixText, "html": suffixHTML}[te.Part]
		return fmt.Errorf("%s%s: %w", te.Name, sfx, err)
	}
	return err
}

// readSources reads the *.tmpl files of fsys by notification.
func readSources(fsys fs.FS, what string) (map[string]Source, error) {
	files, err := fs.Glob(fsys, "*")
	if err != nil {
		return nil, fmt.Errorf("notify: templates: %w", err)
	}
	known := TemplateNames()
	out := map[string]Source{}
	var errs []error
	for _, f := range files {
		if st, err := fs.Stat(fsys, f); err == nil && st.IsDir() || strings.HasPrefix(f, ".") {
			continue // subdirectories and dot files (editor backups, .git) are not templates
		}
		var name, suffix string
		for _, sfx := range []string{suffixSubject, suffixText, suffixHTML} {
			if n, ok := strings.CutSuffix(f, sfx); ok {
				name, suffix = n, sfx
				break
			}
		}
		if name == "" || strings.Contains(name, ".") {
			errs = append(errs, fmt.Errorf("notify: templates: %s file %q is not named NAME.subject.tmpl, NAME.txt.tmpl or NAME.html.tmpl", what, f))
			continue
		}
		if !slices.Contains(known, name) {
			errs = append(errs, fmt.Errorf("notify: templates: %s file %q is for no notification; the names are %s", what, f, strings.Join(known, ", ")))
			continue
		}
		b, err := fs.ReadFile(fsys, f)
		if err != nil {
			errs = append(errs, fmt.Errorf("notify: templates: %w", err))
			continue
		}
		src := out[name]
		switch suffix {
		case suffixSubject:
			src.Subject = string(b)
		case suffixText:
			src.Text = string(b)
		case suffixHTML:
			src.HTML = string(b)
		}
		out[name] = src
	}
	if err := errors.Join(errs...); err != nil {
		return nil, err
	}
	return out, nil
}

// With returns a Renderer with overrides laid over r's templates (an
// empty part keeps r's); r does not change. An override of an unknown
// notification, or one that does not parse, is an error (a *TemplateError
// for the latter).
func (r *Renderer) With(overrides map[string]Source) (*Renderer, error) {
	next := &Renderer{sources: map[string]Source{}, sets: map[string]*templateSet{}, words: r.words, langs: r.langs}
	var errs []error
	for name := range overrides {
		if _, ok := r.sources[name]; !ok {
			errs = append(errs, fmt.Errorf("notify: templates: there is no notification %q; the names are %s", name, strings.Join(TemplateNames(), ", ")))
		}
	}
	for name, src := range r.sources {
		o, changed := overrides[name]
		if set := r.sets[name]; set != nil && (!changed || o.IsZero()) {
			next.sources[name], next.sets[name] = src, set
			continue
		}
		src = o.over(src)
		set, err := parseSet(name, src, r.english())
		if err != nil {
			errs = append(errs, err)
			continue
		}
		next.sources[name], next.sets[name] = src, set
	}
	if err := errors.Join(errs...); err != nil {
		return nil, err
	}
	return next, nil
}

// Source returns the templates r renders for name.
func (r *Renderer) Source(name string) (Source, bool) {
	src, ok := r.sources[name]
	return src, ok
}

// english is the English Localizer of r's catalogs.
func (r *Renderer) english() *i18n.Localizer { return r.words.Localizer(i18n.English) }

// parseSet parses src with the functions of loc's language: datetime and
// t (a catalog message with the template's data) and lang (the code).
func parseSet(name string, src Source, loc *i18n.Localizer) (*templateSet, error) {
	funcs := map[string]any{"datetime": loc.DateOf, "t": loc.Message, "lang": loc.Lang}
	var (
		set templateSet
		err error
	)
	if set.subject, err = texttemplate.New(name + suffixSubject).Funcs(funcs).Option("missingkey=error").Parse(src.Subject); err != nil {
		return nil, templateError(name, "subject", err)
	}
	if set.text, err = texttemplate.New(name + suffixText).Funcs(funcs).Option("missingkey=error").Parse(src.Text); err != nil {
		return nil, templateError(name, "text", err)
	}
	if set.html, err = htmltemplate.New(name + suffixHTML).Funcs(funcs).Option("missingkey=error").Parse(src.HTML); err != nil {
		return nil, templateError(name, "html", err)
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
	return set.render(name, data)
}

// RenderIn is Render in language lang (a code of i18n.Languages): the
// embedded translation (or the directory's files for lang), see Renderer.
// English, "" and an unknown code render as Render does, and so do the
// notifications to staff (approval_request, test_email, alarm).
func (r *Renderer) RenderIn(lang, name string, data any) (subject, text, html string, err error) {
	if sets, ok := r.langs[lang]; ok {
		if set := sets[name]; set != nil {
			return set.render(name, data)
		}
	}
	return r.Render(name, data)
}

func (set *templateSet) render(name string, data any) (subject, text, html string, err error) {
	var b strings.Builder
	exec := func(part string, run func() error) (string, error) {
		b.Reset()
		if err := run(); err != nil {
			return "", fmt.Errorf("notify: render %s: %w", path.Join(name, part), templateError(name, part, err))
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
