package notify

import (
	"errors"
	"os"
	"strings"
	"testing"
	"testing/fstest"
	"time"
)

func sampleData(name string) map[string]any { return SampleData(name) }

func TestRenderEveryTemplate(t *testing.T) {
	t.Parallel()
	r, err := NewRenderer(nil)
	if err != nil {
		t.Fatal(err)
	}
	if got, want := strings.Join(r.Names(), ","), "alarm,approval_request,guest_credentials,guest_denied,guest_expiry,guest_extended,guest_pending,guest_reset,test_email"; got != want {
		t.Errorf("Names = %s, want %s", got, want)
	}
	for _, name := range TemplateNames() {
		data := sampleData(name)
		subject, text, html, err := r.Render(name, data)
		if err != nil {
			t.Errorf("%s: %v", name, err)
			continue
		}
		for part, out := range map[string]string{"subject": subject, "text": text, "html": html} {
			if strings.TrimSpace(out) == "" {
				t.Errorf("%s %s is empty", name, part)
			}
			if strings.Contains(out, "<no value>") || strings.Contains(out, "&lt;no value&gt;") {
				t.Errorf("%s %s shows <no value>:\n%s", name, part, out)
			}
			if strings.Contains(out, "{{") {
				t.Errorf("%s %s holds template syntax", name, part)
			}
			// Every field given is used somewhere in the text and the HTML.
			if part == "subject" {
				continue
			}
			for k, v := range data {
				want := r.english().DateOf(v)
				if !strings.Contains(out, want) {
					t.Errorf("%s %s does not show %s (%q)", name, part, k, want)
				}
			}
		}
		if strings.ContainsAny(subject, "\r\n") {
			t.Errorf("%s subject spans lines: %q", name, subject)
		}
		if !strings.Contains(html, `<html lang="en">`) || strings.Contains(html, "<img") || strings.Contains(html, "<link") {
			t.Errorf("%s html: want lang, no images, no external styles", name)
		}
	}
}

func TestRenderWithStructData(t *testing.T) {
	t.Parallel()
	r, err := NewRenderer(nil)
	if err != nil {
		t.Fatal(err)
	}
	data := struct {
		GuestName, Username, Password, PortalURL, SiteName string
		ValidUntil                                         time.Time
	}{"Eve", "eve", "pw-1", "https://guest.example.com/", "Lobby", time.Date(2026, 3, 9, 17, 30, 0, 0, time.UTC)}
	subject, text, _, err := r.Render(TemplateGuestCredentials, data)
	if err != nil {
		t.Fatal(err)
	}
	if subject != "Your guest access to Lobby" || !strings.Contains(text, "Monday 9 March 2026, 17:30 UTC") {
		t.Errorf("subject %q, text:\n%s", subject, text)
	}
}

func TestRenderEscapesAndStaysOneLine(t *testing.T) {
	t.Parallel()
	r, err := NewRenderer(nil)
	if err != nil {
		t.Fatal(err)
	}
	data := sampleData(TemplateApprovalRequest)
	data["GuestName"] = "Eve <script>alert(1)</script>\r\nBcc: attacker@evil.example"
	data["Company"] = "" // optional fields may be empty
	data["ApproveURL"] = "javascript:alert(1)"
	data["SiteName"] = "Contoso\r\nBcc: attacker@evil.example\u2028Wi-Fi"
	subject, _, html, err := r.Render(TemplateApprovalRequest, data)
	if err != nil {
		t.Fatal(err)
	}
	if subject != "Guest approval request — Contoso Bcc: attacker@evil.example Wi-Fi" {
		t.Errorf("subject = %q, want it on one line", subject)
	}
	if strings.Contains(subject, "Eve") {
		t.Errorf("subject = %q shows what the guest typed", subject)
	}
	if strings.Contains(html, "<script>") || !strings.Contains(html, "&lt;script&gt;") {
		t.Error("the HTML body does not escape the guest's name")
	}
	if strings.Contains(html, `href="javascript:`) {
		t.Error("the HTML body links a javascript: URL")
	}
	if strings.Contains(html, ">Company<") {
		t.Error("an empty company still shows its row")
	}
}

