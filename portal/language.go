package portal

import (
	"context"
	"net/http"
	"strings"

	"github.com/lobbyhq/lobby/internal/i18n"
	"github.com/lobbyhq/lobby/internal/webkit"
)

type langKey struct{}

// withLanguage picks the language of each request (the switcher's cookie,
// else Accept-Language, else English) and keeps its Localizer in the
// request's context for the pages and the error pages (which say that they
// vary by both headers; the static files do not).
func (p *Portal) withLanguage(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		loc := p.words.Localizer(p.words.FromRequest(r))
		next.ServeHTTP(w, r.WithContext(context.WithValue(r.Context(), langKey{}, loc)))
	})
}

// loc is r's Localizer (see withLanguage); English outside the handler.
func (p *Portal) loc(r *http.Request) *i18n.Localizer {
	if l, ok := r.Context().Value(langKey{}).(*i18n.Localizer); ok {
		return l
	}
	return p.words.Localizer(i18n.English)
}

// Language is the language code of r, as the portal's pages speak it: for
// a host application that wants to answer in the same language.
func (p *Portal) Language(r *http.Request) string { return p.loc(r).Lang() }

// setLanguage is the language switcher: a plain link (no script, no form)
// that keeps the language in a cookie and goes back to the page it was
// on. An unknown language is a 404; a next that is not a path inside the
// portal goes to the start.
func (p *Portal) setLanguage(w http.ResponseWriter, r *http.Request) {
	code := r.PathValue("code")
	if !i18n.Supported(code) {
		p.notFound(w, r)
		return
	}
	i18n.SetCookie(w, code, p.basePath+"/", p.cfg.SecureCookies)
	webkit.SeeOther(w, webkit.RelRoot(r.URL.Path)+localNext(r.URL.Query().Get("next")))
}

// localNext returns next when it is a relative path inside the portal
// (such as "register" or "login?return=%2Fapp"), else "" (the start).
func localNext(next string) string {
	if next == "" || len(next) > 2000 || strings.ContainsAny(next, "\\:") || strings.HasPrefix(next, "/") ||
		strings.HasPrefix(next, ".") || strings.Contains(next, "/.") || hasControl(next) || strings.HasPrefix(next, "language/") {
		return ""
	}
	return next
}

// here is r's page as a URL relative to the portal root, for the language
// switcher to come back to. A POST comes back to its form's page. Pages
// whose URL holds a token (the success page, approval links) have none:
// the switcher would copy the token into the page, and they show no
// switcher (their language was picked on the page before).
func here(r *http.Request) string {
	h := strings.TrimPrefix(r.URL.Path, "/")
	for _, secret := range []string{"registered/", "approve/", "deny/"} {
		if strings.HasPrefix(h, secret) {
			return ""
		}
	}
	if !strings.Contains(h, "/") && len(h) <= 100 {
		// A page of the portal's own (register, login, resend, account):
		// its return path, when it is a safe one, is all it carries.
		h = withReturn(h, formReturn(r))
	}
	return localNext(h)
}
