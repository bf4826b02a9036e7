package portal

import (
	"crypto/rand"
	"encoding/base64"
	"fmt"
	"io"
	"time"
)

// Alphabets without look-alike characters: no 0/O/o, no 1/l/I.
const (
	passwordAlphabet = "ABCDEFGHJKLMNPQRSTUVWXYZabcdefghijkmnpqrstuvwxyz23456789"
	usernameAlphabet = "abcdefghijkmnpqrstuvwxyz23456789"
)

// randomString returns n characters drawn uniformly from alphabet with
// crypto/rand (rejection sampling, so no character is more likely).
func randomString(rnd io.Reader, alphabet string, n int) (string, error) {
	limit := 256 - 256%len(alphabet)
	out := make([]byte, 0, n)
	buf := make([]byte, n+8)
	for len(out) < n {
		if _, err := io.ReadFull(rnd, buf); err != nil {
			return "", fmt.Errorf("portal: random: %w", err)
		}
		for _, b := range buf {
			if int(b) < limit && len(out) < n {
				out = append(out, alphabet[int(b)%len(alphabet)])
			}
		}
	}
	return string(out), nil
}

// newPassword returns a random password of the policy's length.
func (p *Portal) newPassword() (string, error) {
	return randomString(rand.Reader, passwordAlphabet, p.cfg.Policy.PasswordLength)
}

// newUsername returns the username for a guest with email: the email, or
// guest-xxxxxx under the "generated" policy.
func (p *Portal) newUsername(email string) (string, error) {
	if p.cfg.Policy.UsernamePolicy != UsernameGenerated {
		return email, nil
	}
	s, err := randomString(rand.Reader, usernameAlphabet, 6)
	if err != nil {
		return "", err
	}
	return "guest-" + s, nil
}

// nonceTTL is how long a registration form may be sent after it was shown.
const nonceTTL = 2 * time.Hour

// newNonce returns a registration nonce: 16 random bytes, signed with an
// expiry nonceTTL from now, so that only forms this server issued (and not
// long ago) register anyone.
func (p *Portal) newNonce() string {
	b := make([]byte, 16)
	_, _ = rand.Read(b) // crypto/rand.Read never fails on supported systems
	return p.nonces.Sign(base64.RawURLEncoding.EncodeToString(b), p.now().Add(nonceTTL))
}

// validNonce reports whether s is a nonce newNonce made that has not expired.
func (p *Portal) validNonce(s string) bool {
	if len(s) > 200 {
		return false
	}
	_, err := p.nonces.Verify(s, p.now())
	return err == nil
}
