package notify

import (
	"strings"
	"testing"
	"testing/fstest"
	"time"
)

// TestRenderInLanguages: the guest emails come out in the guest's
// language, dates included; the emails to staff stay English.
func TestRenderInLanguages(t *testing.T) {
	t.Parallel()
	r, err := NewRenderer(nil)
	if err != nil {
		t.Fatal(err)
	}
	data := func() map[string]any {
		return map[string]any{"GuestName": "Lena Schmidt", "Username": "lena", "Password": "Zq8-x1-pw",
			"ValidUntil": time.Date(2026, 3, 9, 17, 30, 0, 0, time.UTC), "PortalURL": "https://guest.example.com/portal/login", "SiteName": "Lobby"}
	}
	for _, tc := range []struct{ lang, subject, text, html string }{
		{"en", "Your guest access to Lobby", "Monday 9 March 2026, 17:30 UTC", `<html lang="en">`},
		{"", "Your guest access to Lobby", "Valid until: Monday 9 March 2026", `<html lang="en">`},
		{"xx", "Your guest access to Lobby", "Hello Lena Schmidt,", `<html lang="en">`},
		{"de", "Ihr Gastzugang zu Lobby", "Gültig bis: Montag, 9. März 2026, 17:30 UTC", `<html lang="de">`},
		{"fr", "Votre accès invité à Lobby", "Valable jusqu'au: lundi 9 mars 2026, 17:30 UTC", `<html lang="fr">`},
		{"es", "Su acceso de invitado a Lobby", "Válido hasta: lunes, 9 de marzo de 2026, 17:30 UTC", `<html lang="es">`},
	} {
		subject, text, html, err := r.RenderIn(tc.lang, TemplateGuestCredentials, data())
		if err != nil {
			t.Fatalf("%q: %v", tc.lang, err)
		}
		if subject != tc.subject || !strings.Contains(text, tc.text) || !strings.Contains(html, tc.html) ||
			!strings.Contains(text, "Zq8-x1-pw") || !strings.Contains(html, "Zq8-x1-pw") {
			t.Errorf("%q: subject %q, want %q; text has %q: %v; html has %s: %v", tc.lang, subject, tc.subject,
				tc.text, strings.Contains(text, tc.text), tc.html, strings.Contains(html, tc.html))
		}
	}
	// Every guest email renders in every language, with no key left
	// untranslated (a missing message would show its id, "email.…").
	for _, lang := range []string{"de", "fr", "es"} {
		for _, name := range []string{TemplateGuestCredentials, TemplateGuestPending, TemplateGuestDenied,
			TemplateGuestExpiry, TemplateGuestReset, TemplateGuestExtended} {
			subject, text, html, err := r.RenderIn(lang, name, SampleData(name))
			if err != nil {
				t.Fatalf("%s %s: %v", lang, name, err)
			}
			if all := subject + text + html; strings.Contains(all, "email.") || strings.Contains(all, "Hello") {
				t.Errorf("%s %s is not all translated:\n%s\n%s", lang, name, subject, text)
			}
		}
	}
	// The approver's email stays English.
	subject, text, _, err := r.RenderIn("de", TemplateApprovalRequest, SampleData(TemplateApprovalRequest))
	enSubject, enText, _, _ := r.Render(TemplateApprovalRequest, SampleData(TemplateApprovalRequest))
	if err != nil || subject != enSubject || text != enText {
		t.Errorf("approval request in de: %q, %v; want the English %q", subject, err, enSubject)
	}
}

// TestEditedTemplatesAreEnglish: an admin's override changes the English
// email only; the other languages keep the built-in translation, unless
// the templates directory has files for that language.
func TestEditedTemplatesAreEnglish(t *testing.T) {
	t.Parallel()
	dir := fstest.MapFS{
		"guest_expiry.subject.tmpl":    {Data: []byte("Operator: ends soon, {{.GuestName}}")},
		"de/guest_expiry.subject.tmpl": {Data: []byte("Betreiber: bald vorbei, {{.GuestName}}")},
	}
	r, err := NewRenderer(dir)
	if err != nil {
		t.Fatal(err)
	}
	r, err = r.With(map[string]Source{TemplateGuestCredentials: {Subject: "Admin: welcome {{.GuestName}}"}})
	if err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct{ lang, name, want string }{
		{"en", TemplateGuestCredentials, "Admin: welcome Eve Example"},
		{"de", TemplateGuestCredentials, "Ihr Gastzugang zu Contoso Guest Wi-Fi"},
		{"fr", TemplateGuestCredentials, "Votre accès invité à Contoso Guest Wi-Fi"},
		{"en", TemplateGuestExpiry, "Operator: ends soon, Eve Example"},
		{"de", TemplateGuestExpiry, "Betreiber: bald vorbei, Eve Example"},
		{"es", TemplateGuestExpiry, "Su acceso de invitado a Contoso Guest Wi-Fi termina pronto"},
	} {
		subject, _, _, err := r.RenderIn(tc.lang, tc.name, SampleData(tc.name))
		if err != nil || subject != tc.want {
			t.Errorf("%s %s: subject %q, %v; want %q", tc.lang, tc.name, subject, err, tc.want)
		}
	}
	if _, err := NewRenderer(fstest.MapFS{"de/nonsense.txt.tmpl": {Data: []byte("x")}}); err == nil {
		t.Error("a directory de/ with a file for no notification was accepted")
	}
}
