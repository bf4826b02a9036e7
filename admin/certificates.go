package admin

import (
	"errors"
	"net/http"
	"strconv"
	"strings"

	"github.com/lobbyhq/lobby/internal/webkit"
	"github.com/lobbyhq/lobby/storage"
)

// The trusted certificates page: CA certificates (PEM) trusted besides the
// system's for the SMTP server's and the token endpoint's TLS. Test
// Connection uses them at once; mail from the next save of the SMTP
// settings (certstore.go).

func caForm() *webkit.Form {
	return webkit.NewForm(&webkit.Field{Name: "pem", Label: "CA certificate (PEM)", Type: "textarea", Required: true, MaxLen: 200_000,
		Hint: "Paste one or more certificates, each from -----BEGIN CERTIFICATE----- to -----END CERTIFICATE----- " +
			"(such as the issuing and root CAs the server sends)."})
}

type certsPage struct {
	Certs   []caCert
	Version int64
	// Pending: the list differs from the certificates the saved SMTP
	// settings use.
	Pending bool
}

func (a *Admin) certsView(w http.ResponseWriter, r *http.Request, st *storage.Staff, status int, form *webkit.Form) {
	ctx := r.Context()
	bundle, version, err := a.loadCAs(ctx)
	if err != nil {
		a.fail(w, r, st, "load trusted certificates", err)
		return
	}
	p := &certsPage{Version: version}
	if strings.TrimSpace(bundle) != "" {
		if p.Certs, err = parseCerts(bundle); err != nil {
			a.fail(w, r, st, "read trusted certificates", err)
			return
		}
	}
	now := a.now()
	for i := range p.Certs {
		p.Certs[i].Expires = a.formatTime(p.Certs[i].NotAfter)
		p.Certs[i].Expired = !now.Before(p.Certs[i].NotAfter)
	}
	if cur, err := a.loadStored(ctx); err == nil && cur.ok {
		p.Pending = fingerprints(cur.s.TrustedCAPEM) != fingerprints(bundle)
	}
	v := a.view(r, "Trusted certificates", st, "certificates", form, p)
	v.Notice = a.takeFlash(w, r, st, "certificates")
	a.page(w, r, status, "certificates", v)
}

// fingerprints names the certificates of a bundle, in order.
func fingerprints(bundle string) string {
	certs, err := parseCerts(bundle)
	if err != nil {
		return ""
	}
	var b strings.Builder
	for _, c := range certs {
		b.WriteString(c.Fingerprint + " ")
	}
	return b.String()
}

func (a *Admin) getCertificates(w http.ResponseWriter, r *http.Request, st *storage.Staff) {
	a.certsView(w, r, st, http.StatusOK, caForm())
}

func (a *Admin) postCertificates(w http.ResponseWriter, r *http.Request, st *storage.Staff) {
	ctx := r.Context()
	form := caForm()
	form.Load(r.PostForm)
	if form.Value("pem") == "" {
		form.Fail("pem", "Paste the CA certificate, starting with -----BEGIN CERTIFICATE-----.")
		a.certsView(w, r, st, http.StatusUnprocessableEntity, form)
		return
	}
	add, err := parseCerts(form.Value("pem"))
	if err != nil {
		form.Fail("pem", sentence(err.Error()))
		a.certsView(w, r, st, http.StatusUnprocessableEntity, form)
		return
	}
	bundle, version, err := a.loadCAs(ctx)
	if err != nil {
		a.fail(w, r, st, "load trusted certificates", err)
		return
	}
	var have []caCert
	if strings.TrimSpace(bundle) != "" {
		if have, err = parseCerts(bundle); err != nil {
			a.fail(w, r, st, "read trusted certificates", err)
			return
		}
	}
	seen := map[string]bool{}
	for _, c := range have {
		seen[c.Fingerprint] = true
	}
	var added []string
	for _, c := range add {
		if !seen[c.Fingerprint] {
			seen[c.Fingerprint] = true
			have = append(have, c)
			added = append(added, c.Subject)
		}
	}
	if len(added) == 0 {
		a.setFlash(w, r, st, "certificates", "Those certificates are trusted already: nothing changed.")
		webkit.SeeOther(w, "certificates")
		return
	}
	if !a.saveCerts(w, r, st, have, version) {
		return
	}
	a.audit(r, st, "smtp.ca_added", caKey, strings.Join(added, "; "))
	a.setFlash(w, r, st, "certificates", "Added "+plural(len(added), "certificate")+". Test Connection uses them now; "+
		"email uses them once you save the SMTP settings after a passing test.")
	webkit.SeeOther(w, "certificates")
}

func (a *Admin) postCertificateDelete(w http.ResponseWriter, r *http.Request, st *storage.Staff) {
	ctx := r.Context()
	fp := r.PostForm.Get("fingerprint")
	bundle, version, err := a.loadCAs(ctx)
	if err != nil {
		a.fail(w, r, st, "load trusted certificates", err)
		return
	}
	have, err := parseCerts(bundle)
	if strings.TrimSpace(bundle) == "" {
		have, err = nil, nil
	}
	if err != nil {
		a.fail(w, r, st, "read trusted certificates", err)
		return
	}
	var keep []caCert
	removed := ""
	for _, c := range have {
		if c.Fingerprint == fp {
			removed = c.Subject
			continue
		}
		keep = append(keep, c)
	}
	if removed == "" {
		a.setFlash(w, r, st, "certificates", "That certificate is not in the list (any more): nothing changed.")
		webkit.SeeOther(w, "../certificates")
		return
	}
	if !a.saveCerts(w, r, st, keep, version) {
		return
	}
	a.audit(r, st, "smtp.ca_deleted", caKey, removed)
	a.setFlash(w, r, st, "certificates", "Removed "+removed+". Email keeps using the certificates of the saved SMTP settings until they are saved again.")
	webkit.SeeOther(w, "../certificates")
}

// saveCerts saves the list; on a conflict or failure it answers and
// returns false.
func (a *Admin) saveCerts(w http.ResponseWriter, r *http.Request, st *storage.Staff, certs []caCert, version int64) bool {
	err := a.saveCAs(r.Context(), joinCerts(certs), version, "staff:"+st.Username)
	if errors.Is(err, storage.ErrConflict) {
		a.setFlash(w, r, st, "certificates", "Someone else changed the trusted certificates meanwhile: check the list and try again.")
		webkit.SeeOther(w, webkit.RelRoot(r.URL.Path)+"certificates")
		return false
	}
	if err != nil {
		a.fail(w, r, st, "save trusted certificates", err)
		return false
	}
	return true
}

// plural is "1 certificate", "2 certificates".
func plural(n int, unit string) string {
	if n == 1 {
		return "1 " + unit
	}
	return strconv.Itoa(n) + " " + unit + "s"
}
