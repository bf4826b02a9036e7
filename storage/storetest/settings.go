package storetest

import (
	"bytes"
	"encoding/json"
	"errors"
	"maps"
	"reflect"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/lobbyhq/lobby/storage"
)

// jsonEqual compares JSON documents by meaning (Postgres jsonb reformats them).
func jsonEqual(a, b []byte) bool {
	var x, y any
	if json.Unmarshal(a, &x) != nil || json.Unmarshal(b, &y) != nil {
		return false
	}
	return reflect.DeepEqual(x, y)
}

func testSettings(t *testing.T, b Backend) {
	bb := setup(t, b)
	s, ctx := bb.store, t.Context()
	if _, err := s.GetSetting(ctx, "smtp"); !errors.Is(err, storage.ErrNotFound) {
		t.Fatalf("GetSetting before any save: err = %v, want ErrNotFound", err)
	}

	first := &storage.Setting{
		Key:       "smtp",
		Value:     json.RawMessage(`{"host": "smtp.office365.com", "port": 587, "tls": "starttls"}`),
		Secrets:   map[string]string{"client_secret": "s3cr3t~value", "other": "x"},
		UpdatedBy: "staff:root",
	}
	if err := s.PutSetting(ctx, first); err != nil {
		t.Fatalf("PutSetting (first save): %v", err)
	}
	if first.Version != 1 || !first.UpdatedAt.Equal(bb.clock.now()) {
		t.Fatalf("first save: Version %d, UpdatedAt %v; want 1 and %v", first.Version, first.UpdatedAt, bb.clock.now())
	}
	check := func(name string, want *storage.Setting) {
		t.Helper()
		got, err := s.GetSetting(ctx, want.Key)
		if err != nil {
			t.Fatalf("%s: GetSetting: %v", name, err)
		}
		if got.Key != want.Key || got.Version != want.Version || !got.UpdatedAt.Equal(want.UpdatedAt) || got.UpdatedBy != want.UpdatedBy {
			t.Errorf("%s: got key %q version %d at %v by %q; want %q %d %v %q", name, got.Key, got.Version, got.UpdatedAt,
				got.UpdatedBy, want.Key, want.Version, want.UpdatedAt, want.UpdatedBy)
		}
		if !jsonEqual(got.Value, want.Value) {
			t.Errorf("%s: Value = %s, want %s", name, got.Value, want.Value)
		}
		if len(got.Secrets) != len(want.Secrets) || (len(want.Secrets) > 0 && !maps.Equal(got.Secrets, want.Secrets)) {
			t.Errorf("%s: the secrets did not round-trip (%d keys, want %d)", name, len(got.Secrets), len(want.Secrets))
		}
	}
	check("after the first save", first)

	again := &storage.Setting{Key: "smtp", Value: json.RawMessage(`{}`)}
	if err := s.PutSetting(ctx, again); !errors.Is(err, storage.ErrConflict) {
		t.Fatalf("a second first save: err = %v, want ErrConflict", err)
	}

	bb.clock.Advance(time.Minute)
	second := &storage.Setting{Key: "smtp", Version: 1, Value: json.RawMessage(`{"host":"smtp.office365.com","port":465}`),
		UpdatedBy: "staff:other"}
	if err := s.PutSetting(ctx, second); err != nil {
		t.Fatalf("PutSetting (version 1): %v", err)
	}
	if second.Version != 2 || !second.UpdatedAt.Equal(bb.clock.now()) {
		t.Fatalf("second save: Version %d, UpdatedAt %v; want 2 and %v", second.Version, second.UpdatedAt, bb.clock.now())
	}
	check("after the second save (secrets removed)", second)

	stale := &storage.Setting{Key: "smtp", Version: 1, Value: json.RawMessage(`{"host":"stale"}`)}
	if err := s.PutSetting(ctx, stale); !errors.Is(err, storage.ErrConflict) {
		t.Fatalf("a save from a stale version: err = %v, want ErrConflict", err)
	}
	future := &storage.Setting{Key: "smtp", Version: 7, Value: json.RawMessage(`{}`)}
	if err := s.PutSetting(ctx, future); !errors.Is(err, storage.ErrConflict) {
		t.Fatalf("a save from a version that never was: err = %v, want ErrConflict", err)
	}
	missing := &storage.Setting{Key: "never-saved", Version: 1, Value: json.RawMessage(`{}`)}
	if err := s.PutSetting(ctx, missing); !errors.Is(err, storage.ErrConflict) {
		t.Fatalf("a version-1 save of a key never saved: err = %v, want ErrConflict", err)
	}
	check("after the rejected saves", second)

	empty := &storage.Setting{Key: "empty"}
	if err := s.PutSetting(ctx, empty); err != nil {
		t.Fatalf("PutSetting with an empty value: %v", err)
	}
	if got, err := s.GetSetting(ctx, "empty"); err != nil || string(got.Value) != "{}" {
		t.Fatalf("an empty value reads back as %q, %v; want {}", got.Value, err)
	}
	if err := s.PutSetting(ctx, &storage.Setting{Key: "bad", Value: json.RawMessage(`{"a":`)}); err == nil {
		t.Fatal("PutSetting with invalid JSON succeeded")
	}

	other := &storage.Setting{Key: "branding", Value: json.RawMessage(`{"title":"Welcome"}`)}
	if err := s.PutSetting(ctx, other); err != nil || other.Version != 1 {
		t.Fatalf("PutSetting(branding): version %d, %v", other.Version, err)
	}
	check("another key", other)
	check("the first key, untouched", second)
}

