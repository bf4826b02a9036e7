package portal

import (
	"context"
	"fmt"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/lobbyhq/lobby/notify"
	"github.com/lobbyhq/lobby/storage"
)

func TestRegister(t *testing.T) {
	t.Parallel()
	b := setup(t, nil)
	c := b.client(t)
	r := c.post(mount+"/register", c.registerForm())
	if r.StatusCode != 303 {
		t.Fatalf("POST register: %d\n%s", r.StatusCode, r.body)
	}
	loc := r.location()
	if !strings.HasPrefix(loc, mount+"/registered/") || !strings.Contains(loc, "?t=") {
		t.Fatalf("redirect to %q", loc)
	}

	gs := b.guests(t)
	if len(gs) != 1 {
		t.Fatalf("%d guests stored", len(gs))
	}
	g := gs[0]
	if g.Status != storage.GuestActive || g.Email != "ada@example.com" || g.Username != "ada@example.com" ||
		g.FirstName != "Ada" || g.Company != "Analytical Engines Ltd" || g.GuestType != DefaultGuestTypeName {
		t.Fatalf("guest = %+v", g)
	}
	if got := g.ValidUntil.Sub(g.ValidFrom); got != 24*time.Hour {
		t.Fatalf("validity %v, want the daily type's 24h", got)
	}
	if len(g.Password) != DefaultPasswordLength || strings.ContainsAny(g.Password, "0Oo1lI") {
		t.Fatalf("password %d chars or with look-alikes", len(g.Password))
	}

	msgs := b.outbox(t)
	if len(msgs) != 1 {
		t.Fatalf("outbox has %d messages", len(msgs))
	}
	m := msgs[0]
	if m.Kind != KindCredentials || len(m.To) != 1 || m.To[0] != "ada@example.com" {
		t.Fatalf("message = %+v", m)
	}
	// Read back through the store (which seals it at rest): the same
	// password as in the email.
	stored, err := b.store.GetGuest(context.Background(), g.ID)
	if err != nil {
		t.Fatal(err)
	}
	if pw := field(t, m.Text, "Password"); pw != stored.Password {
		t.Fatal("the emailed password is not the stored one")
	}
	if u := field(t, m.Text, "Username"); u != "ada@example.com" {
		t.Fatalf("emailed username %q", u)
	}
	if !strings.Contains(m.Text, "https://wifi.example.com"+mount+"/login") {
		t.Fatalf("email has no link from BaseURL:\n%s", m.Text)
	}
	if tr := b.mail.Tracked(); len(tr) != 1 {
		t.Fatalf("tracked %v after commit, want the credentials message", tr)
	}

	// The success page: no sender here, so it waits SuccessWait and says
	// the email is on its way (not an error).
	start := time.Now()
	r = c.get(loc)
	if r.StatusCode != 200 || !strings.Contains(r.body, "Your email is on its way to <strong>ada@example.com</strong>") {
		t.Fatalf("success page: %d\n%s", r.StatusCode, r.body)
	}
	if strings.Contains(r.body, stored.Password) {
		t.Fatal("the success page shows the password without ShowCredentials")
	}
	if time.Since(start) > 10*time.Second {
		t.Fatal("the success page waited far longer than SuccessWait")
	}
	// A tampered link is refused.
	if r := c.get(strings.Replace(loc, "?t=", "?t=x", 1)); r.StatusCode != 404 {
		t.Fatalf("tampered success link: %d", r.StatusCode)
	}
}

// fakeSender records the emails the dispatcher sends.
type fakeSender struct {
	mu   sync.Mutex
	sent []*notify.Email
}

func (s *fakeSender) Send(_ context.Context, _ notify.Settings, e *notify.Email) error {
	s.mu.Lock()
	s.sent = append(s.sent, e)
	s.mu.Unlock()
	return nil
}

