package storage

import (
	"crypto/aes"
	"crypto/cipher"
	"crypto/rand"
	"encoding/base64"
	"encoding/hex"
	"errors"
	"fmt"
	"strings"
)

// KeySize is the length of a secret key: AES-256.
const KeySize = 32

// sealVersion prefixes every sealed value so the format can change later.
const sealVersion byte = 1

// keyCheckPlaintext is sealed once per database so that opening it with
// another key fails at start-up, not at the first secret read.
const keyCheckPlaintext = "lobby key check v1"

// Sealer seals secret values with AES-256-GCM. Each sealed value is bound to
// its place (the associated data, such as "guest:<id>:password"), so a value
// copied into another row does not open.
type Sealer struct {
	aead cipher.AEAD
}

// NewSealer returns a Sealer for a 32-byte key.
func NewSealer(key []byte) (*Sealer, error) {
	if len(key) != KeySize {
		return nil, fmt.Errorf("storage: secret key must be %d bytes, got %d", KeySize, len(key))
	}
	block, err := aes.NewCipher(key)
	if err != nil {
		return nil, fmt.Errorf("storage: secret key: %w", err)
	}
	aead, err := cipher.NewGCM(block)
	if err != nil {
		return nil, fmt.Errorf("storage: secret key: %w", err)
	}
	return &Sealer{aead: aead}, nil
}

// ParseKey decodes a secret key given as 64 hex digits or as standard or
// URL-safe base64 of 32 bytes (padded or not).
func ParseKey(s string) ([]byte, error) {
	s = strings.TrimSpace(s)
	if len(s) == 2*KeySize {
		if k, err := hex.DecodeString(s); err == nil {
			return k, nil
		}
	}
	for _, enc := range []*base64.Encoding{base64.StdEncoding, base64.RawStdEncoding, base64.URLEncoding, base64.RawURLEncoding} {
		if k, err := enc.DecodeString(s); err == nil && len(k) == KeySize {
			return k, nil
		}
	}
	return nil, errors.New("storage: secret key must be 32 random bytes as base64 or 64 hex digits (make one with: openssl rand -base64 32)")
}

// GenerateKey returns a new random key, base64-encoded.
func GenerateKey() (string, error) {
	k := make([]byte, KeySize)
	if _, err := rand.Read(k); err != nil {
		return "", fmt.Errorf("storage: generate secret key: %w", err)
	}
	return base64.StdEncoding.EncodeToString(k), nil
}

// Seal encrypts plaintext for the place named by ad.
func (s *Sealer) Seal(plaintext []byte, ad string) []byte {
	nonce := make([]byte, s.aead.NonceSize(), 1+s.aead.NonceSize()+len(plaintext)+s.aead.Overhead())
	if _, err := rand.Read(nonce); err != nil {
		panic("storage: crypto/rand failed: " + err.Error()) // never happens on supported systems
	}
	out := append([]byte{sealVersion}, nonce...)
	return s.aead.Seal(out, nonce, plaintext, []byte(ad))
}

// Open decrypts a value sealed for ad. A value that does not open (altered,
// truncated, sealed for another place, or under another key) is
// ErrUnreadable: the key itself is checked once, at start-up, by
// VerifyKeyCheck.
func (s *Sealer) Open(sealed []byte, ad string) ([]byte, error) {
	ns := s.aead.NonceSize()
	if len(sealed) < 1+ns+s.aead.Overhead() || sealed[0] != sealVersion {
		return nil, fmt.Errorf("storage: open sealed value for %s: malformed: %w", ad, ErrUnreadable)
	}
	pt, err := s.aead.Open(nil, sealed[1:1+ns], sealed[1+ns:], []byte(ad))
	if err != nil {
		return nil, fmt.Errorf("storage: open sealed value for %s: %w", ad, ErrUnreadable)
	}
	return pt, nil
}

// SealString is Seal for strings. The empty string seals to nil, so that an
// unset secret stays visibly unset.
func (s *Sealer) SealString(v, ad string) []byte {
	if v == "" {
		return nil
	}
	return s.Seal([]byte(v), ad)
}

// OpenString is Open for strings; nil opens to "".
func (s *Sealer) OpenString(sealed []byte, ad string) (string, error) {
	if len(sealed) == 0 {
		return "", nil
	}
	pt, err := s.Open(sealed, ad)
	return string(pt), err
}

// KeyCheck returns the value a backend stores once to recognise its key.
func (s *Sealer) KeyCheck() []byte { return s.Seal([]byte(keyCheckPlaintext), "key-check") }

// VerifyKeyCheck reports ErrWrongKey unless check was made by KeyCheck under
// this Sealer's key.
func (s *Sealer) VerifyKeyCheck(check []byte) error {
	pt, err := s.Open(check, "key-check")
	if err != nil {
		return ErrWrongKey
	}
	if string(pt) != keyCheckPlaintext {
		return ErrWrongKey
	}
	return nil
}
