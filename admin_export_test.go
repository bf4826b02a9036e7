package lobby

import (
	"bytes"
	"encoding/json"
	"io"
	"mime/multipart"
	"net/http"
	"strings"
	"testing"

	"github.com/lobbyhq/lobby/notify"
	"github.com/lobbyhq/lobby/storage"
)

// The admin side's export and import page, with the real settings file:
// the download holds no secret, and an upload that changes the settings
// (and carries a secret of its own) keeps the stored secrets.
func TestAdminExportImportPage(t *testing.T) {
	t.Parallel()
	for _, backend := range []string{"sqlite", "postgres"} {
		t.Run(backend, func(t *testing.T) {
			t.Parallel()
			b := setupOn(t, backend, hostNetHTTP, nil)
			ctx := t.Context()
			cur, err := notify.LoadSettings(ctx, b.store)
			if err != nil {
				t.Fatal(err)
			}
			s := exportSettings()
			if _, err := notify.SaveSettings(ctx, b.store, s, cur.Version); err != nil {
				t.Fatal(err)
			}
			admin := b.signInStaffAt(t, "root", storage.RoleAdmin, "")

			res, data := admin.get(t, "/guest/admin/export/settings.json")
			if res.StatusCode != http.StatusOK || res.Header.Get("Content-Type") != "application/json" ||
				!strings.Contains(res.Header.Get("Content-Disposition"), "attachment") || !strings.Contains(data, "smtp.office365.com") {
				t.Fatalf("download = %d %v:\n%s", res.StatusCode, res.Header, data)
			}
			for _, secret := range []string{exportSecret, exportProxySecret} {
				if strings.Contains(data, secret) {
					t.Fatalf("the downloaded settings hold a secret:\n%s", data)
				}
			}

			// The file, changed: another host, and a client secret that
			// must not replace the stored one.
			var doc map[string]any
			if err := json.Unmarshal([]byte(data), &doc); err != nil {
				t.Fatal(err)
			}
			smtp := doc["settings"].(map[string]any)["smtp"].(map[string]any)
			smtp["host"] = "smtp.example.net"
			smtp["client_secret"] = "an-attacker-secret"
			file, _ := json.Marshal(doc)

			tok := admin.form(t, "/guest/admin/export").Get("csrf_token")
			var body bytes.Buffer
			mw := multipart.NewWriter(&body)
			_ = mw.WriteField("csrf_token", tok)
			fw, _ := mw.CreateFormFile("file", "lobby-settings.json")
			_, _ = fw.Write(file)
			_ = mw.Close()
			req, _ := http.NewRequest(http.MethodPost, b.srv.URL+"/guest/admin/export/import", &body)
			req.Header.Set("Content-Type", mw.FormDataContentType())
			res, err = admin.client.Do(req)
			if err != nil {
				t.Fatal(err)
			}
			page, _ := io.ReadAll(res.Body)
			res.Body.Close()
			if res.StatusCode != http.StatusOK || !strings.Contains(string(page), "Imported lobby-settings.json") ||
				!strings.Contains(string(page), "Stored secrets kept as they were: <code>smtp.client_secret</code>") ||
				!strings.Contains(string(page), "not imported (set them on their page): <code>smtp.client_secret</code>") {
				t.Fatalf("import = %d:\n%s", res.StatusCode, page)
			}
			got, err := notify.LoadSettings(ctx, b.store)
			if err != nil {
				t.Fatal(err)
			}
			if got.Host != "smtp.example.net" || got.ClientSecret != exportSecret || got.ProxyURL != s.ProxyURL {
				t.Errorf("after the import: host %s, secret kept %v, proxy kept %v; want smtp.example.net with both kept",
					got.Host, got.ClientSecret == exportSecret, got.ProxyURL == s.ProxyURL)
			}
			for _, secret := range []string{exportSecret, exportProxySecret, "an-attacker-secret"} {
				if strings.Contains(string(page), secret) {
					t.Errorf("the import's page shows a secret")
				}
			}
			entries, err := b.store.ListAuditWhere(ctx, storage.AuditFilter{ActionPrefix: "settings."})
			if err != nil || len(entries) != 2 || entries[0].Action != "settings.import" || entries[0].Actor != "staff:root" {
				t.Errorf("audit = %+v, %v; want the export and the import", entries, err)
			}

			// A file that is no settings file: refused, nothing changed.
			body.Reset()
			mw = multipart.NewWriter(&body)
			_ = mw.WriteField("csrf_token", tok)
			fw, _ = mw.CreateFormFile("file", "notes.txt")
			_, _ = fw.Write([]byte("hello"))
			_ = mw.Close()
			req, _ = http.NewRequest(http.MethodPost, b.srv.URL+"/guest/admin/export/import", &body)
			req.Header.Set("Content-Type", mw.FormDataContentType())
			res, err = admin.client.Do(req)
			if err != nil {
				t.Fatal(err)
			}
			page, _ = io.ReadAll(res.Body)
			res.Body.Close()
			if res.StatusCode != http.StatusUnprocessableEntity || !strings.Contains(string(page), "Nothing was imported") {
				t.Errorf("import of a text file = %d:\n%s", res.StatusCode, page)
			}
		})
	}
}
