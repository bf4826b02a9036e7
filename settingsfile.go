package lobby

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/url"
	"slices"
	"time"

	"github.com/lobbyhq/lobby/guest"
	"github.com/lobbyhq/lobby/notify"
	"github.com/lobbyhq/lobby/storage"
)

// SettingsFileVersion is the version of the settings file ExportSettings
// writes and the one ImportSettings reads.
const SettingsFileVersion = 1

// settingsDocuments are the keys of the settings documents a settings file
// carries, in order: the SMTP settings, the trusted CA certificates of the
// admin pages, the guest portal's settings and the edited email templates.
// A new settings document adds its key here; its secret fields, kept in
// storage.Setting.Secrets (the registration code of the portal settings,
// say), never leave the store.
var settingsDocuments = []string{notify.SettingsKey, trustedCAKey, guest.PortalSettingsKey, notify.TemplatesSettingsKey}

// trustedCAKey is the settings document of the admin pages' trusted CA
// certificates (package admin keeps it).
const trustedCAKey = "smtp.trusted_ca"

// SettingsFile is the JSON document of ExportSettings: every settings
// document (the SMTP settings and their trusted CA certificates, ...), the
// guest types and the sponsor groups, without any secret (the client
// secret, the SMTP password, a proxy's credentials, any sealed field): the
// guide this follows leaves them out of backup and restore.
type SettingsFile struct {
	Version    int       `json:"version"`
	ExportedAt time.Time `json:"exported_at"`
	// Settings maps a settings document's key to its plain fields.
	Settings      map[string]json.RawMessage `json:"settings"`
	GuestTypes    []fileGuestType            `json:"guest_types"`
	SponsorGroups []fileSponsorGroup         `json:"sponsor_groups"`
}

// fileGuestType is a storage.GuestType with its durations as Go duration
// strings ("24h0m0s"), for a person reading the file.
type fileGuestType struct {
	Name            string `json:"name"`
	Description     string `json:"description,omitempty"`
	DefaultDuration string `json:"default_duration"`
	MaxDuration     string `json:"max_duration"`
	RequireApproval bool   `json:"require_approval,omitempty"`
	ExpiryNotice    string `json:"expiry_notice"`
	FromFirstSignIn bool   `json:"from_first_sign_in,omitempty"`
}

type fileSponsorGroup struct {
	Name        string               `json:"name"`
	Description string               `json:"description,omitempty"`
	GuestTypes  []string             `json:"guest_types,omitempty"`
	ManageAll   bool                 `json:"manage_all,omitempty"`
	Permissions []storage.Permission `json:"permissions"`
}

// ExportSettings writes the settings as a SettingsFile in indented JSON,
// without secrets.
func ExportSettings(ctx context.Context, st storage.Store, now time.Time) ([]byte, error) {
	f := SettingsFile{Version: SettingsFileVersion, ExportedAt: now.UTC().Truncate(time.Second), Settings: map[string]json.RawMessage{}}
	for _, key := range settingsDocuments {
		s, err := st.GetSetting(ctx, key)
		if errors.Is(err, storage.ErrNotFound) {
			continue
		}
		if err != nil {
			return nil, fmt.Errorf("lobby: export settings: read %s: %w", key, err)
		}
		// Value holds the plain fields only; Secrets is not read. The SMTP
		// settings go through the import's check too, which blanks any
		// secret field, should one ever be in Value.
		value := s.Value
		if key == notify.SettingsKey {
			if value, err = plainSMTP(value, key, &ImportReport{}); err != nil {
				return nil, fmt.Errorf("lobby: export settings: %w", err)
			}
		}
		f.Settings[key] = value
	}
	types, err := st.ListGuestTypes(ctx)
	if err != nil {
		return nil, fmt.Errorf("lobby: export settings: guest types: %w", err)
	}
	for _, t := range types {
		f.GuestTypes = append(f.GuestTypes, fileGuestType{
			Name: t.Name, Description: t.Description, DefaultDuration: t.DefaultDuration.String(),
			MaxDuration: t.MaxDuration.String(), RequireApproval: t.RequireApproval, ExpiryNotice: t.ExpiryNotice.String(),
			FromFirstSignIn: t.FromFirstSignIn,
		})
	}
	groups, err := st.ListSponsorGroups(ctx)
	if err != nil {
		return nil, fmt.Errorf("lobby: export settings: sponsor groups: %w", err)
	}
	for _, g := range groups {
		f.SponsorGroups = append(f.SponsorGroups, fileSponsorGroup{
			Name: g.Name, Description: g.Description, GuestTypes: g.GuestTypes, ManageAll: g.ManageAll, Permissions: g.Permissions,
		})
	}
	out, err := json.MarshalIndent(f, "", "  ")
	if err != nil {
		return nil, fmt.Errorf("lobby: export settings: %w", err)
	}
	return append(out, '\n'), nil
}

