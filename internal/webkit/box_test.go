package webkit

import (
	"encoding/base64"
	"errors"
	"strings"
	"testing"
	"time"
)

func TestBox(t *testing.T) {
	t.Parallel()
	now := time.Now()
	b := NewBox(testKey, "a")
	const secret = `{"name":"Ada Lovelace","email":"ada@example.com"}`
	tok := b.Seal(secret, now.Add(time.Hour))
	if got, err := b.Open(tok, now); err != nil || got != secret {
		t.Fatalf("Open = %q, %v", got, err)
	}
	raw, _ := base64.RawURLEncoding.DecodeString(tok)
	if strings.Contains(string(raw), "ada") || strings.Contains(tok, "ada") || strings.Contains(tok, base64.RawURLEncoding.EncodeToString([]byte("Ada"))) {
		t.Fatal("the payload can be read from the token")
	}
	if tok2 := b.Seal(secret, now.Add(time.Hour)); tok2 == tok || len(tok2) != len(tok) {
		t.Fatalf("two seals: equal %v, lengths %d and %d", tok2 == tok, len(tok), len(tok2))
	}
	if other := b.Seal(strings.Repeat("x", len(secret)), now.Add(time.Hour)); len(other) != len(tok) {
		t.Fatal("payloads of one length sealed to different lengths")
	}
	if got, err := b.Open(tok, now.Add(time.Hour)); !errors.Is(err, ErrTokenExpired) || got != secret {
		t.Fatalf("at expiry: %q, %v", got, err)
	}
	if _, err := NewBox(testKey, "b").Open(tok, now); !errors.Is(err, ErrTokenInvalid) {
		t.Fatalf("other purpose: %v", err)
	}
	for i := range raw {
		bad := append([]byte(nil), raw...)
		bad[i] ^= 1
		if _, err := b.Open(base64.RawURLEncoding.EncodeToString(bad), now); !errors.Is(err, ErrTokenInvalid) {
			t.Fatalf("tampered byte %d: %v", i, err)
		}
	}
	for _, bad := range []string{"", "x", "!!!", base64.RawURLEncoding.EncodeToString(make([]byte, 20))} {
		if _, err := b.Open(bad, now); !errors.Is(err, ErrTokenInvalid) {
			t.Errorf("Open(%q) = %v", bad, err)
		}
	}
}
