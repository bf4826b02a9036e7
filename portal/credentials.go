package portal

import (
	"crypto/rand"
	"encoding/base64"
	"time"

	"github.com/lobbyhq/lobby/guest"
)

// passwordAlphabet is what guest passwords are made of.
const passwordAlphabet = guest.PasswordAlphabet

// newPassword returns a random password of the policy's length.
func (p *Portal) newPassword() (string, error) {
	return guest.RandomString(rand.Reader, passwordAlphabet, p.cfg.Policy.PasswordLength)
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
