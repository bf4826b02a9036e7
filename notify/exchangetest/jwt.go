package exchangetest

import (
	"crypto"
	"crypto/rand"
	"crypto/rsa"
	"crypto/sha256"
	"crypto/x509"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
)

// signer issues and checks RS256 JSON Web Tokens with a key made at Start.
type signer struct {
	key *rsa.PrivateKey
	kid string
}

var b64url = base64.RawURLEncoding

func newSigner() (*signer, error) {
	key, err := rsa.GenerateKey(rand.Reader, 2048)
	if err != nil {
		return nil, fmt.Errorf("token signing key: %w", err)
	}
	der, err := x509.MarshalPKIXPublicKey(&key.PublicKey)
	if err != nil {
		return nil, fmt.Errorf("token signing key: %w", err)
	}
	sum := sha256.Sum256(der)
	// Entra's kid and x5t are the same 27-character base64url thumbprint.
	return &signer{key: key, kid: b64url.EncodeToString(sum[:20])}, nil
}

type jwtHeader struct {
	Typ string `json:"typ"`
	Alg string `json:"alg"`
	X5t string `json:"x5t,omitempty"`
	Kid string `json:"kid,omitempty"`
}

func (s *signer) sign(claims any) (string, error) {
	header, err := json.Marshal(jwtHeader{Typ: "JWT", Alg: "RS256", X5t: s.kid, Kid: s.kid})
	if err != nil {
		return "", err
	}
	payload, err := json.Marshal(claims)
	if err != nil {
		return "", err
	}
	signed := b64url.EncodeToString(header) + "." + b64url.EncodeToString(payload)
	digest := sha256.Sum256([]byte(signed))
	sig, err := rsa.SignPKCS1v15(rand.Reader, s.key, crypto.SHA256, digest[:])
	if err != nil {
		return "", err
	}
	return signed + "." + b64url.EncodeToString(sig), nil
}

var errBadToken = errors.New("malformed or wrongly signed token")

// verify checks the RS256 signature and decodes the payload into claims.
// It checks nothing else: audience and times are the caller's rules.
func (s *signer) verify(token string, claims any) error {
	parts := strings.Split(token, ".")
	if len(parts) != 3 {
		return errBadToken
	}
	var h jwtHeader
	if raw, err := b64url.DecodeString(parts[0]); err != nil || json.Unmarshal(raw, &h) != nil || h.Alg != "RS256" {
		return errBadToken
	}
	sig, err := b64url.DecodeString(parts[2])
	if err != nil {
		return errBadToken
	}
	digest := sha256.Sum256([]byte(parts[0] + "." + parts[1]))
	if rsa.VerifyPKCS1v15(&s.key.PublicKey, crypto.SHA256, digest[:], sig) != nil {
		return errBadToken
	}
	payload, err := b64url.DecodeString(parts[1])
	if err != nil || json.Unmarshal(payload, claims) != nil {
		return errBadToken
	}
	return nil
}