func TestRegisterSuccessPageWaitsForTheSend(t *testing.T) {
	t.Parallel()
	b := setup(t, func(c *Config) { c.Policy.ShowCredentials = true; c.Policy.SuccessWait = 10 * time.Second })
	sender := &fakeSender{}
	d, err := notify.NewDispatcher(notify.DispatcherConfig{
		Store:        b.store,
		Settings:     func(context.Context) (notify.Settings, error) { return notify.Settings{From: "lobby@example.com"}, nil },
		Sender:       sender,
		Workers:      1,
		PollInterval: 100 * time.Millisecond,
	})
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- d.Run(ctx) }()
	t.Cleanup(func() { cancel(); <-done })
	b.mail.mu.Lock()
	b.mail.next = d
	b.mail.mu.Unlock()

	c := b.client(t)
	r := c.post(mount+"/register", c.registerForm())
	if r.StatusCode != 303 {
		t.Fatalf("POST register: %d", r.StatusCode)
	}
	r = c.get(r.location())
	if r.StatusCode != 200 || !strings.Contains(r.body, "We emailed your credentials to <strong>ada@example.com</strong>") {
		t.Fatalf("success page: %d\n%s", r.StatusCode, r.body)
	}
	g := b.guests(t)[0]
	if !strings.Contains(r.body, "<code>"+g.Password+"</code>") {
		t.Fatal("ShowCredentials: the page does not show the password")
	}
	sender.mu.Lock()
	defer sender.mu.Unlock()
	if len(sender.sent) != 1 || sender.sent[0].To[0] != "ada@example.com" {
		t.Fatalf("sent %d emails", len(sender.sent))
	}
}

