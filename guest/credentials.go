package guest

import (
	"fmt"
	"io"
)

// Alphabets without look-alike characters: no 0/O/o, no 1/l/I.
const (
	PasswordAlphabet = "ABCDEFGHJKLMNPQRSTUVWXYZabcdefghijkmnpqrstuvwxyz23456789"
	UsernameAlphabet = "abcdefghijkmnpqrstuvwxyz23456789"
)

// RandomString returns n characters drawn uniformly from alphabet (at
// most 256 characters) with rnd (rejection sampling, so no character is
// more likely).
func RandomString(rnd io.Reader, alphabet string, n int) (string, error) {
	limit := 256 - 256%len(alphabet)
	out := make([]byte, 0, n)
	buf := make([]byte, n+8)
	for len(out) < n {
		if _, err := io.ReadFull(rnd, buf); err != nil {
			return "", fmt.Errorf("guest: random: %w", err)
		}
		for _, b := range buf {
			if int(b) < limit && len(out) < n {
				out = append(out, alphabet[int(b)%len(alphabet)])
			}
		}
	}
	return string(out), nil
}

// NewPassword returns a random password of the policy's length.
func (s *Service) NewPassword() (string, error) {
	return RandomString(s.rand, PasswordAlphabet, s.pol.PasswordLength)
}

// randomUsername returns prefix-xxxxxx.
func (s *Service) randomUsername(prefix string) (string, error) {
	r, err := RandomString(s.rand, UsernameAlphabet, 6)
	if err != nil {
		return "", err
	}
	return prefix + "-" + r, nil
}

// NewUsername returns the username for a guest with email: the email, or
// guest-xxxxxx under the "generated" policy.
func (s *Service) NewUsername(email string) (string, error) {
	if s.pol.UsernamePolicy != UsernameGenerated {
		return email, nil
	}
	return s.randomUsername(DefaultBatchPrefix)
}