// testSettingsConcurrentSave saves from the same version through two stores
// at once: exactly one wins.
func testSettingsConcurrentSave(t *testing.T, b Backend) {
	bb := setup(t, b)
	stores := []storage.Store{bb.store, bb.openStore(t)}
	base := &storage.Setting{Key: "smtp", Value: json.RawMessage(`{"n":0}`)}
	if err := bb.store.PutSetting(t.Context(), base); err != nil {
		t.Fatalf("PutSetting: %v", err)
	}
	const writers = 6
	errs := make([]error, writers)
	var wg sync.WaitGroup
	for i := range writers {
		wg.Go(func() {
			errs[i] = stores[i%2].PutSetting(t.Context(), &storage.Setting{Key: "smtp", Version: 1,
				Value: json.RawMessage(`{"n":1}`), Secrets: map[string]string{"k": "v"}})
		})
	}
	wg.Wait()
	won := 0
	for i, err := range errs {
		switch {
		case err == nil:
			won++
		case !errors.Is(err, storage.ErrConflict):
			t.Errorf("writer %d: err = %v, want nil or ErrConflict", i, err)
		}
	}
	if won != 1 {
		t.Fatalf("%d of %d concurrent saves from version 1 succeeded, want exactly 1", won, writers)
	}
	got, err := bb.store.GetSetting(t.Context(), "smtp")
	if err != nil || got.Version != 2 {
		t.Fatalf("after the race: version %v, %v; want 2", got, err)
	}
}

// Plaintext secrets the at-rest test plants; none may appear in a raw row.
const (
	plainGuestPassword = "Guest-Plaintext-Pw-7731"
	plainClientSecret  = "Client-Secret-Plaintext-9152"
	plainPayloadToken  = "Payload-Plaintext-Token-4410"
)

