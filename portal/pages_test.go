package portal

import (
	"io/fs"
	"regexp"
	"slices"
	"strings"
	"testing"

	"github.com/lobbyhq/lobby/internal/webkit"
	"github.com/lobbyhq/lobby/web"
)

// TestPagesRender checks that every page template in web/pages/portal is
// registered, and that each renders with its data, accessibly.
func TestPagesRender(t *testing.T) {
	t.Parallel()
	b := setup(t, nil)
	p := b.portal

	files, err := fs.Glob(web.Pages(), "portal/*.html")
	if err != nil {
		t.Fatal(err)
	}
	var names []string
	for _, f := range files {
		names = append(names, strings.TrimSuffix(strings.TrimPrefix(f, "portal/"), ".html"))
	}
	if !slices.Equal(names, pageNames) || !slices.Equal(p.pages.Names(), pageNames) {
		t.Fatalf("page files %v, registered %v, want %v", names, p.pages.Names(), pageNames)
	}

	withErrors := p.registerForm(true)
	withErrors.Fail(fEmail, "Enter an email address in the correct format, like name@example.com.")
	withErrors.Fail(fTerms, "Accept the acceptable-use terms to register.")
	data := map[string]struct {
		form *webkit.Form
		data any
		want string
	}{
		"register":   {withErrors, registerData{Nonce: p.newNonce(), Terms: []string{"Be nice."}, Duration: "1 day"}, "Be nice."},
		"registered": {nil, registeredData{Name: "Ada", Email: "ada@example.com", Mail: mailSent, Credentials: true, Username: "u", Password: "p"}, "<code>p</code>"},
		"login":      {loginForm(p.words.Localizer("en")), newLoginData("/app"), `value="/app"`},
		"account":    {nil, accountData{Name: "Ada", Username: "ada@example.com", ValidUntil: "soon"}, "ada@example.com"},
		"resend":     {resendForm(p.words.Localizer("en")), resendData{}, "Email my credentials"},
		"approve":    {nil, approveData{Approve: true, Name: "Ada", Email: "ada@example.com", Company: "<b>Acme</b>"}, "&lt;b&gt;Acme&lt;/b&gt;"},
		"message":    {nil, messageData{Paragraphs: []string{"Hello."}, Link: &webkit.Link{Href: "./", Text: "Start"}}, "Hello."},
	}
	labelFor := regexp.MustCompile(`<label for="([^"]+)"`)
	control := regexp.MustCompile(`<(?:input|textarea|select)\b[^>]*>`)
	idAttr := regexp.MustCompile(`\bid="([^"]+)"`)
	for _, name := range pageNames {
		d, ok := data[name]
		if !ok {
			t.Errorf("no sample data for page %s", name)
			continue
		}
		out, err := p.pages.Execute(name, &webkit.View{Lang: "en", SiteName: "Lobby", Title: "T", Root: "./", StyleURL: "s.css",
			CSRF: "tok", LogoutURL: "logout", Form: d.form, Data: d.data})
		if err != nil {
			t.Errorf("%s: %v", name, err)
			continue
		}
		html := string(out)
		if !strings.Contains(html, `<html lang="en">`) || !strings.Contains(html, d.want) || !strings.Contains(html, `name="viewport"`) {
			t.Errorf("%s: missing lang, viewport or %q:\n%s", name, d.want, html)
		}
		labels := map[string]bool{}
		for _, m := range labelFor.FindAllStringSubmatch(html, -1) {
			labels[m[1]] = true
		}
		for _, c := range control.FindAllString(html, -1) {
			if strings.Contains(c, `type="hidden"`) {
				continue
			}
			m := idAttr.FindStringSubmatch(c)
			if m == nil || !labels[m[1]] {
				t.Errorf("%s: control without a label: %s", name, c)
			}
		}
		for _, form := range strings.Split(html, "<form")[1:] {
			if !strings.Contains(form, `name="csrf_token" value="tok"`) {
				t.Errorf("%s: a form without the CSRF field", name)
			}
		}
		if strings.Contains(html, "http://") || strings.Contains(html, "https://") {
			t.Errorf("%s: links to an external asset", name)
		}
	}

	// The error summary comes first, links each error to its field, and the
	// field's description names its error.
	out, _ := p.pages.Execute("register", &webkit.View{Lang: "en", Form: withErrors, Data: registerData{}})
	html := string(out)
	sum := strings.Index(html, `class="error-summary"`)
	if sum < 0 || sum > strings.Index(html, "<form") || !strings.Contains(html, `<a href="#f-email">`) || !strings.Contains(html, `<a href="#f-terms">`) {
		t.Fatalf("error summary missing or not first:\n%s", html)
	}
	if !strings.Contains(html, `aria-describedby="f-email-hint f-email-error"`) || !strings.Contains(html, `aria-describedby="f-terms-error"`) {
		t.Fatal("errors not linked with aria-describedby")
	}
	if !strings.Contains(html, "<title>Error: ") {
		t.Fatal("the title does not say the page has errors")
	}
}

// The stylesheet is served outside the CSRF middleware: an immutable,
// publicly cacheable response never carries a Set-Cookie.
func TestStaticHasNoCookies(t *testing.T) {
	t.Parallel()
	b := setup(t, nil)
	c := b.client(t)
	page := c.get(mount + "/login")
	css := regexpFind(page.body, `href="\./(static/lobby\.css\?v=[0-9a-f]+)"`)
	if css == "" {
		t.Fatalf("no stylesheet link:\n%s", page.body)
	}
	fresh := b.client(t) // no cookies yet: the CSRF middleware would set one
	r := fresh.get(mount + "/" + css)
	if r.StatusCode != 200 || !strings.Contains(r.Header.Get("Cache-Control"), "immutable") {
		t.Fatalf("stylesheet: %d, Cache-Control %q", r.StatusCode, r.Header.Get("Cache-Control"))
	}
	if sc := r.Header.Values("Set-Cookie"); len(sc) != 0 {
		t.Fatalf("the stylesheet response sets cookies: %q", sc)
	}
	if h := r.Header.Get("X-Content-Type-Options"); h != "nosniff" {
		t.Fatalf("X-Content-Type-Options %q", h)
	}
}