func TestRegisterBadInput(t *testing.T) {
	t.Parallel()
	b := setup(t, func(c *Config) { c.Policy.BlockDomains = []string{"blocked.example"} })
	for _, tc := range []struct {
		name   string
		set    map[string]string
		status int
		field  string // whose error must show; "" for a page without a form
		msg    string
	}{
		{"invalid email", map[string]string{"email": "not-an-email"}, 422, "email", "Enter an email address in the correct format"},
		{"email with display name", map[string]string{"email": "Ada <ada@example.com>"}, 422, "email", "correct format"},
		{"blocked domain", map[string]string{"email": "x@mail.blocked.example"}, 422, "email", "cannot register here"},
		{"terms unticked", map[string]string{"terms": ""}, 422, "terms", "Accept the acceptable-use terms"},
		{"missing first name", map[string]string{"first_name": ""}, 422, "first_name", "Enter your first name."},
		{"required company missing", map[string]string{"company": ""}, 422, "company", "Enter your company."},
		{"name too long", map[string]string{"last_name": strings.Repeat("x", 101)}, 422, "last_name", "100 characters or fewer"},
		{"CR/LF in a name", map[string]string{"first_name": "Ada\r\nBcc: x@evil.example"}, 422, "first_name", "on one line"},
		{"control char in company", map[string]string{"company": "Acme\x00"}, 422, "company", "on one line"},
		{"script tag in a name", map[string]string{"first_name": "<script>alert(1)</script>"}, 422, "first_name", "can only have letters"},
		{"bad phone", map[string]string{"phone": "call me"}, 422, "phone", "digits"},
		{"digits in a name", map[string]string{"first_name": "Ada2"}, 422, "first_name", "can only have letters"},
		{"web address as a name", map[string]string{"last_name": "www.evil.example"}, 422, "last_name", "web address"},
		{"link in the reason", map[string]string{"reason": "see https://evil.example/login"}, 422, "reason", "must not contain a web address"},
		{"email in the company", map[string]string{"company": "write to boss@evil.example"}, 422, "company", "must not contain an @"},
		{"formula in the company", map[string]string{"company": `=HYPERLINK("https://evil.example")`}, 422, "company", "Company must not start with"},
		{"formula in the reason", map[string]string{"reason": "+cmd|' /C calc'!A0"}, 422, "reason", "spreadsheets read those as formulas"},
		{"link as the person visited", map[string]string{"person_visited": "www.evil.example"}, 422, "person_visited", "web address"},
		{"bare domain in the reason", map[string]string{"reason": "reset at evil-login.com/reset"}, 422, "reason", "web address"},
		{"full-width dot in the company", map[string]string{"company": "evil-login．com"}, 422, "company", "web address"},
		{"IP address as the person visited", map[string]string{"person_visited": "Ada at 203.0.113.9"}, 422, "person_visited", "web address"},
		{"domain as a name", map[string]string{"first_name": "Evil-Login.Com"}, 422, "first_name", "domain name"},
		{"zero-width space in a name", map[string]string{"first_name": "Ada\u200b"}, 422, "first_name", "invisible formatting"},
		{"tag characters in the reason", map[string]string{"reason": "Meeting\U000E0069\U000E0067"}, 422, "reason", "invisible formatting"},
		{"formula as the person visited", map[string]string{"person_visited": "=HYPERLINK(\"x\")"}, 422, "person_visited", "spreadsheets read those as formulas"},
		{"100 KB field", map[string]string{"reason": strings.Repeat("x", 100<<10)}, 413, "", "too large"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			c := b.client(t)
			form := c.registerForm()
			for k, v := range tc.set {
				form.Set(k, v)
			}
			r := c.post(mount+"/register", form)
			if r.StatusCode != tc.status {
				t.Fatalf("status %d, want %d\n%s", r.StatusCode, tc.status, r.body)
			}
			if !strings.Contains(r.body, tc.msg) {
				t.Fatalf("page lacks %q:\n%s", tc.msg, r.body)
			}
			if strings.Contains(r.body, "<script>alert") {
				t.Fatal("input reflected unescaped")
			}
			if tc.field != "" {
				id := "f-" + tc.field
				// The message is beside the field, tied to it, and in the summary.
				if !strings.Contains(r.body, `id="`+id+`-error"`) || !strings.Contains(r.body, `aria-describedby="`) ||
					!strings.Contains(r.body, `aria-invalid="true"`) || !strings.Contains(r.body, `<a href="#`+id+`">`) {
					t.Fatalf("error not tied to %s:\n%s", id, r.body)
				}
				// The other values are kept.
				if tc.field != "company" && !strings.Contains(r.body, `value="Analytical Engines Ltd"`) {
					t.Fatal("values not kept")
				}
			}
			if n := len(b.guests(t)); n != 0 {
				t.Fatalf("%d guests stored", n)
			}
			if n := b.mailCount(t); n != 0 {
				t.Fatalf("%d messages queued", n)
			}
		})
	}
}

func TestRegisterNeedsCSRF(t *testing.T) {
	t.Parallel()
	b := setup(t, nil)
	c := b.client(t)
	form := c.registerForm()
	form.Del("csrf_token")
	if r := c.post(mount+"/register", form); r.StatusCode != 403 || !strings.Contains(r.body, "reload the page") {
		t.Fatalf("without CSRF token: %d\n%s", r.StatusCode, r.body)
	}
	// Another browser's token does not do either.
	other := b.client(t).registerForm()
	form.Set("csrf_token", other.Get("csrf_token"))
	if r := c.post(mount+"/register", form); r.StatusCode != 403 {
		t.Fatalf("with another client's token: %d", r.StatusCode)
	}
	if len(b.guests(t)) != 0 || b.mailCount(t) != 0 {
		t.Fatal("a forged post changed something")
	}
}

