package webkit

import (
	"bytes"
	"errors"
	"fmt"
	"html/template"
	"io/fs"
	"net/http"
	"path"
	"slices"
	"strconv"
	"strings"
	"sync"

	"github.com/lobbyhq/lobby/internal/i18n"
)

// View is what the layout template needs from every page; Data holds the
// page's own data.
type View struct {
	Lang      string // the page's language, for <html lang>
	SiteName  string
	Title     string
	Root      string // relative URL of the handler's root from this page: "./" or "../"
	StyleURL  string // relative URL of the stylesheet
	ThemeURL  string // relative URL of a stylesheet after it (an admin's colours); optional
	LogoURL   string // relative URL of the logo shown beside SiteName; optional
	CSRF      string // CSRFToken(r)
	LogoutURL string // set when someone is signed in: the sign-out form posts here
	Notice    string // a status message shown above the content
	Form      *Form
	Data      any

	// Loc is the page's language (nil: English), for the T and HTML
	// methods the templates call.
	Loc *i18n.Localizer
	// Languages, when set, shows the language switcher: links to
	// Root+"language/CODE?next="+Here.
	Languages []i18n.Choice
	Here      string // this page's URL relative to Root, for the switcher
}

// loc is v's Localizer, English when v has none.
func (v *View) loc() *i18n.Localizer {
	if v.Loc != nil {
		return v.Loc
	}
	c, err := i18n.Default()
	if err != nil {
		return nil
	}
	return c.Localizer(i18n.English)
}

// T is the page's message id (see i18n.Localizer.T).
func (v *View) T(id string, kv ...any) string {
	if l := v.loc(); l != nil {
		return l.T(id, kv...)
	}
	return id
}

// HTML is the page's message id with its markup (see i18n.Localizer.HTML).
func (v *View) HTML(id string, kv ...any) template.HTML {
	if l := v.loc(); l != nil {
		return l.HTML(id, kv...)
	}
	return template.HTML(template.HTMLEscapeString(id)) //nolint:gosec // escaped
}

// Templates are the pages of one handler, parsed once at start-up: each
// page is a copy of the shared templates (layout and partials) with its own
// "content".
type Templates struct {
	pages map[string]*template.Template
}

// ParseTemplates parses the shared templates (*.html at the root of fsys:
// the layout and partials) and each page in dir (dir/NAME.html, registered
// as NAME), with funcs available to all. A page must define "content"; it
// is rendered through the layout's "layout" template.
func ParseTemplates(fsys fs.FS, dir string, funcs template.FuncMap) (*Templates, error) {
	fields := &fieldRenderer{cache: map[Field]template.HTML{}}
	base := template.New("").Funcs(template.FuncMap{"fieldHTML": fields.render}).Funcs(funcs)
	shared, err := fs.Glob(fsys, "*.html")
	if err != nil {
		return nil, fmt.Errorf("webkit: templates: %w", err)
	}
	if len(shared) == 0 {
		return nil, fmt.Errorf("webkit: templates: no layout (*.html) at the root of the page files")
	}
	if base, err = base.ParseFS(fsys, shared...); err != nil {
		return nil, fmt.Errorf("webkit: templates: %w", err)
	}
	if base.Lookup("layout") == nil {
		return nil, fmt.Errorf("webkit: templates: no template defines \"layout\"")
	}
	if base.Lookup("field") != nil {
		fields.tmpl = template.Must(base.Clone())
	}
	files, err := fs.Glob(fsys, path.Join(dir, "*.html"))
	if err != nil {
		return nil, fmt.Errorf("webkit: templates: %w", err)
	}
	t := &Templates{pages: map[string]*template.Template{}}
	for _, f := range files {
		name := strings.TrimSuffix(path.Base(f), ".html")
		page, err := template.Must(base.Clone()).ParseFS(fsys, f)
		if err != nil {
			return nil, fmt.Errorf("webkit: templates: %s: %w", f, err)
		}
		if page.Lookup("content") == nil {
			return nil, fmt.Errorf("webkit: templates: %s does not define \"content\"", f)
		}
		t.pages[name] = page
	}
	return t, nil
}

