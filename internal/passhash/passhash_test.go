package passhash

import (
	"encoding/base64"
	"fmt"
	"testing"

	"golang.org/x/crypto/argon2"
	"golang.org/x/crypto/bcrypt"
)

func TestVerify(t *testing.T) {
	t.Parallel()
	b, err := bcrypt.GenerateFromPassword([]byte("correct horse battery"), bcrypt.MinCost)
	if err != nil {
		t.Fatal(err)
	}
	salt := []byte("0123456789abcdef")
	key := argon2.IDKey([]byte("correct horse battery"), salt, 1, 64, 1, 32)
	a := fmt.Sprintf("$argon2id$v=19$m=64,t=1,p=1$%s$%s", base64.RawStdEncoding.EncodeToString(salt), base64.RawStdEncoding.EncodeToString(key))
	for _, tc := range []struct {
		name, hash, pw string
		ok, err        bool
	}{
		{"bcrypt right", string(b), "correct horse battery", true, false},
		{"bcrypt wrong", string(b), "correct horse battery!", false, false},
		{"argon2id right", a, "correct horse battery", true, false},
		{"argon2id wrong", a, "Correct horse battery", false, false},
		{"argon2id bad params", "$argon2id$v=19$m=x$c2FsdA$aGFzaA", "x", false, true},
		{"plaintext", "correct horse battery", "correct horse battery", false, true},
		{"empty", "", "", false, true},
	} {
		ok, err := Verify(tc.hash, tc.pw)
		if ok != tc.ok || (err != nil) != tc.err {
			t.Errorf("%s: Verify = %v, %v; want %v, error %v", tc.name, ok, err, tc.ok, tc.err)
		}
	}
}

func TestHashVerifies(t *testing.T) {
	t.Parallel()
	h, err := Hash("a long enough password")
	if err != nil {
		t.Fatal(err)
	}
	if ok, err := Verify(h, "a long enough password"); !ok || err != nil {
		t.Fatalf("Verify(Hash(p), p) = %v, %v", ok, err)
	}
	if cost, err := bcrypt.Cost([]byte(dummy)); err != nil || cost != Cost {
		t.Fatalf("the dummy hash has cost %d, %v; want %d, so that unknown users take as long", cost, err, Cost)
	}
	// A well-formed hash: a malformed one would fail fast, before hashing.
	if err := bcrypt.CompareHashAndPassword([]byte(dummy), []byte("guess")); err != bcrypt.ErrMismatchedHashAndPassword {
		t.Fatalf("the dummy hash compares with %v; want a mismatch after hashing", err)
	}
}