func TestRegisterRateLimit(t *testing.T) {
	t.Parallel()
	b := setup(t, func(c *Config) { c.Limits.Register = Limit{Burst: 2, Every: time.Minute} })
	c := b.client(t)
	form := c.registerForm()
	form.Set("email", "bad")
	for i := range 2 {
		if r := c.post(mount+"/register", form); r.StatusCode != 422 {
			t.Fatalf("post %d: %d", i, r.StatusCode)
		}
	}
	r := c.post(mount+"/register", form)
	if r.StatusCode != 429 || r.Header.Get("Retry-After") != "60" || !strings.Contains(r.body, "Too many attempts") {
		t.Fatalf("third post: %d, Retry-After %q", r.StatusCode, r.Header.Get("Retry-After"))
	}
	// The page itself is not limited.
	if r := c.get(mount + "/register"); r.StatusCode != 200 {
		t.Fatalf("GET after the limit: %d", r.StatusCode)
	}
	b.clock.Advance(time.Minute)
	if r := c.post(mount+"/register", form); r.StatusCode != 422 {
		t.Fatalf("after a minute: %d", r.StatusCode)
	}
}

func TestRegisterDoubleSubmit(t *testing.T) {
	t.Parallel()
	b := setup(t, nil)
	c := b.client(t)
	form := c.registerForm()

	// Two at once (a double click), then one more (a reload).
	var wg sync.WaitGroup
	locs := make([]string, 3)
	for i := range 2 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			r := c.post(mount+"/register", form)
			if r.StatusCode != 303 {
				t.Errorf("post %d: %d\n%s", i, r.StatusCode, r.body)
			}
			locs[i] = r.location()
		}()
	}
	wg.Wait()
	locs[2] = c.post(mount+"/register", form).location()
	if t.Failed() {
		return
	}
	id := func(loc string) string { p, _, _ := strings.Cut(loc, "?"); return p }
	if id(locs[0]) != id(locs[1]) || id(locs[1]) != id(locs[2]) {
		t.Fatalf("different success pages: %q", locs)
	}
	if n := len(b.guests(t)); n != 1 {
		t.Fatalf("%d guests", n)
	}
	if n := b.mailCount(t); n != 1 {
		t.Fatalf("%d messages", n)
	}
	if r := c.get(locs[2]); r.StatusCode != 200 || !strings.Contains(r.body, "You are registered") {
		t.Fatalf("success page of the repeat: %d", r.StatusCode)
	}
}

func TestRegisterPolicy(t *testing.T) {
	t.Parallel()
	b := setup(t, func(c *Config) {
		c.Policy.AllowDomains = []string{"partner.example"}
		c.Policy.RegistrationCode = "LOBBY-42"
		c.Policy.UsernamePolicy = UsernameGenerated
		c.Policy.PasswordLength = 16
		c.Policy.Fields = Fields{} // only names and email
	})
	c := b.client(t)
	form := c.registerForm()
	page := c.get(mount + "/register").body
	if strings.Contains(page, `name="company"`) || !strings.Contains(page, `name="code"`) {
		t.Fatal("hidden fields shown or the code field missing")
	}
	form.Set("code", "wrong")
	r := c.post(mount+"/register", form)
	if r.StatusCode != 422 || !strings.Contains(r.body, "registration code is not right") || !strings.Contains(r.body, "Use an email address at partner.example") {
		t.Fatalf("wrong code and domain: %d\n%s", r.StatusCode, r.body)
	}
	if strings.Contains(r.body, `value="wrong"`) {
		t.Fatal("the code was echoed back")
	}
	form.Set("code", "LOBBY-42")
	form.Set("email", "grace@dept.partner.example")
	if r := c.post(mount+"/register", form); r.StatusCode != 303 {
		t.Fatalf("valid: %d\n%s", r.StatusCode, r.body)
	}
	g := b.guests(t)[0]
	if !strings.HasPrefix(g.Username, "guest-") || len(g.Username) != 12 || len(g.Password) != 16 || g.Company != "" {
		t.Fatalf("guest %q, password length %d, company %q", g.Username, len(g.Password), g.Company)
	}
}