// ImportReport says what ImportSettings changed.
type ImportReport struct {
	Settings      []string // the settings documents written
	GuestTypes    int      // guest types created or replaced
	SponsorGroups int      // sponsor groups created or replaced
	// SecretsKept are the stored secrets left as they were ("smtp.client_secret"):
	// an import never changes one.
	SecretsKept []string
	// SecretsIgnored are secret fields the file had a value for, which
	// were not imported ("smtp.client_secret"): set them on their page.
	SecretsIgnored []string
}

// ImportSettings reads a SettingsFile and saves what it holds in one
// transaction: each settings document as the next version of its key, and
// the guest types and sponsor groups it names (others are left alone). A
// stored secret is never overwritten: the stored secrets of a document are
// kept whatever the file says, and secret fields in the file are ignored
// (reported in SecretsIgnored). A file of another version, or with fields
// this version does not know, is refused and changes nothing. The caller
// audits the import. The SMTP settings take effect on every node at the
// next email; run Test Connection after importing them.
func ImportSettings(ctx context.Context, st storage.Store, data []byte, actor string) (ImportReport, error) {
	var head struct {
		Version *int `json:"version"`
	}
	if err := json.Unmarshal(data, &head); err != nil {
		return ImportReport{}, fmt.Errorf("lobby: import settings: the file is not a Lobby settings file (JSON): %w", err)
	}
	switch {
	case head.Version == nil:
		return ImportReport{}, errors.New("lobby: import settings: the file has no \"version\": it is not a Lobby settings export")
	case *head.Version != SettingsFileVersion:
		return ImportReport{}, fmt.Errorf("lobby: import settings: the file is version %d, and this Lobby reads version %d only; "+
			"export the settings again with this version of Lobby, or upgrade Lobby", *head.Version, SettingsFileVersion)
	}
	var f SettingsFile
	dec := json.NewDecoder(bytes.NewReader(data))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&f); err != nil {
		return ImportReport{}, fmt.Errorf("lobby: import settings: %w", err)
	}
	for key := range f.Settings {
		if !slices.Contains(settingsDocuments, key) {
			return ImportReport{}, fmt.Errorf("lobby: import settings: unknown settings document %q (this Lobby knows %v)", key, settingsDocuments)
		}
	}
	types := make([]storage.GuestType, 0, len(f.GuestTypes))
	for _, t := range f.GuestTypes {
		gt, err := t.guestType()
		if err != nil {
			return ImportReport{}, fmt.Errorf("lobby: import settings: guest type %q: %w", t.Name, err)
		}
		types = append(types, gt)
	}

	var rep ImportReport
	err := st.WithTx(ctx, func(tx storage.Store) error {
		rep = ImportReport{}
		for _, key := range settingsDocuments {
			value, ok := f.Settings[key]
			if !ok {
				continue
			}
			if err := importDocument(ctx, tx, key, value, actor, &rep); err != nil {
				return err
			}
		}
		for _, t := range types {
			if err := tx.PutGuestType(ctx, t); err != nil {
				return fmt.Errorf("guest type %q: %w", t.Name, err)
			}
			rep.GuestTypes++
		}
		for _, g := range f.SponsorGroups {
			err := tx.PutSponsorGroup(ctx, storage.SponsorGroup{Name: g.Name, Description: g.Description,
				GuestTypes: g.GuestTypes, ManageAll: g.ManageAll, Permissions: g.Permissions})
			if err != nil {
				return fmt.Errorf("sponsor group %q: %w", g.Name, err)
			}
			rep.SponsorGroups++
		}
		return nil
	})
	if err != nil {
		return ImportReport{}, fmt.Errorf("lobby: import settings (nothing was changed): %w", err)
	}
	return rep, nil
}

