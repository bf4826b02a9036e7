package webkit

import (
	"crypto/aes"
	"crypto/cipher"
	"crypto/rand"
	"encoding/base64"
	"encoding/binary"
	"time"
)

// Box seals payloads into opaque, tamper-proof, expiring tokens for links:
// like Signer, but with AES-256-GCM, so that nobody can read the payload
// from the token (a success page's link may carry what a guest typed), and
// two tokens of payloads of the same length have the same length.
type Box struct {
	aead cipher.AEAD
}

// NewBox returns a Box whose key is derived from secret for purpose; tokens
// of one purpose do not open under another.
func NewBox(secret []byte, purpose string) *Box {
	block, err := aes.NewCipher(DeriveKey(secret, "box/"+purpose)) // a 32-byte key: cannot fail
	if err != nil {
		panic("webkit: box: " + err.Error())
	}
	aead, err := cipher.NewGCM(block) // the standard nonce and tag sizes: cannot fail
	if err != nil {
		panic("webkit: box: " + err.Error())
	}
	return &Box{aead: aead}
}

// Seal returns a URL-safe token holding payload until expires.
func (b *Box) Seal(payload string, expires time.Time) string {
	n := b.aead.NonceSize()
	buf := make([]byte, n, n+8+len(payload)+b.aead.Overhead())
	_, _ = rand.Read(buf) // crypto/rand.Read never fails on supported systems
	plain := binary.BigEndian.AppendUint64(make([]byte, 0, 8+len(payload)), uint64(expires.Unix()))
	plain = append(plain, payload...)
	return base64.RawURLEncoding.EncodeToString(b.aead.Seal(buf, buf[:n], plain, nil))
}

// Open checks token and returns its payload. A token that does not open
// (tampered, another purpose or key) is ErrTokenInvalid; a genuine one past
// its expiry is ErrTokenExpired, with its payload.
func (b *Box) Open(token string, now time.Time) (string, error) {
	raw, err := base64.RawURLEncoding.DecodeString(token)
	n := b.aead.NonceSize()
	if err != nil || len(raw) < n+8+b.aead.Overhead() {
		return "", ErrTokenInvalid
	}
	plain, err := b.aead.Open(nil, raw[:n], raw[n:], nil)
	if err != nil {
		return "", ErrTokenInvalid
	}
	exp := time.Unix(int64(binary.BigEndian.Uint64(plain[:8])), 0)
	payload := string(plain[8:])
	if !now.Before(exp) {
		return payload, ErrTokenExpired
	}
	return payload, nil
}
