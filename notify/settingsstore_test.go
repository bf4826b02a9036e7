package notify

import (
	"errors"
	"maps"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/lobbyhq/lobby/storage"
)

func TestSettingsStoreRoundTrip(t *testing.T) {
	t.Parallel()
	b := setup(t, nil)
	ctx := t.Context()

	if _, err := LoadSettings(ctx, b.store); !errors.Is(err, storage.ErrNotFound) {
		t.Fatalf("LoadSettings before any save: %v, want ErrNotFound", err)
	}

	in := testSettings()
	in.Version = 99 // ignored: the store numbers versions
	in.TrustedCAPEM = ""
	saved, err := SaveSettings(ctx, b.store, in, 0)
	if err != nil {
		t.Fatalf("SaveSettings: %v", err)
	}
	if saved.Version != 1 || saved.ClientSecret != testClientSecret {
		t.Fatalf("saved = %v, want version 1 with its secret", saved)
	}
	got, err := LoadSettings(ctx, b.store)
	if err != nil {
		t.Fatal(err)
	}
	if got != saved {
		t.Errorf("LoadSettings = %#v\nwant %#v", got, saved)
	}
	if got.ClientSecret != testClientSecret || !got.ClientSecretExpires.Equal(in.ClientSecretExpires) {
		t.Errorf("secret or expiry lost: %v", got)
	}

	row, err := b.store.GetSetting(ctx, SettingsKey)
	if err != nil {
		t.Fatal(err)
	}
	if strings.Contains(string(row.Value), testClientSecret) || strings.Contains(string(row.Value), "client_secret\"") {
		t.Errorf("the plain value holds the secret: %s", row.Value)
	}
	if row.Secrets[secretClientSecret] != testClientSecret {
		t.Errorf("secrets = %v", row.Secrets)
	}

	// A save based on a stale version is refused.
	in.Host = "smtp2.example.com"
	if _, err := SaveSettings(ctx, b.store, in, 0); !errors.Is(err, storage.ErrConflict) {
		t.Errorf("stale save: %v, want ErrConflict", err)
	}
	second, err := SaveSettingsBy(ctx, b.store, in, 1, "staff:alice")
	if err != nil || second.Version != 2 {
		t.Fatalf("second save = %v, %v", second, err)
	}
	if row, _ := b.store.GetSetting(ctx, SettingsKey); row.UpdatedBy != "staff:alice" {
		t.Errorf("UpdatedBy = %q", row.UpdatedBy)
	}

	// Invalid settings are not saved.
	bad := in
	bad.Host = ""
	var ve ValidationErrors
	if _, err := SaveSettings(ctx, b.store, bad, 2); !errors.As(err, &ve) || len(ve.For("host")) == 0 {
		t.Errorf("invalid save: %v, want a host validation error", err)
	}

	// A password-mode save drops the old client secret.
	pw := Settings{Host: "relay.example.com", From: "lobby@example.com", AuthMode: AuthPassword, Username: "lobby", Password: "pw-secret"}
	if _, err := SaveSettings(ctx, b.store, pw, 2); err != nil {
		t.Fatal(err)
	}
	got, _ = LoadSettings(ctx, b.store)
	if got.Password != "pw-secret" || got.ClientSecret != "" || got.Version != 3 {
		t.Errorf("after the password save: %v (password set: %t)", got, got.Password != "")
	}
}

