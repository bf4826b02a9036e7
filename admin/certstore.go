package admin

import (
	"context"
	"crypto/sha256"
	"crypto/x509"
	"encoding/hex"
	"encoding/json"
	"encoding/pem"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/lobbyhq/lobby/notify"
	"github.com/lobbyhq/lobby/storage"
)

// caKey is the setting that keeps the trusted CA certificates (PEM) the
// admin manages on the certificates page. Test Connection uses them at
// once; mail uses them from the next save of the SMTP settings (which
// copies them into the settings' TrustedCAPEM), so that a change of trust
// reaches delivery only through a passing test like any other change.
const caKey = "smtp.trusted_ca"

type caDoc struct {
	PEM string `json:"pem"`
}

// loadCAs returns the trusted CA bundle and its setting version (0 when the
// page never saved it: then the bundle of the saved SMTP settings, as the
// command line saves it).
func (a *Admin) loadCAs(ctx context.Context) (string, int64, error) {
	row, err := a.store.GetSetting(ctx, caKey)
	if errors.Is(err, storage.ErrNotFound) {
		s, err := notify.LoadSettings(ctx, a.store)
		if errors.Is(err, storage.ErrNotFound) {
			return "", 0, nil
		}
		if err != nil {
			return "", 0, err
		}
		return s.TrustedCAPEM, 0, nil
	}
	if err != nil {
		return "", 0, fmt.Errorf("admin: trusted certificates: load: %w", err)
	}
	var doc caDoc
	if err := json.Unmarshal(row.Value, &doc); err != nil {
		return "", 0, fmt.Errorf("admin: trusted certificates: stored value is not valid: %w", err)
	}
	return doc.PEM, row.Version, nil
}

// saveCAs saves the bundle as the next version if the stored one is still
// expect (storage.ErrConflict otherwise).
func (a *Admin) saveCAs(ctx context.Context, bundle string, expect int64, actor string) error {
	value, err := json.Marshal(caDoc{PEM: bundle})
	if err != nil {
		return fmt.Errorf("admin: trusted certificates: save: %w", err)
	}
	if err := a.store.PutSetting(ctx, &storage.Setting{Key: caKey, Version: expect, Value: value, UpdatedBy: actor}); err != nil {
		return fmt.Errorf("admin: trusted certificates: save: %w", err)
	}
	return nil
}

// caCert is one trusted certificate as the page lists it.
type caCert struct {
	Subject, Issuer string
	NotAfter        time.Time
	Expires         string // NotAfter for people
	Expired         bool
	Fingerprint     string // SHA-256 of the DER, hex: the certificate's name on the page
	PEM             string
}

// parseCerts reads every CERTIFICATE block of text; anything else is an
// error a person can act on.
func parseCerts(text string) ([]caCert, error) {
	var out []caCert
	rest := []byte(strings.TrimSpace(text))
	for n := 1; ; n++ {
		var block *pem.Block
		block, rest = pem.Decode(rest)
		if block == nil {
			if len(strings.TrimSpace(string(rest))) > 0 && len(out) == 0 {
				return nil, errors.New("this is not a PEM certificate: paste the CA certificate as text, from -----BEGIN CERTIFICATE----- to -----END CERTIFICATE-----")
			}
			break
		}
		if block.Type != "CERTIFICATE" {
			return nil, fmt.Errorf("block %d is a %q, not a certificate: paste only CERTIFICATE blocks (never a private key)", n, block.Type)
		}
		c, err := x509.ParseCertificate(block.Bytes)
		if err != nil {
			return nil, fmt.Errorf("certificate %d could not be read (%v): export it again as PEM (Base-64 encoded X.509)", n, err)
		}
		sum := sha256.Sum256(c.Raw)
		out = append(out, caCert{
			Subject:     nameOf(c.Subject.String(), c.Subject.CommonName),
			Issuer:      nameOf(c.Issuer.String(), c.Issuer.CommonName),
			NotAfter:    c.NotAfter,
			Fingerprint: hex.EncodeToString(sum[:]),
			PEM:         string(pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: c.Raw})),
		})
	}
	if len(out) == 0 {
		return nil, errors.New("no certificate found: paste the CA certificate starting with -----BEGIN CERTIFICATE-----")
	}
	return out, nil
}

func nameOf(full, cn string) string {
	if full != "" {
		return full
	}
	return cn
}

// joinCerts is the PEM bundle of certs.
func joinCerts(certs []caCert) string {
	var b strings.Builder
	for _, c := range certs {
		b.WriteString(c.PEM)
	}
	return b.String()
}
