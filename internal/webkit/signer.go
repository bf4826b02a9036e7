package webkit

import (
	"encoding/base64"
	"errors"
	"strconv"
	"strings"
	"time"
)

// Token errors. Pages say what to do next; these only tell them apart.
var (
	ErrTokenInvalid = errors.New("webkit: token is malformed or its signature does not match")
	ErrTokenExpired = errors.New("webkit: token has expired")
)

// Signer makes and checks tamper-proof, expiring tokens for links, such as
// an approval link in an email. A token carries its payload in the clear
// (base64url), so the payload must not be a secret.
type Signer struct {
	key *macer
}

// NewSigner returns a Signer whose key is derived from secret for purpose;
// tokens of one purpose do not verify under another.
func NewSigner(secret []byte, purpose string) *Signer {
	return &Signer{key: newMacer(DeriveKey(secret, "signer/"+purpose))}
}

// Sign returns a URL-safe token for payload that verifies until expires.
func (s *Signer) Sign(payload string, expires time.Time) string {
	body := base64.RawURLEncoding.EncodeToString([]byte(payload)) + "." + strconv.FormatInt(expires.Unix(), 36)
	return body + "." + base64.RawURLEncoding.EncodeToString(s.key.sum(nil, []byte(body)))
}

// Verify checks token's signature, then its expiry at now, and returns the
// payload. A tampered token is ErrTokenInvalid; a genuine one past its
// expiry is ErrTokenExpired (and its payload is still returned, so that a
// page can say which link expired).
func (s *Signer) Verify(token string, now time.Time) (string, error) {
	i := strings.LastIndexByte(token, '.')
	if i < 0 {
		return "", ErrTokenInvalid
	}
	body, sig := token[:i], token[i+1:]
	got, err := base64.RawURLEncoding.DecodeString(sig)
	if err != nil || !s.key.verify(got, []byte(body)) {
		return "", ErrTokenInvalid
	}
	p, e, ok := strings.Cut(body, ".")
	if !ok {
		return "", ErrTokenInvalid
	}
	payload, err := base64.RawURLEncoding.DecodeString(p)
	if err != nil {
		return "", ErrTokenInvalid
	}
	exp, err := strconv.ParseInt(e, 36, 64)
	if err != nil {
		return "", ErrTokenInvalid
	}
	if !now.Before(time.Unix(exp, 0)) {
		return string(payload), ErrTokenExpired
	}
	return string(payload), nil
}