// Names lists the registered pages, sorted.
func (t *Templates) Names() []string {
	names := make([]string, 0, len(t.pages))
	for n := range t.pages {
		names = append(names, n)
	}
	slices.Sort(names)
	return names
}

// Has reports whether page name is registered.
func (t *Templates) Has(name string) bool { _, ok := t.pages[name]; return ok }

// Execute renders page name with data into a buffer.
func (t *Templates) Execute(name string, data any) ([]byte, error) {
	page, ok := t.pages[name]
	if !ok {
		return nil, fmt.Errorf("webkit: render: no page %q", name)
	}
	var buf bytes.Buffer
	if err := page.ExecuteTemplate(&buf, "layout", data); err != nil {
		return nil, fmt.Errorf("webkit: render %s: %w", name, err)
	}
	return buf.Bytes(), nil
}

// Render writes page name with status. The page is rendered completely
// before anything is written, so a template error gives a clean 500 instead
// of half a page; the error is returned for logging. Pages are never
// cached: they may hold credentials or CSRF tokens.
func (t *Templates) Render(w http.ResponseWriter, status int, name string, data any) error {
	body, err := t.Execute(name, data)
	h := w.Header()
	h.Set("Cache-Control", "no-store")
	h.Set("X-Content-Type-Options", "nosniff")
	if err != nil {
		h.Set("Content-Type", "text/plain; charset=utf-8")
		w.WriteHeader(http.StatusInternalServerError)
		_, _ = w.Write([]byte("Something went wrong on our side. Try again in a minute.\n"))
		return err
	}
	h.Set("Content-Type", "text/html; charset=utf-8")
	h.Set("Content-Length", strconv.Itoa(len(body)))
	w.WriteHeader(status)
	_, _ = w.Write(body)
	return nil
}

// RelRoot returns the relative URL of a handler's root seen from a page at
// path p (the path with the mount prefix stripped): "./" for "/login",
// "../" for "/registered/x". Pages build every link from it, so they work
// under any prefix.
func RelRoot(p string) string {
	n := strings.Count(strings.TrimPrefix(p, "/"), "/")
	if n == 0 {
		return "./"
	}
	return strings.Repeat("../", n)
}

// maxCachedFields bounds the fieldRenderer's cache: forms are built from a
// fixed set of fields, but their labels and hints come from configuration.
const maxCachedFields = 256

// fieldRenderer is the pages' fieldHTML function: the shared "field"
// template for one field. A field nobody has filled in (no value, no
// error) renders the same every time, and every blank form shows several:
// their HTML is kept, so that a form page runs a fraction of the template's
// actions (html/template calls each escaper by reflection).
type fieldRenderer struct {
	tmpl  *template.Template // the shared templates
	mu    sync.RWMutex
	cache map[Field]template.HTML
}

func (fr *fieldRenderer) render(f *Field) (template.HTML, error) {
	if fr.tmpl == nil {
		return "", errors.New("webkit: fieldHTML: no template defines \"field\"")
	}
	if f == nil {
		return "", errors.New("webkit: fieldHTML: no field")
	}
	blank := f.Value == "" && f.Error == "" && f.ErrorLink == nil
	if blank {
		fr.mu.RLock()
		h, ok := fr.cache[*f]
		fr.mu.RUnlock()
		if ok {
			return h, nil
		}
	}
	var buf strings.Builder
	if err := fr.tmpl.ExecuteTemplate(&buf, "field", f); err != nil {
		return "", err
	}
	h := template.HTML(buf.String())
	if blank {
		fr.mu.Lock()
		if len(fr.cache) >= maxCachedFields {
			clear(fr.cache)
		}
		fr.cache[*f] = h
		fr.mu.Unlock()
	}
	return h, nil
}