func TestSettingsCache(t *testing.T) {
	t.Parallel()
	b := setup(t, nil)
	ctx := t.Context()
	c := NewSettingsCache(b.store, time.Hour)
	if _, err := c.Get(ctx); !errors.Is(err, storage.ErrNotFound) {
		t.Fatalf("Get before a save: %v", err)
	}
	if _, err := SaveSettings(ctx, b.store, testSettings(), 0); err != nil {
		t.Fatal(err)
	}
	got, err := c.Get(ctx) // errors are not cached
	if err != nil || got.Version != 1 {
		t.Fatalf("Get = %v, %v", got, err)
	}
	s2 := testSettings()
	s2.Host = "smtp2.example.com"
	if _, err := SaveSettings(ctx, b.store, s2, 1); err != nil {
		t.Fatal(err)
	}
	if got, _ := c.Get(ctx); got.Version != 1 {
		t.Errorf("within the TTL: version %d, want the cached 1", got.Version)
	}
	c.Invalidate()
	if got, _ := c.Get(ctx); got.Version != 2 || got.Host != "smtp2.example.com" {
		t.Errorf("after Invalidate: %v, want version 2", got)
	}

	uncached := NewSettingsCache(b.store, 0)
	s2.Host = "smtp3.example.com"
	if _, err := SaveSettings(ctx, b.store, s2, 2); err != nil {
		t.Fatal(err)
	}
	if got, _ := uncached.Get(ctx); got.Version != 3 {
		t.Errorf("TTL 0: version %d, want 3", got.Version)
	}
	if got, err := StoreSettingsSource(b.store)(ctx); err != nil || got.Version != 3 {
		t.Errorf("StoreSettingsSource = %v, %v", got, err)
	}
}

// A proxy URL with credentials is a secret: it goes to the sealed secrets,
// never to the plain value, and loads back whole. One without credentials
// stays in the plain value.
func TestSettingsStoreSealsProxyCredentials(t *testing.T) {
	t.Parallel()
	b := setup(t, nil)
	ctx := t.Context()
	const proxyPass = "Pr0xy-pass~4d2c"
	withCreds := "http://lobby-proxy-user:" + proxyPass + "@proxy.example.com:3128"

	in := testSettings()
	in.ProxyURL = withCreds
	saved, err := SaveSettings(ctx, b.store, in, 0)
	if err != nil {
		t.Fatal(err)
	}
	row, err := b.store.GetSetting(ctx, SettingsKey)
	if err != nil {
		t.Fatal(err)
	}
	for _, leak := range []string{proxyPass, "lobby-proxy-user", "proxy.example.com"} {
		if strings.Contains(string(row.Value), leak) {
			t.Errorf("the plain value holds %q: %s", leak, row.Value)
		}
	}
	if row.Secrets[secretProxyURL] != withCreds {
		t.Errorf("secrets lack the proxy URL: %v", slices.Sorted(maps.Keys(row.Secrets)))
	}
	got, err := LoadSettings(ctx, b.store)
	if err != nil {
		t.Fatal(err)
	}
	if got != saved || got.ProxyURL != withCreds {
		t.Errorf("LoadSettings = %v, want the proxy URL with its credentials back", got)
	}

	// Without credentials the proxy stays readable; no stale secret remains.
	in.ProxyURL = "http://proxy.example.com:3128"
	if _, err := SaveSettings(ctx, b.store, in, 1); err != nil {
		t.Fatal(err)
	}
	row, _ = b.store.GetSetting(ctx, SettingsKey)
	if !strings.Contains(string(row.Value), `"proxy_url":"http://proxy.example.com:3128"`) {
		t.Errorf("plain value %s, want the proxy URL", row.Value)
	}
	if _, ok := row.Secrets[secretProxyURL]; ok {
		t.Error("a proxy URL without credentials is still in the secrets")
	}
	if got, _ := LoadSettings(ctx, b.store); got.ProxyURL != in.ProxyURL {
		t.Errorf("ProxyURL = %q, want %q", got.ProxyURL, in.ProxyURL)
	}

	// A row written before proxy URLs were sealed still loads.
	old := &storage.Setting{Key: SettingsKey, Version: 2, Secrets: map[string]string{secretClientSecret: testClientSecret},
		Value: []byte(`{"host":"smtp.example.com","from":"no-reply@example.com","proxy_url":"` + withCreds + `","version":0}`)}
	if err := b.store.PutSetting(ctx, old); err != nil {
		t.Fatal(err)
	}
	if got, err := LoadSettings(ctx, b.store); err != nil || got.ProxyURL != withCreds {
		t.Errorf("old row: ProxyURL %q, err %v", got.ProxyURL, err)
	}
}