func testSecretsAtRest(t *testing.T, b Backend) {
	bb := setup(t, b)
	s, ctx := bb.store, t.Context()
	g := bb.guest("sealed", "sealed@example.com")
	g.Password = plainGuestPassword
	bb.createGuest(t, g)
	other := bb.createGuest(t, bb.guest("victim", "victim@example.com"))
	st := &storage.Setting{Key: "smtp", Value: json.RawMessage(`{"host":"smtp.office365.com"}`),
		Secrets: map[string]string{"client_secret": plainClientSecret}}
	if err := s.PutSetting(ctx, st); err != nil {
		t.Fatalf("PutSetting: %v", err)
	}
	if err := s.PutSetting(ctx, &storage.Setting{Key: "smtp-copy", Value: json.RawMessage(`{}`),
		Secrets: map[string]string{"client_secret": "another"}}); err != nil {
		t.Fatalf("PutSetting: %v", err)
	}
	m := mail("sealed@example.com", "Your credentials")
	m.Payload = []byte("Subject: Your credentials\r\n\r\nPassword: " + plainGuestPassword + "\r\nToken: " + plainPayloadToken)
	bb.enqueue(t, m)
	m2 := bb.enqueue(t, mail("victim@example.com", "Other"))

	// The store hands the secrets back...
	if got, err := s.GetGuest(ctx, g.ID); err != nil || got.Password != plainGuestPassword {
		t.Fatalf("GetGuest: the password did not round-trip (%v)", err)
	}
	if got, err := s.GetMail(ctx, m.ID); err != nil || !bytes.Equal(got.Payload, m.Payload) {
		t.Fatalf("GetMail: the payload did not round-trip (%v)", err)
	}
	secrets := []string{plainGuestPassword, plainClientSecret, plainPayloadToken}

	// ...but the sealed columns do not hold them.
	for _, c := range []struct{ name, query string }{
		{"guests.password", "SELECT password FROM guests WHERE id = '" + g.ID.String() + "'"},
		{"settings.secrets", "SELECT secrets FROM settings WHERE key = 'smtp'"},
		{"outbox.payload", "SELECT payload FROM outbox WHERE id = '" + m.ID.String() + "'"},
	} {
		vals := b.Raw(t, s, c.query)
		if len(vals) != 1 || len(vals[0]) < 28 { // version byte + nonce + tag at least
			t.Fatalf("%s: raw read gave %d values (first %d bytes); want one sealed value", c.name, len(vals), lenFirst(vals))
		}
		for _, p := range secrets {
			if bytes.Contains(vals[0], []byte(p)) {
				t.Errorf("%s holds a plaintext secret", c.name)
			}
		}
	}
	// Nor does any other column of those tables.
	for _, table := range []string{"guests", "settings", "outbox", "meta"} {
		vals := b.Raw(t, s, "SELECT * FROM "+table)
		all := bytes.Join(vals, []byte{0})
		if table == "settings" && !bytes.Contains(all, []byte("smtp.office365.com")) {
			t.Fatalf("raw settings rows lack the plain value: the raw read does not see the real rows")
		}
		for _, p := range secrets {
			if bytes.Contains(all, []byte(p)) {
				t.Errorf("a raw row of %s holds a plaintext secret", table)
			}
		}
	}

	// A sealed value copied into another row does not open there: the
	// value is unreadable, which is not a wrong key.
	unreadable := func(what string, err error) {
		t.Helper()
		if !errors.Is(err, storage.ErrUnreadable) || errors.Is(err, storage.ErrWrongKey) {
			t.Errorf("%s: err = %v, want ErrUnreadable and not ErrWrongKey", what, err)
		}
	}
	b.Raw(t, s, "UPDATE guests SET password = (SELECT password FROM guests WHERE id = '"+g.ID.String()+
		"') WHERE id = '"+other.ID.String()+"'")
	_, err := s.GetGuest(ctx, other.ID)
	unreadable("GetGuest of a guest holding another guest's sealed password", err)
	b.Raw(t, s, "UPDATE outbox SET payload = (SELECT payload FROM outbox WHERE id = '"+m.ID.String()+
		"') WHERE id = '"+m2.ID.String()+"'")
	_, err = s.GetMail(ctx, m2.ID)
	unreadable("GetMail of a message holding another's sealed payload", err)
	b.Raw(t, s, "UPDATE settings SET secrets = (SELECT secrets FROM settings WHERE key = 'smtp') WHERE key = 'smtp-copy'")
	_, err = s.GetSetting(ctx, "smtp-copy")
	unreadable("GetSetting of a setting holding another's sealed secrets", err)
	// Lists never need a secret: they neither open nor return one, so an
	// unreadable value does not break them.
	page, err := s.ListGuests(ctx, storage.GuestFilter{})
	if err != nil || len(page.Guests) != 2 {
		t.Errorf("ListGuests with an unreadable password in one row: %v; want both guests", err)
	} else {
		for _, lg := range page.Guests {
			if lg.Password != "" {
				t.Errorf("ListGuests returned guest %s with a password; lists carry none", lg.Username)
			}
		}
	}
	mails, err := s.ListMail(ctx, storage.MailFilter{})
	if err != nil || len(mails) != 2 {
		t.Errorf("ListMail with an unreadable payload in one row: %v; want both messages", err)
	} else {
		for _, lm := range mails {
			if len(lm.Payload) != 0 {
				t.Errorf("ListMail returned message %s with a payload; lists carry none", lm.ID)
			}
		}
	}
	for _, err := range []error{
		func() error { _, err := s.GetGuest(ctx, other.ID); return err }(),
		func() error { _, err := s.GetMail(ctx, m2.ID); return err }(),
		func() error { _, err := s.GetSetting(ctx, "smtp-copy"); return err }(),
	} {
		for _, p := range secrets {
			if err != nil && strings.Contains(err.Error(), p) {
				t.Errorf("an error message holds a plaintext secret")
			}
		}
	}
}

func lenFirst(vals [][]byte) int {
	if len(vals) == 0 {
		return 0
	}
	return len(vals[0])
}

func testWrongKey(t *testing.T, b Backend) {
	bb := newBundle(t, b)
	first, err := bb.open(bb.opts())
	if err != nil {
		t.Fatalf("open: %v", err)
	}
	g := bb.guest("keyed", "keyed@example.com")
	if err := first.CreateGuest(t.Context(), g); err != nil {
		first.Close()
		t.Fatalf("CreateGuest: %v", err)
	}
	if err := first.Close(); err != nil {
		t.Fatalf("Close: %v", err)
	}
	opts := bb.opts()
	opts.Sealer = NewSealer(t)
	s, err := bb.open(opts)
	if err == nil {
		s.Close()
		t.Fatal("opening the database with another key succeeded")
	}
	if !errors.Is(err, storage.ErrWrongKey) {
		t.Fatalf("opening with another key: err = %v, want ErrWrongKey", err)
	}
	if !strings.Contains(err.Error(), "secret key") {
		t.Fatalf("opening with another key: %q does not tell the operator that the secret key is wrong", err)
	}
	// The failed open changed nothing: the right key still opens it.
	s2 := bb.openStore(t)
	if got, err := s2.GetGuest(t.Context(), g.ID); err != nil || got.Password != g.Password {
		t.Fatalf("reopened with the right key: GetGuest: %v", err)
	}
}