func TestMountPoint(t *testing.T) {
	t.Parallel()
	b := setup(t, nil)
	c := b.client(t)
	r := c.get(mount + "/")
	if r.StatusCode != 303 || r.location() != mount+"/register" {
		t.Fatalf("GET %s/: %d → %q", mount, r.StatusCode, r.location())
	}
	r = c.get(mount + "/register")
	css := regexpFind(r.body, `href="\./(static/lobby\.css\?v=[0-9a-f]+)"`)
	if css == "" {
		t.Fatalf("no stylesheet link:\n%s", r.body)
	}
	if s := c.get(mount + "/" + css); s.StatusCode != 200 || !strings.Contains(s.Header.Get("Content-Type"), "text/css") {
		t.Fatalf("stylesheet: %d", s.StatusCode)
	}
	if r := c.get(mount + "/nope"); r.StatusCode != 404 || !strings.Contains(r.body, `href="./"`) {
		t.Fatalf("not found page: %d", r.StatusCode)
	}
	if h := r.Header.Get("Content-Security-Policy"); !strings.Contains(h, "default-src 'none'") {
		t.Fatalf("CSP %q", h)
	}
	// A success page one level down links back with ../
	form := c.registerForm()
	loc := c.post(mount+"/register", form).location()
	if body := c.get(loc).body; !strings.Contains(body, `href="../static/lobby.css`) || !strings.Contains(body, `href="../login"`) {
		t.Fatalf("links on %s not relative to the mount:\n%s", loc, body)
	}
}

// A mount that strips the prefix without its slash hands the mount point
// itself over as "": it must redirect into the mount so that relative links
// resolve there. A prefix stripped with its slash gives paths without one.
func TestMountPointWithoutSlash(t *testing.T) {
	t.Parallel()
	b := setup(t, nil)
	h := b.portal.Handler()
	rec := httptest.NewRecorder()
	req := httptest.NewRequest("GET", "/guest/portal", nil)
	http.StripPrefix("/guest/portal", h).ServeHTTP(rec, req)
	if rec.Code != 303 || rec.Header().Get("Location") != "portal/" {
		t.Fatalf("GET /guest/portal: %d → %q", rec.Code, rec.Header().Get("Location"))
	}
	rec = httptest.NewRecorder()
	http.StripPrefix("/guest/portal/", h).ServeHTTP(rec, httptest.NewRequest("GET", "/guest/portal/register", nil))
	if rec.Code != 200 || !strings.Contains(rec.Body.String(), `action="register"`) {
		t.Fatalf("GET register under a slash-stripped prefix: %d", rec.Code)
	}
	rec = httptest.NewRecorder()
	http.StripPrefix("/guest/portal/", h).ServeHTTP(rec, httptest.NewRequest("GET", "/guest/portal/", nil))
	if rec.Code != 303 || rec.Header().Get("Location") != "register" {
		t.Fatalf("GET /guest/portal/ under a slash-stripped prefix: %d → %q", rec.Code, rec.Header().Get("Location"))
	}
}

// The form's nonce is signed with an expiry: a made-up or old one registers
// nothing and gives a fresh form.
func TestRegisterNonceMustBeIssued(t *testing.T) {
	t.Parallel()
	b := setup(t, nil)
	c := b.client(t)
	for _, tc := range []struct {
		name  string
		nonce func(form url.Values) string
		wait  time.Duration
	}{
		{"made up", func(url.Values) string { return "AAAAAAAAAAAAAAAAAAAAAA" }, 0},
		{"tampered", func(f url.Values) string { n := f.Get("nonce"); return "B" + n[1:] }, 0},
		{"expired", func(f url.Values) string { return f.Get("nonce") }, 2*time.Hour + time.Second},
	} {
		form := c.registerForm()
		form.Set("nonce", tc.nonce(form))
		b.clock.Advance(tc.wait)
		r := c.post(mount+"/register", form)
		if r.StatusCode != 422 || !strings.Contains(r.body, "This form was out of date") {
			t.Fatalf("%s nonce: %d\n%s", tc.name, r.StatusCode, r.body)
		}
		if fresh := hidden(t, nonceRe, r.body); fresh == form.Get("nonce") {
			t.Fatalf("%s nonce: the page kept it", tc.name)
		}
	}
	if len(b.guests(t)) != 0 || b.mailCount(t) != 0 {
		t.Fatal("a form with a bad nonce registered someone")
	}
	// Within two hours the form works.
	form := c.registerForm()
	b.clock.Advance(2*time.Hour - time.Minute)
	if r := c.post(mount+"/register", form); r.StatusCode != 303 {
		t.Fatalf("a form 1h59m old: %d\n%s", r.StatusCode, r.body)
	}
}

