package notify

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/url"
	"sync"
	"time"

	"github.com/lobbyhq/lobby/storage"
)

// SettingsKey is the storage setting key of the SMTP settings.
const SettingsKey = "smtp"

// Keys of the secret fields in [storage.Setting.Secrets], which the store seals.
const (
	secretClientSecret = "client_secret"
	secretPassword     = "password"
	// secretProxyURL holds a ProxyURL with credentials (user:password@).
	secretProxyURL = "proxy_url"
)

// DefaultSettingsCacheTTL is how long [StoreSettingsSource] reuses what it read.
const DefaultSettingsCacheTTL = 2 * time.Second

// LoadSettings reads the saved SMTP settings, with their secrets and Version
// set to the stored version. When they were never saved the error wraps
// [storage.ErrNotFound]: callers then start from defaults.
func LoadSettings(ctx context.Context, st storage.Store) (Settings, error) {
	row, err := st.GetSetting(ctx, SettingsKey)
	if errors.Is(err, storage.ErrNotFound) {
		return Settings{}, fmt.Errorf("notify: settings: the SMTP server is not set up yet: %w", storage.ErrNotFound)
	}
	if err != nil {
		return Settings{}, fmt.Errorf("notify: settings: load: %w", err)
	}
	var s Settings
	if len(row.Value) > 0 && string(row.Value) != "null" {
		if err := json.Unmarshal(row.Value, &s); err != nil {
			return Settings{}, fmt.Errorf("notify: settings: load: stored value is not valid: %w", err)
		}
	}
	s.ClientSecret = row.Secrets[secretClientSecret]
	s.Password = row.Secrets[secretPassword]
	if p, ok := row.Secrets[secretProxyURL]; ok {
		s.ProxyURL = p
	}
	s.Version = row.Version
	return s, nil
}

// SaveSettings validates s and saves it as the next version, if the stored
// version is still expectVersion (0 for the first save); otherwise the error
// wraps [storage.ErrConflict]. The secrets (the client secret, the password,
// and a proxy URL with credentials) go to the store's sealed secrets, the rest
// to the plain value. It returns s as saved, with its new Version.
//
// The admin page saves only after a successful [TestConnection].
func SaveSettings(ctx context.Context, st storage.Store, s Settings, expectVersion int64) (Settings, error) {
	return SaveSettingsBy(ctx, st, s, expectVersion, "")
}

// SaveSettingsBy is [SaveSettings] recording who saved (such as
// "staff:alice") with the setting.
func SaveSettingsBy(ctx context.Context, st storage.Store, s Settings, expectVersion int64, actor string) (Settings, error) {
	s.Version = 0
	if err := s.Validate(); err != nil {
		return Settings{}, err
	}
	plain := s
	plain.ClientSecret, plain.Password = "", ""
	sealProxy := proxyHasUserinfo(s.ProxyURL)
	if sealProxy {
		plain.ProxyURL = ""
	}
	value, err := json.Marshal(plain)
	if err != nil {
		return Settings{}, fmt.Errorf("notify: settings: save: %w", err)
	}
	secrets := map[string]string{}
	if s.ClientSecret != "" {
		secrets[secretClientSecret] = s.ClientSecret
	}
	if s.Password != "" {
		secrets[secretPassword] = s.Password
	}
	if sealProxy {
		secrets[secretProxyURL] = s.ProxyURL
	}
	row := &storage.Setting{Key: SettingsKey, Version: expectVersion, Value: value, Secrets: secrets, UpdatedBy: actor}
	err = st.PutSetting(ctx, row)
	if errors.Is(err, storage.ErrConflict) {
		return Settings{}, fmt.Errorf("notify: settings: someone else saved the SMTP settings meanwhile; "+
			"reload them and make your changes again: %w", err)
	}
	if err != nil {
		return Settings{}, fmt.Errorf("notify: settings: save: %w", err)
	}
	s.Version = row.Version
	return s, nil
}

// proxyHasUserinfo reports a proxy URL carrying credentials (user or
// user:password), which is sealed like the other secrets. One that does not
// parse is treated as if it did.
func proxyHasUserinfo(raw string) bool {
	if raw == "" {
		return false
	}
	u, err := url.Parse(raw)
	return err != nil || u.User != nil
}

// SettingsCache is a [SettingsSource] over the store that re-reads the
// settings at most once per TTL, and at once after Invalidate (call it
// after saving new settings). Errors are not cached.
type SettingsCache struct {
	st  storage.Store
	ttl time.Duration

	mu     sync.Mutex
	s      Settings
	readAt time.Time // zero: nothing cached
}

// NewSettingsCache returns a cache re-reading st's SMTP settings after ttl
// (ttl <= 0: on every call).
func NewSettingsCache(st storage.Store, ttl time.Duration) *SettingsCache {
	return &SettingsCache{st: st, ttl: ttl}
}

// StoreSettingsSource is the settings source of a dispatcher: the SMTP
// settings saved in st, re-read at most every [DefaultSettingsCacheTTL]. To
// apply a save at once, keep the [SettingsCache] and call Invalidate.
func StoreSettingsSource(st storage.Store) SettingsSource {
	return NewSettingsCache(st, DefaultSettingsCacheTTL).Get
}

// Get returns the settings, from the cache while fresh. It has the
// signature of a [SettingsSource].
func (c *SettingsCache) Get(ctx context.Context) (Settings, error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if !c.readAt.IsZero() && c.ttl > 0 && time.Since(c.readAt) < c.ttl {
		return c.s, nil
	}
	s, err := LoadSettings(ctx, c.st)
	if err != nil {
		return Settings{}, err
	}
	c.s, c.readAt = s, time.Now()
	return s, nil
}

// Invalidate makes the next Get read the store.
func (c *SettingsCache) Invalidate() {
	c.mu.Lock()
	c.readAt = time.Time{}
	c.mu.Unlock()
}
