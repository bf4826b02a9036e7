package storage_test

import (
	"strings"
	"testing"
	"time"

	"github.com/google/uuid"

	"github.com/lobbyhq/lobby/storage"
)

func TestParseSearch(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		q    string
		want storage.Search
	}{
		{"", storage.Search{}},
		{" \t ", storage.Search{}},
		{"Ann@X.Example", storage.Search{Kind: storage.SearchEmail, Text: "ann@x.example"}},
		{" ann@x.example ", storage.Search{Kind: storage.SearchEmail, Text: "ann@x.example"}},
		{"ann@x", storage.Search{Kind: storage.SearchSubstring, Text: "ann@x"}},
		{"ann@x.", storage.Search{Kind: storage.SearchSubstring, Text: "ann@x."}},
		{"@x.example", storage.Search{Kind: storage.SearchSubstring, Text: "@x.example"}},
		{"a@b@c.example", storage.Search{Kind: storage.SearchSubstring, Text: "a@b@c.example"}},
		{"ann lee@x.example", storage.Search{Kind: storage.SearchSubstring, Text: "ann lee@x.example"}},
		{"HOP", storage.Search{Kind: storage.SearchSubstring, Text: "hop"}},
		{"Ho", storage.Search{Kind: storage.SearchPrefix, Text: storage.SearchSep + "ho"}},
		{"É", storage.Search{Kind: storage.SearchPrefix, Text: storage.SearchSep + "é"}},
		{"Zoe\u0308", storage.Search{Kind: storage.SearchSubstring, Text: "zoë"}},
		{"Zo\u00cb", storage.Search{Kind: storage.SearchSubstring, Text: "zoë"}},
		{"a\x1f\x1fb", storage.Search{Kind: storage.SearchSubstring, Text: "a  b"}},
	} {
		if got := storage.ParseSearch(tc.q); got != tc.want {
			t.Errorf("ParseSearch(%q) = {%d %q}, want {%d %q}", tc.q, got.Kind, got.Text, tc.want.Kind, tc.want.Text)
		}
	}
}

func TestSearchKey(t *testing.T) {
	t.Parallel()
	g := &storage.Guest{Username: "ZOË", Email: "zoe@example.com", FirstName: "Zoe\u0308", LastName: "Ñandú\x1f",
		Company: " Ørsted ", Phone: "+45 1234"}
	want := strings.Join([]string{"", "zoë", "zoe@example.com", "zoë ñandú", "ñandú", "ørsted", "+45 1234"}, storage.SearchSep)
	if got := storage.SearchKey(g); got != want {
		t.Fatalf("SearchKey = %q, want %q", got, want)
	}
}

func TestExpiryCursor(t *testing.T) {
	t.Parallel()
	id := uuid.New()
	for _, until := range []time.Time{time.Date(2025, 3, 1, 9, 0, 0, 123456000, time.UTC), {}} {
		c := storage.ExpiryCursor{ValidUntil: until, ID: id}
		got, err := storage.DecodeExpiryCursor(storage.EncodeExpiryCursor(c))
		if err != nil || !got.ValidUntil.Equal(until) || got.ID != id {
			t.Errorf("expiry cursor of %v: round trip = %+v, %v", until, got, err)
		}
		if _, err := storage.DecodeCursor(storage.EncodeExpiryCursor(c)); err == nil {
			t.Errorf("DecodeCursor took an expiry cursor")
		}
	}
	if _, err := storage.DecodeExpiryCursor(storage.EncodeCursor(storage.Cursor{CreatedAt: time.Now(), ID: id})); err == nil {
		t.Error("DecodeExpiryCursor took a newest-first cursor")
	}
}