// importDocument saves value as the next version of the settings document
// key, with the stored secrets as they were.
func importDocument(ctx context.Context, tx storage.Store, key string, value json.RawMessage, actor string, rep *ImportReport) error {
	cur, err := tx.GetSetting(ctx, key)
	switch {
	case errors.Is(err, storage.ErrNotFound):
		cur = &storage.Setting{Key: key}
	case err != nil:
		return fmt.Errorf("read %s: %w", key, err)
	}
	if key == notify.SettingsKey {
		if value, err = plainSMTP(value, key, rep); err != nil {
			return err
		}
	}
	for name := range cur.Secrets {
		rep.SecretsKept = append(rep.SecretsKept, key+"."+name)
	}
	slices.Sort(rep.SecretsKept)
	next := &storage.Setting{Key: key, Version: cur.Version, Value: value, Secrets: cur.Secrets, UpdatedBy: actor}
	if err := tx.PutSetting(ctx, next); err != nil {
		return fmt.Errorf("save %s: %w", key, err)
	}
	rep.Settings = append(rep.Settings, key)
	return nil
}

// plainSMTP checks the SMTP settings of a file and returns them as stored:
// their plain fields, secret fields blanked (and noted in rep).
func plainSMTP(value json.RawMessage, key string, rep *ImportReport) (json.RawMessage, error) {
	var s notify.Settings
	dec := json.NewDecoder(bytes.NewReader(value))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&s); err != nil {
		return nil, fmt.Errorf("%s: %w", key, err)
	}
	ignore := func(field string, v *string) {
		if *v != "" {
			rep.SecretsIgnored = append(rep.SecretsIgnored, key+"."+field)
			*v = ""
		}
	}
	ignore("client_secret", &s.ClientSecret)
	ignore("password", &s.Password)
	if proxyHasCredentials(s.ProxyURL) {
		ignore("proxy_url", &s.ProxyURL)
	}
	s.Version = 0
	out, err := json.Marshal(s)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", key, err)
	}
	return out, nil
}

// proxyHasCredentials reports a proxy URL with a user or password in it,
// which the store seals as a secret; one that does not parse is taken as
// if it had.
func proxyHasCredentials(raw string) bool {
	if raw == "" {
		return false
	}
	u, err := url.Parse(raw)
	return err != nil || u.User != nil
}

func (t fileGuestType) guestType() (storage.GuestType, error) {
	gt := storage.GuestType{Name: t.Name, Description: t.Description, RequireApproval: t.RequireApproval, FromFirstSignIn: t.FromFirstSignIn}
	for _, d := range []struct {
		field string
		in    string
		out   *time.Duration
	}{
		{"default_duration", t.DefaultDuration, &gt.DefaultDuration},
		{"max_duration", t.MaxDuration, &gt.MaxDuration},
		{"expiry_notice", t.ExpiryNotice, &gt.ExpiryNotice},
	} {
		if d.in == "" {
			continue
		}
		v, err := time.ParseDuration(d.in)
		if err != nil {
			return storage.GuestType{}, fmt.Errorf("%s %q is not a duration such as 24h: %w", d.field, d.in, err)
		}
		*d.out = v
	}
	if t.Name == "" {
		return storage.GuestType{}, errors.New("the name is empty")
	}
	return gt, nil
}
