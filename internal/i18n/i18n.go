package i18n

import (
	"errors"
	"fmt"
	"html"
	"html/template"
	"io/fs"
	"net/http"
	"path"
	"slices"
	"strconv"
	"strings"
	"sync"
	texttemplate "text/template"
	"time"

	"github.com/BurntSushi/toml"
	goi18n "github.com/nicksnyder/go-i18n/v2/i18n"
	"golang.org/x/text/language"

	"github.com/lobbyhq/lobby/web"
)

// Language codes Lobby speaks. English is the default and the fallback.
const (
	English = "en"
	German  = "de"
	French  = "fr"
	Spanish = "es"
)

// Languages lists the language codes in the order the switcher shows them.
func Languages() []string { return []string{English, German, French, Spanish} }

// CookieName is the cookie that keeps the language a person picked with the
// switcher: a language code, nothing else.
const CookieName = "lobby_lang"

// Catalog is the message catalogs of every language.
type Catalog struct {
	bundle  *goi18n.Bundle
	matcher language.Matcher
	codes   []string // in the order of the matcher's tags
	locs    map[string]*Localizer
}

// New loads the catalogs embedded in package web.
func New() (*Catalog, error) { return Load(web.Locales()) }

// defaultCatalog is the embedded catalogs, loaded once: they never change.
var defaultCatalog = sync.OnceValues(New)

// Default returns the embedded catalogs, loaded on first use and shared
// (a Catalog is read-only).
func Default() (*Catalog, error) { return defaultCatalog() }

// Load loads the catalogs LANG.toml of fsys, one for each of Languages.
func Load(fsys fs.FS) (*Catalog, error) {
	b := goi18n.NewBundle(language.English)
	b.RegisterUnmarshalFunc("toml", toml.Unmarshal)
	c := &Catalog{bundle: b, locs: map[string]*Localizer{}}
	var tags []language.Tag
	for _, code := range Languages() {
		if _, err := b.LoadMessageFileFS(fsys, code+".toml"); err != nil {
			return nil, fmt.Errorf("i18n: catalog %s.toml: %w", code, err)
		}
		tag := language.MustParse(code)
		tags = append(tags, tag)
		c.codes = append(c.codes, code)
		c.locs[code] = &Localizer{lang: code, tag: tag, l: goi18n.NewLocalizer(b, code)}
	}
	c.matcher = language.NewMatcher(tags)
	return c, nil
}

// Supported reports whether code is one of Languages.
func Supported(code string) bool { return slices.Contains(Languages(), code) }

// Localizer returns language code's Localizer; English for an unknown code.
func (c *Catalog) Localizer(code string) *Localizer {
	if l, ok := c.locs[code]; ok {
		return l
	}
	return c.locs[English]
}

// Match picks the language for an Accept-Language header: the best
// supported one ("de-AT" → de), English when none fits.
func (c *Catalog) Match(acceptLanguage string) string {
	if acceptLanguage == "" {
		return English
	}
	prefs, _, err := language.ParseAcceptLanguage(acceptLanguage)
	if err != nil || len(prefs) == 0 {
		return English
	}
	_, i, conf := c.matcher.Match(prefs...)
	if conf == language.No {
		return English
	}
	return c.codes[i]
}

// FromRequest picks r's language: the switcher's cookie when it names a
// supported language, else Accept-Language (Match).
func (c *Catalog) FromRequest(r *http.Request) string {
	if ck, err := r.Cookie(CookieName); err == nil && Supported(ck.Value) {
		return ck.Value
	}
	return c.Match(r.Header.Get("Accept-Language"))
}

// Localizer is one language of a Catalog.
type Localizer struct {
	lang string
	tag  language.Tag
	l    *goi18n.Localizer
}

// Lang is the language code, for <html lang> and for storing with a guest.
func (l *Localizer) Lang() string { return l.lang }

// data turns key, value pairs into template data.
func data(kv []any) map[string]any {
	if len(kv) == 0 {
		return nil
	}
	m := make(map[string]any, len(kv)/2)
	for i := 0; i+1 < len(kv); i += 2 {
		k, _ := kv[i].(string)
		m[k] = kv[i+1]
	}
	return m
}

// localize is T and N. A message no catalog has comes out as its id, so
// that a gap shows instead of vanishing (the catalog tests catch it first).
func (l *Localizer) localize(id string, count any, d map[string]any) string {
	cfg := &goi18n.LocalizeConfig{MessageID: id, TemplateData: d}
	if count != nil {
		cfg.PluralCount = count
		if d == nil {
			d = map[string]any{}
		}
		d["Count"] = count
		cfg.TemplateData = d
	}
	s, err := l.l.Localize(cfg)
	var nf *goi18n.MessageNotFoundErr
	if err != nil && (s == "" || !errors.As(err, &nf)) {
		return id
	}
	return s
}

