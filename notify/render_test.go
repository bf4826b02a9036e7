package notify

import (
	"strings"
	"testing"
	"testing/fstest"
	"time"
)

func sampleData(name string) map[string]any {
	when := time.Date(2026, 3, 9, 17, 30, 0, 0, time.UTC)
	all := map[string]any{
		"GuestName": "Eve Example", "Username": "eve.example", "Password": "Zq8-x1-pw", "ValidUntil": when,
		"PortalURL": "https://guest.example.com/portal/", "SiteName": "Contoso Guest Wi-Fi",
		"GuestEmail": "eve@example.org", "Company": "Fabrikam", "Reason": "Workshop",
		"ApproveURL": "https://guest.example.com/sponsor/approve/abc", "DenyURL": "https://guest.example.com/sponsor/deny/abc",
		"ExpiresAt": when, "SentAt": when,
		"Severity": "critical", "Title": "The SMTP client secret expires in 7 days", "Detail": "Renew it in Entra ID.",
		"RaisedAt": when, "AlarmsURL": "https://guest.example.com/admin/alarms",
	}
	fields := map[string][]string{
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
	data := map[string]any{}
	for _, f := range fields[name] {
		data[f] = all[f]
	}
	return data
}

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
				want := formatTime(v)
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

func TestNewRendererChecksTheSet(t *testing.T) {
	t.Parallel()
	full := fstest.MapFS{}
	for _, name := range TemplateNames() {
		full[name+".subject.tmpl"] = &fstest.MapFile{Data: []byte("S {{.SiteName}}")}
		full[name+".txt.tmpl"] = &fstest.MapFile{Data: []byte("T")}
		full[name+".html.tmpl"] = &fstest.MapFile{Data: []byte("<p>H</p>")}
	}
	if _, err := NewRenderer(full); err != nil {
		t.Fatalf("complete set: %v", err)
	}
	tests := map[string]func(fstest.MapFS){
		"missing notification": func(m fstest.MapFS) {
			delete(m, "guest_expiry.subject.tmpl")
			delete(m, "guest_expiry.txt.tmpl")
			delete(m, "guest_expiry.html.tmpl")
		},
		"missing part":  func(m fstest.MapFS) { delete(m, "test_email.html.tmpl") },
		"stray file":    func(m fstest.MapFS) { m["notes.tmpl"] = &fstest.MapFile{Data: []byte("x")} },
		"syntax error":  func(m fstest.MapFS) { m["guest_denied.txt.tmpl"] = &fstest.MapFile{Data: []byte("{{.X")} },
		"unknown func":  func(m fstest.MapFS) { m["guest_denied.txt.tmpl"] = &fstest.MapFile{Data: []byte("{{nope .X}}")} },
		"empty subject": nil,
	}
	for name, mod := range tests {
		m := fstest.MapFS{}
		for k, v := range full {
			m[k] = v
		}
		if mod == nil {
			m["test_email.subject.tmpl"] = &fstest.MapFile{Data: []byte("  \n")}
			r, err := NewRenderer(m)
			if err != nil {
				t.Fatal(err)
			}
			if _, _, _, err := r.Render(TemplateTestEmail, map[string]any{"SiteName": "x"}); err == nil {
				t.Errorf("%s: rendered", name)
			}
			continue
		}
		mod(m)
		if _, err := NewRenderer(m); err == nil {
			t.Errorf("%s: NewRenderer succeeded", name)
		}
	}
}
