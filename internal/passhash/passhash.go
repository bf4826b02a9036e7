// Package passhash hashes and checks staff passwords: bcrypt (what
// "lobby user add" writes) and argon2id in the PHC string format
// ($argon2id$v=19$m=…,t=…,p=…$salt$hash), for hashes brought from elsewhere.
package passhash

import (
	"crypto/subtle"
	"encoding/base64"
	"errors"
	"fmt"
	"strings"

	"golang.org/x/crypto/argon2"
	"golang.org/x/crypto/bcrypt"
)

// Cost is the bcrypt cost Hash uses.
const Cost = bcrypt.DefaultCost

// dummy is a bcrypt hash at Cost of a random password nobody knows: Dummy
// checks against it so that an unknown user costs what a known one does.
const dummy = "$2a$10$9iomhzfMtexy1N5D4nE4J.xrM9oEnw.bxNxuCLVzBVtjAeIhkzH8i"

// Hash returns a bcrypt hash of password at Cost.
func Hash(password string) (string, error) {
	h, err := bcrypt.GenerateFromPassword([]byte(password), Cost)
	if err != nil {
		return "", fmt.Errorf("passhash: %w", err)
	}
	return string(h), nil
}

// Verify reports whether password matches hash (bcrypt or argon2id). A
// hash it cannot read is an error, and never a match.
func Verify(hash, password string) (bool, error) {
	switch {
	case strings.HasPrefix(hash, "$2a$"), strings.HasPrefix(hash, "$2b$"), strings.HasPrefix(hash, "$2y$"):
		err := bcrypt.CompareHashAndPassword([]byte(hash), []byte(password))
		if errors.Is(err, bcrypt.ErrMismatchedHashAndPassword) {
			return false, nil
		}
		if err != nil {
			return false, fmt.Errorf("passhash: bcrypt: %w", err)
		}
		return true, nil
	case strings.HasPrefix(hash, "$argon2id$"):
		return verifyArgon2id(hash, password)
	}
	return false, errors.New("passhash: the hash is neither bcrypt nor argon2id")
}

// Dummy checks password against a hash nobody's password matches, taking
// as long as Verify of a bcrypt hash at Cost: call it when there is no such
// user, so that the answer takes the same time either way.
func Dummy(password string) {
	_ = bcrypt.CompareHashAndPassword([]byte(dummy), []byte(password))
}

func verifyArgon2id(hash, password string) (bool, error) {
	// "", "argon2id", "v=19", "m=…,t=…,p=…", salt, key
	parts := strings.Split(hash, "$")
	if len(parts) != 6 {
		return false, errors.New("passhash: argon2id: not in $argon2id$v=…$m=…,t=…,p=…$salt$hash form")
	}
	var version int
	if _, err := fmt.Sscanf(parts[2], "v=%d", &version); err != nil || version != argon2.Version {
		return false, fmt.Errorf("passhash: argon2id: version %q is not %d", parts[2], argon2.Version)
	}
	var mem, iters uint32
	var threads uint8
	if _, err := fmt.Sscanf(parts[3], "m=%d,t=%d,p=%d", &mem, &iters, &threads); err != nil || mem == 0 || iters == 0 || threads == 0 {
		return false, fmt.Errorf("passhash: argon2id: parameters %q do not read as m=…,t=…,p=…", parts[3])
	}
	if mem > 4<<20 || iters > 64 {
		return false, fmt.Errorf("passhash: argon2id: parameters %q are beyond what this server checks", parts[3])
	}
	salt, err := base64.RawStdEncoding.DecodeString(parts[4])
	if err != nil {
		return false, fmt.Errorf("passhash: argon2id: salt: %w", err)
	}
	key, err := base64.RawStdEncoding.DecodeString(parts[5])
	if err != nil || len(key) == 0 {
		return false, errors.New("passhash: argon2id: the hash part is not base64")
	}
	got := argon2.IDKey([]byte(password), salt, iters, mem, threads, uint32(len(key)))
	return subtle.ConstantTimeCompare(got, key) == 1, nil
}