func TestRenderErrors(t *testing.T) {
	t.Parallel()
	r, err := NewRenderer(nil)
	if err != nil {
		t.Fatal(err)
	}
	if _, _, _, err := r.Render("nope", nil); err == nil {
		t.Error("unknown template rendered")
	}
	data := sampleData(TemplateGuestCredentials)
	delete(data, "Password")
	if _, _, _, err := r.Render(TemplateGuestCredentials, data); err == nil || !strings.Contains(err.Error(), "Password") {
		t.Errorf("missing field: err = %v, want it named", err)
	}
	data = sampleData(TemplateGuestCredentials)
	data["Username"] = nil
	if _, _, _, err := r.Render(TemplateGuestCredentials, data); err == nil || !strings.Contains(err.Error(), "Username") {
		t.Errorf("nil field: err = %v, want it named", err)
	}
}

func TestNewRendererLayersADirectory(t *testing.T) {
	t.Parallel()
	// An operator's directory with one part of one notification: that
	// file replaces the embedded one, everything else stays embedded.
	dir := fstest.MapFS{
		"guest_denied.subject.tmpl":  &fstest.MapFile{Data: []byte("Not this time, {{.GuestName}}")},
		".guest_denied.txt.tmpl.swp": &fstest.MapFile{Data: []byte("editor junk")},
	}
	r, err := NewRenderer(dir)
	if err != nil {
		t.Fatal(err)
	}
	def, err := NewRenderer(nil)
	if err != nil {
		t.Fatal(err)
	}
	subject, text, html, err := r.Render(TemplateGuestDenied, SampleData(TemplateGuestDenied))
	if err != nil {
		t.Fatal(err)
	}
	_, wantText, wantHTML, _ := def.Render(TemplateGuestDenied, SampleData(TemplateGuestDenied))
	if subject != "Not this time, Eve Example" || text != wantText || html != wantHTML {
		t.Errorf("subject %q; text and HTML embedded: %t %t", subject, text == wantText, html == wantHTML)
	}
	for _, name := range TemplateNames() {
		if name == TemplateGuestDenied {
			continue
		}
		a, _ := r.Source(name)
		b, _ := def.Source(name)
		if a != b {
			t.Errorf("%s changed though the directory has no file for it", name)
		}
	}

	tests := map[string]fstest.MapFS{
		"stray file":           {"notes.tmpl": &fstest.MapFile{Data: []byte("x")}},
		"unknown notification": {"guest_welcome.txt.tmpl": &fstest.MapFile{Data: []byte("x")}},
		"syntax error":         {"guest_denied.txt.tmpl": &fstest.MapFile{Data: []byte("{{.X")}},
		"unknown func":         {"guest_denied.txt.tmpl": &fstest.MapFile{Data: []byte("{{nope .X}}")}},
	}
	for name, m := range tests {
		if _, err := NewRenderer(m); err == nil {
			t.Errorf("%s: NewRenderer succeeded", name)
		}
	}
	var te *TemplateError
	if _, err := NewRenderer(tests["syntax error"]); !errors.As(err, &te) || te.Part != "text" || te.Line != 1 {
		t.Errorf("syntax error: %v, want a TemplateError for the text part, line 1", err)
	}

	// An empty subject parses, but renders to nothing: refused then.
	r, err = NewRenderer(fstest.MapFS{"test_email.subject.tmpl": &fstest.MapFile{Data: []byte("  \n")}})
	if err != nil {
		t.Fatal(err)
	}
	if _, _, _, err := r.Render(TemplateTestEmail, map[string]any{"SiteName": "x", "SentAt": time.Now()}); err == nil {
		t.Error("empty subject: rendered")
	}
}

func TestRendererWithOverrides(t *testing.T) {
	t.Parallel()
	def, err := NewRenderer(nil)
	if err != nil {
		t.Fatal(err)
	}
	r, err := def.With(map[string]Source{TemplateGuestExpiry: {Text: "Bye {{.GuestName}} at {{datetime .ValidUntil}}"}})
	if err != nil {
		t.Fatal(err)
	}
	subject, text, _, err := r.Render(TemplateGuestExpiry, SampleData(TemplateGuestExpiry))
	if err != nil {
		t.Fatal(err)
	}
	wantSubject, _, _, _ := def.Render(TemplateGuestExpiry, SampleData(TemplateGuestExpiry))
	if text != "Bye Eve Example at Monday 9 March 2026, 17:30 UTC" || subject != wantSubject {
		t.Errorf("text %q (want the override), subject %q (want the default %q)", text, subject, wantSubject)
	}
	if _, text, _, _ := def.Render(TemplateGuestExpiry, SampleData(TemplateGuestExpiry)); strings.HasPrefix(text, "Bye") {
		t.Error("With changed the renderer it was called on")
	}
	if _, err := def.With(map[string]Source{"nope": {Text: "x"}}); err == nil {
		t.Error("an override of an unknown notification was accepted")
	}
	if _, err := def.With(map[string]Source{TemplateGuestExpiry: {HTML: "<p>{{if}}</p>"}}); err == nil {
		t.Error("an override that does not parse was accepted")
	}
}