// A form sent again with another email address does not lead to the first
// registration's success page: it is that other address's own
// registration, answered as a new form's would be.
func TestRegisterUsedFormOtherEmail(t *testing.T) {
	t.Parallel()
	b := setup(t, nil)
	c := b.client(t)
	form := c.registerForm()
	first := c.post(mount+"/register", form)
	if first.StatusCode != 303 {
		t.Fatalf("first: %d", first.StatusCode)
	}
	form.Set("email", "mallory@example.com")
	form.Set("first_name", "Mallory")
	r := c.post(mount+"/register", form)
	if r.StatusCode != 303 || !successPathRe.MatchString(r.location()) || strings.Split(r.location(), "?")[0] == strings.Split(first.location(), "?")[0] {
		t.Fatalf("reused form: %d → %q (first went to %q)", r.StatusCode, r.location(), first.location())
	}
	page := c.get(r.location())
	if strings.Contains(page.body, "ada@example.com") || strings.Contains(page.body, "Ada") || !strings.Contains(page.body, "Mallory") {
		t.Fatalf("the reused form's success page:\n%s", page.body)
	}
	gs := b.guests(t)
	if len(gs) != 2 || b.mailCount(t) != 2 {
		t.Fatalf("%d guests and %d emails, want Ada and Mallory, one email each", len(gs), b.mailCount(t))
	}
	// And sent once more, it is the same registration again.
	samePage := func(a, b string) bool { a, _, _ = strings.Cut(a, "?"); b, _, _ = strings.Cut(b, "?"); return a == b }
	if again := c.post(mount+"/register", form); again.StatusCode != 303 || !samePage(again.location(), r.location()) || len(b.guests(t)) != 2 {
		t.Fatalf("the reused form again: %d → %q", again.StatusCode, again.location())
	}
}

// Re-posting a form's nonce with another address answers the same whether
// the address the form was first sent with is registered or new: a form
// first sent for a registered address (answered without registering
// anyone) and one first sent for a new address (which registered it) both
// take a second address as a registration of its own.
func TestRegisterNonceReuseDoesNotTellRegistered(t *testing.T) {
	t.Parallel()
	b := setup(t, func(c *Config) { c.Policy.SuccessWait = 50 * time.Millisecond })
	registered(t, b, "victim@example.com")

	probe := func(target, second string) []int {
		c := b.client(t)
		form := c.registerForm()
		form.Set("email", target)
		var codes []int
		for _, email := range []string{target, second, target, second} {
			form.Set("email", email)
			r := c.post(mount+"/register", form)
			codes = append(codes, r.StatusCode)
			if r.StatusCode == 303 {
				codes = append(codes, c.get(r.location()).StatusCode)
			}
		}
		return codes
	}
	known := probe("victim@example.com", "probe1@example.com")
	fresh := probe("newcomer@example.com", "probe2@example.com")
	if fmt.Sprint(known) != fmt.Sprint(fresh) {
		t.Fatalf("a reused nonce answers %v after a registered address and %v after a new one", known, fresh)
	}
	for _, code := range known {
		if code != 303 && code != 200 {
			t.Fatalf("answers %v, want each post to redirect to a success page", known)
		}
	}
}