// T returns message id with the placeholders given as key, value pairs:
// T("portal.registered.title", "Name", "Eve").
func (l *Localizer) T(id string, kv ...any) string { return l.localize(id, nil, data(kv)) }

// Message returns message id with data (a struct or a map) as its
// template data, as the emails use it: {{.SiteName}}, and
// {{datetime .ValidUntil}} for a time in this language (DateOf).
func (l *Localizer) Message(id string, data any) string {
	s, err := l.l.Localize(&goi18n.LocalizeConfig{MessageID: id, TemplateData: data,
		Funcs: texttemplate.FuncMap{"datetime": l.DateOf}})
	var nf *goi18n.MessageNotFoundErr
	if err != nil && (s == "" || !errors.As(err, &nf)) {
		return id
	}
	return s
}

// DateOf is Date for the value of a template: a time.Time or *time.Time
// (nil and the zero time are ""), a string as it is.
func (l *Localizer) DateOf(v any) string {
	switch t := v.(type) {
	case time.Time:
		return l.Date(t)
	case *time.Time:
		if t == nil {
			return ""
		}
		return l.Date(*t)
	case string:
		return t
	case nil:
		return ""
	}
	return fmt.Sprint(v)
}

// N returns message id in the plural form for n, which is its {{.Count}}.
func (l *Localizer) N(id string, n int, kv ...any) string { return l.localize(id, n, data(kv)) }

// HTML returns message id as HTML: the message's own markup (<strong>,
// <a href="{{.Href}}">) stays, every placeholder value is escaped. Only
// catalog messages carry markup, never a value.
func (l *Localizer) HTML(id string, kv ...any) template.HTML {
	d := data(kv)
	for k, v := range d {
		d[k] = html.EscapeString(fmt.Sprint(v))
	}
	return template.HTML(l.localize(id, nil, d)) //nolint:gosec // the catalogs are ours; values are escaped above
}

// Date shows t in its own location, as the language writes a date and a
// time: "Monday 2 March 2026, 17:30 UTC", "Montag, 2. März 2026, 17:30
// UTC". A zero time is "".
func (l *Localizer) Date(t time.Time) string {
	if t.IsZero() {
		return ""
	}
	return l.T("date.format",
		"Weekday", l.T("date.weekday."+strconv.Itoa(int(t.Weekday()))),
		"Day", t.Day(),
		"Month", l.T("date.month."+strconv.Itoa(int(t.Month()))),
		"Year", t.Year(),
		"Time", t.Format("15:04"),
		"Zone", t.Format("MST"))
}

// Duration says d in words, in the largest whole unit: "3 days", "3 Tage",
// "3 jours", "36 hours", "90 minutes".
func (l *Localizer) Duration(d time.Duration) string {
	switch {
	case d >= 24*time.Hour && d%(24*time.Hour) == 0:
		return l.N("duration.days", int(d/(24*time.Hour)))
	case d >= time.Hour && d%time.Hour == 0:
		return l.N("duration.hours", int(d/time.Hour))
	default:
		return l.N("duration.minutes", int(d.Round(time.Minute)/time.Minute))
	}
}

// Name is the language's name in itself ("Deutsch"), for the switcher.
func (l *Localizer) Name() string { return l.T("language.name") }

// Choice is one language the switcher offers.
type Choice struct {
	Code, Name string
	Current    bool
}

// Choices lists the languages for a switcher on a page in language current.
func (c *Catalog) Choices(current string) []Choice {
	out := make([]Choice, 0, len(c.codes))
	for _, code := range c.codes {
		out = append(out, Choice{Code: code, Name: c.locs[code].Name(), Current: code == current})
	}
	return out
}

// SetCookie keeps code as the person's language for a year, on path.
func SetCookie(w http.ResponseWriter, code, cookiePath string, secure bool) {
	http.SetCookie(w, &http.Cookie{Name: CookieName, Value: code, Path: cmpPath(cookiePath), MaxAge: 365 * 24 * 3600,
		HttpOnly: true, Secure: secure, SameSite: http.SameSiteLaxMode})
}

func cmpPath(p string) string {
	if p == "" {
		return "/"
	}
	return path.Clean("/" + strings.TrimPrefix(p, "/"))
}