func TestPreviewErrors(t *testing.T) {
	t.Parallel()
	r, err := NewRenderer(nil)
	if err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name string
		src  Source
		want *TemplateError // Message is a substring
	}{
		{"unclosed action", Source{Text: "Hello\n{{.GuestName"}, &TemplateError{Part: "text", Line: 2, Message: "unclosed action"}},
		{"unknown placeholder", Source{Subject: "Hi {{.Nickname}}"},
			&TemplateError{Part: "subject", Line: 1, Column: 5, Message: "no placeholder {{.Nickname}} in this email; it has {{.GuestName}}, {{.SiteName}}"}},
		{"unknown function", Source{HTML: "<p>\n{{shout .GuestName}}</p>"}, &TemplateError{Part: "html", Line: 2, Message: `function "shout" not defined`}},
		{"unclosed attribute", Source{HTML: "<p title=\"{{.GuestName}}>x</p>"}, &TemplateError{Part: "html", Message: "ends inside a tag, an attribute"}},
	}
	for _, tt := range tests {
		_, _, _, err := r.Preview(TemplateGuestDenied, tt.src, nil)
		var te *TemplateError
		if !errors.As(err, &te) {
			t.Errorf("%s: err = %v, want a *TemplateError", tt.name, err)
			continue
		}
		if te.Part != tt.want.Part || (tt.want.Line != 0 && te.Line != tt.want.Line) || (tt.want.Column != 0 && te.Column != tt.want.Column) ||
			!strings.Contains(te.Message, tt.want.Message) {
			t.Errorf("%s: got part %s line %d column %d %q, want %+v", tt.name, te.Part, te.Line, te.Column, te.Message, tt.want)
		}
		if !strings.Contains(err.Error(), "line") && tt.want.Line != 0 {
			t.Errorf("%s: %q does not name the line", tt.name, err)
		}
	}
	subject, text, html, err := r.Preview(TemplateGuestDenied, Source{Subject: "Sorry, {{.GuestName}}"}, nil)
	if err != nil || subject != "Sorry, Eve Example" || !strings.Contains(text, "Eve Example") || !strings.Contains(html, "Eve Example") {
		t.Errorf("preview: %q, %v", subject, err)
	}
	if _, _, _, err := r.Preview("nope", Source{}, nil); err == nil {
		t.Error("previewed an unknown notification")
	}
}

func TestEveryTemplateHasPlaceholdersAndSampleData(t *testing.T) {
	t.Parallel()
	r, err := NewRenderer(nil)
	if err != nil {
		t.Fatal(err)
	}
	for _, name := range TemplateNames() {
		ph := Placeholders(name)
		if len(ph) == 0 || TemplateTitle(name) == "" {
			t.Errorf("%s: no placeholders or title", name)
		}
		data := SampleData(name)
		for _, p := range ph {
			if p.Help == "" {
				t.Errorf("%s: placeholder %s has no help", name, p.Name)
			}
			if _, ok := data[p.Name]; !ok {
				t.Errorf("%s: sample data lacks %s", name, p.Name)
			}
		}
		if len(data) != len(ph) {
			t.Errorf("%s: sample data has %d fields, placeholders %d", name, len(data), len(ph))
		}
		if _, _, _, err := r.Preview(name, Source{}, nil); err != nil {
			t.Errorf("%s: sample data does not render: %v", name, err)
		}
	}
}

// TestTemplatesDocListsEveryPlaceholder: the operators' page on templates
// names every kind and each of its placeholders.
func TestTemplatesDocListsEveryPlaceholder(t *testing.T) {
	t.Parallel()
	doc, err := os.ReadFile("../docs/templates.md")
	if err != nil {
		t.Fatal(err)
	}
	for _, name := range TemplateNames() {
		_, section, ok := strings.Cut(string(doc), "### "+name+" ")
		if !ok {
			t.Errorf("docs/templates.md has no section for %s", name)
			continue
		}
		section, _, _ = strings.Cut(section, "### ")
		for _, p := range Placeholders(name) {
			if !strings.Contains(section, "`{{."+p.Name+"}}`") {
				t.Errorf("docs/templates.md: %s does not list {{.%s}}", name, p.Name)
			}
		}
	}
}
