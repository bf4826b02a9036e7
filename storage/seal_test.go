package storage

import (
	"bytes"
	"errors"
	"strings"
	"testing"
	"testing/fstest"
	"time"

	"github.com/google/uuid"
)

func testSealer(t *testing.T) *Sealer {
	t.Helper()
	k, err := GenerateKey()
	if err != nil {
		t.Fatal(err)
	}
	key, err := ParseKey(k)
	if err != nil {
		t.Fatal(err)
	}
	s, err := NewSealer(key)
	if err != nil {
		t.Fatal(err)
	}
	return s
}

func TestSealRoundTrip(t *testing.T) {
	t.Parallel()
	s := testSealer(t)
	sealed := s.Seal([]byte("hunter2"), "guest:1:password")
	if bytes.Contains(sealed, []byte("hunter2")) {
		t.Fatal("sealed value contains the plaintext")
	}
	got, err := s.Open(sealed, "guest:1:password")
	if err != nil || string(got) != "hunter2" {
		t.Fatalf("Open = %q, %v", got, err)
	}
	altered := bytes.Clone(sealed)
	altered[len(altered)-1] ^= 1
	for name, open := range map[string]func() ([]byte, error){
		"in another place": func() ([]byte, error) { return s.Open(sealed, "guest:2:password") },
		"with another key": func() ([]byte, error) { return testSealer(t).Open(sealed, "guest:1:password") },
		"altered":          func() ([]byte, error) { return s.Open(altered, "guest:1:password") },
		"truncated":        func() ([]byte, error) { return s.Open(sealed[:10], "guest:1:password") },
	} {
		_, err := open()
		if !errors.Is(err, ErrUnreadable) || errors.Is(err, ErrWrongKey) {
			t.Errorf("Open %s: err = %v, want ErrUnreadable (not ErrWrongKey: the key check is what tells a wrong key)", name, err)
		}
	}
	if err := testSealer(t).VerifyKeyCheck(s.KeyCheck()); !errors.Is(err, ErrWrongKey) {
		t.Fatalf("VerifyKeyCheck with another key: %v", err)
	}
	if err := s.VerifyKeyCheck(s.KeyCheck()); err != nil {
		t.Fatalf("VerifyKeyCheck: %v", err)
	}
	if s.SealString("", "x") != nil {
		t.Fatal("empty string should seal to nil")
	}
}

func TestParseKey(t *testing.T) {
	t.Parallel()
	raw := bytes.Repeat([]byte{0xab}, KeySize)
	for _, in := range []string{
		strings.Repeat("ab", KeySize),
		"q6urq6urq6urq6urq6urq6urq6urq6urq6urq6urq6s=",
		"q6urq6urq6urq6urq6urq6urq6urq6urq6urq6urq6s",
	} {
		k, err := ParseKey(in)
		if err != nil || !bytes.Equal(k, raw) {
			t.Errorf("ParseKey(%q) = %x, %v", in, k, err)
		}
	}
	for _, in := range []string{"", "short", strings.Repeat("zz", KeySize)} {
		if _, err := ParseKey(in); err == nil {
			t.Errorf("ParseKey(%q) succeeded", in)
		}
	}
}

func TestCursorRoundTrip(t *testing.T) {
	t.Parallel()
	c := Cursor{CreatedAt: Truncate(time.Now()), ID: uuid.New()}
	got, err := DecodeCursor(EncodeCursor(c))
	if err != nil || !got.CreatedAt.Equal(c.CreatedAt) || got.ID != c.ID {
		t.Fatalf("round trip = %+v, %v; want %+v", got, err, c)
	}
	if _, err := DecodeCursor("not a cursor"); err == nil {
		t.Fatal("bad cursor accepted")
	}
}

func TestLoadMigrations(t *testing.T) {
	t.Parallel()
	ok := fstest.MapFS{"001_init.up.sql": {Data: []byte("a")}, "002_more.up.sql": {Data: []byte("b")}}
	ms, err := LoadMigrations(ok)
	if err != nil || len(ms) != 2 || ms[1].Name != "more" {
		t.Fatalf("LoadMigrations = %+v, %v", ms, err)
	}
	for name, fsys := range map[string]fstest.MapFS{
		"gap":   {"001_a.up.sql": {}, "003_c.up.sql": {}},
		"dup":   {"001_a.up.sql": {}, "001_b.up.sql": {}},
		"stray": {"001_a.up.sql": {}, "notes.txt": {}},
	} {
		if _, err := LoadMigrations(fsys); err == nil {
			t.Errorf("%s: accepted", name)
		}
	}
}

// TestAssociatedDataIsStable pins the stored format: values sealed by an
// earlier Lobby must still open.
func TestAssociatedDataIsStable(t *testing.T) {
	t.Parallel()
	id := uuid.MustParse("0b7e6f3c-5a4d-4e2b-9c1a-8f0d2e3b4a5c")
	for got, want := range map[string]string{
		GuestPasswordAD(id):      "guest:0b7e6f3c-5a4d-4e2b-9c1a-8f0d2e3b4a5c:password",
		OutboxPayloadAD(id):      "outbox:0b7e6f3c-5a4d-4e2b-9c1a-8f0d2e3b4a5c",
		SettingSecretsAD("smtp"): "setting:smtp",
	} {
		if got != want {
			t.Errorf("associated data %q, want %q", got, want)
		}
	}
}

func TestFoldKey(t *testing.T) {
	t.Parallel()
	for in, want := range map[string]string{
		"Ada.L":                "ada.l",
		"  Émile ":             "émile",
		"E\u0301MILE":          "émile", // decomposed: one name with the composed form
		"ZOË":                  "zoë",
		"Ñandú@Example.COM":    "ñandú@example.com",
		"straße":               "straße",
		"\u0130stanbul":        "istanbul", // Go maps U+0130 to a plain i
		"":                     "",
		"plain@example.com":    "plain@example.com",
		"\tMIXED Case\u00a0\n": "mixed case",
	} {
		if got := FoldKey(in); got != want {
			t.Errorf("FoldKey(%q) = %q, want %q", in, got, want)
		}
		if again := FoldKey(FoldKey(in)); again != FoldKey(in) {
			t.Errorf("FoldKey(FoldKey(%q)) = %q, not a fixed point", in, again)
		}
	}
}

func TestPlanFold(t *testing.T) {
	t.Parallel()
	changed, err := PlanFold("staff.username", []FoldRow{
		{ID: "1", Value: "ada", Key: "ada"},
		{ID: "2", Value: "Émile", Key: "Émile"}, // SQLite's lower() left the É
		{ID: "3", Value: "", Key: ""},
		{ID: "4", Value: "", Key: ""},
	})
	if err != nil || len(changed) != 1 || changed[0] != (FoldRow{ID: "2", Value: "Émile", Key: "émile"}) {
		t.Fatalf("PlanFold = %+v, %v; want row 2 refolded to émile", changed, err)
	}
	_, err = PlanFold("staff.username", []FoldRow{
		{ID: "1", Value: "Émile", Key: "Émile"},
		{ID: "2", Value: "émile", Key: "émile"},
	})
	if err == nil || !strings.Contains(err.Error(), `"Émile" (id 1) and "émile" (id 2)`) || !strings.Contains(err.Error(), "staff.username") {
		t.Fatalf("PlanFold of two names that fold to one: err = %v; want both named", err)
	}
}
