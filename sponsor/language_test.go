package sponsor

import (
	"net/http"
	"strings"
	"testing"

	"github.com/lobbyhq/lobby/storage"
)

// TestCreateGuestInALanguage: the sponsor picks the language of the
// guest's emails; it is stored with the guest, and the credentials email
// is in it. A language Lobby does not have is refused and creates nothing.
func TestCreateGuestInALanguage(t *testing.T) {
	t.Parallel()
	eachCreating(t, func(t *testing.T, b *creating) {
		c, _ := b.signedInAs(t, "desk", storage.RoleSponsor, "desk")
		page := c.get("/create")
		for _, want := range []string{`<select id="f-language" name="language"`, `<option value="en" lang="en" selected>English</option>`,
			`<option value="fr" lang="fr">Français</option>`} {
			if !strings.Contains(page.body, want) {
				t.Errorf("the create form lacks %s", want)
			}
		}
		form := goodGuest()
		form.Set("language", "fr")
		if r := c.post("/create", c.csrf("/create"), form); r.status != http.StatusSeeOther {
			t.Fatalf("POST /create in French: %d\n%s", r.status, r.body)
		}
		g, err := b.store.GetGuestByEmail(t.Context(), "grace@navy.example")
		if err != nil || g.Language != "fr" {
			t.Fatalf("stored guest language %q, %v; want fr", g.Language, err)
		}
		if p := c.get("/guests/" + g.ID.String()); !strings.Contains(p.body, "<dt>Email language</dt><dd>Français</dd>") {
			t.Errorf("the guest page does not say the emails are in French:\n%s", p.body)
		}
		mail, err := b.store.ListMail(t.Context(), storage.MailFilter{Query: "grace@navy.example"})
		if err != nil || len(mail) != 1 || !strings.HasPrefix(mail[0].Subject, "Votre accès invité à ") {
			t.Errorf("credentials email %v, %v; want one, in French", mail, err)
		}

		form = goodGuest()
		form.Set("email", "kay@example.com")
		form.Set("language", "xx")
		r := c.post("/create", c.csrf("/create"), form)
		if r.status != http.StatusUnprocessableEntity || !strings.Contains(r.body, "Choose one of the languages offered") {
			t.Errorf("an unknown language: %d, want 422 with the field's error:\n%s", r.status, r.body)
		}
		if _, err := b.store.GetGuestByEmail(t.Context(), "kay@example.com"); err == nil {
			t.Error("a guest was created with an unknown language")
		}
	})
}
