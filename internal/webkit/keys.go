package webkit

import (
	"crypto/hmac"
	"crypto/sha256"
)

// DeriveKey derives an independent 32-byte key for one purpose from the
// secret key, so that a value signed for one use (a session cookie) is never
// accepted for another (an approval link).
func DeriveKey(secret []byte, purpose string) []byte {
	m := hmac.New(sha256.New, secret)
	m.Write([]byte("lobby/webkit/v1/"))
	m.Write([]byte(purpose))
	return m.Sum(nil)
}

// mac is HMAC-SHA256 of the parts, each length-prefixed so that no two
// different part lists give the same input.
func mac(key []byte, parts ...[]byte) []byte {
	m := hmac.New(sha256.New, key)
	for _, p := range parts {
		n := len(p)
		m.Write([]byte{byte(n >> 24), byte(n >> 16), byte(n >> 8), byte(n)})
		m.Write(p)
	}
	return m.Sum(nil)
}
