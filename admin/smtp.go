package admin

import (
	"context"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"time"

	"github.com/lobbyhq/lobby/internal/webkit"
	"github.com/lobbyhq/lobby/notify"
	"github.com/lobbyhq/lobby/storage"
)

// The SMTP server settings page. Test Connection runs notify's connection
// test on the settings as the form has them; a passing test puts a proof in
// the page: signed, short-lived, naming the admin and a keyed hash of the
// full settings, secrets and trusted certificates included. Save recomputes
// the hash from what it receives and refuses unless a proof matches, so
// that exactly the tested settings are saved. Secrets are write-only: a
// blank secret field keeps the secret typed for the last test (sealed in
// the page, unreadable to it) or else the stored one.

// Refusals of Save.
const (
	msgNoProof = "Run Test Connection first: the settings can be saved only after they passed a test."
	msgExpired = "Run Test Connection again: the last passing test was more than %s ago."
	msgChanged = "Run Test Connection again: the settings changed since the last passing test."
)

// smtpForm is the settings form, in the guide's order.
func smtpForm() *webkit.Form {
	return webkit.NewForm(
		&webkit.Field{Name: "test", Type: "hidden"}, // Save's refusals, shown at the Test Connection button
		&webkit.Field{Name: "host", Label: "SMTP server", Type: "text", Required: true, MaxLen: 253,
			Hint: "The server's name only, for Exchange Online smtp.office365.com."},
		&webkit.Field{Name: "port", Label: "SMTP port", Type: "number", MaxLen: 5,
			Hint: "587 for STARTTLS, 465 for TLS; empty for the security's usual port."},
		&webkit.Field{Name: "conn_timeout", Label: "Connection timeout (seconds)", Type: "number", MaxLen: 3,
			Hint: "How long to wait for the server; empty for 30 seconds."},
		&webkit.Field{Name: "security", Label: "Security", Type: "select", Required: true},
		&webkit.Field{Name: "from", Label: "Sender address (From)", Type: "email", Required: true, MaxLen: 254,
			Hint: "For Exchange Online the mailbox the app may send as, such as no-reply@contoso.onmicrosoft.com."},
		&webkit.Field{Name: "auth_mode", Label: "Authentication", Type: "select", Required: true},
		&webkit.Field{Name: "username", Label: "Username or sender mailbox", Type: "text", MaxLen: 254,
			Hint: "The SMTP login; with Exchange Online the mailbox the token is used for. Empty: the sender address."},
		&webkit.Field{Name: "password", Label: "Password", Type: "password", Autocomplete: "new-password", MaxLen: 1024},
		&webkit.Field{Name: "tenant_id", Label: "Tenant ID", Type: "text", MaxLen: 253,
			Hint: "Directory (tenant) ID, from the app registration's Overview page."},
		&webkit.Field{Name: "client_id", Label: "Client ID", Type: "text", MaxLen: 36,
			Hint: "Application (client) ID, from the same page."},
		&webkit.Field{Name: "client_secret", Label: "Client secret", Type: "password", Autocomplete: "new-password", MaxLen: 1024},
		&webkit.Field{Name: "client_secret_expires", Label: "Client secret expiry date", Type: "date",
			Hint: "From Certificates & secrets; Lobby raises an alarm 30 days before."},
		&webkit.Field{Name: "token_endpoint_base", Label: "Token endpoint", Type: "url", MaxLen: 512,
			Hint: "Empty for " + notify.DefaultTokenEndpointBase + "."},
		&webkit.Field{Name: "proxy_url", Label: "Proxy", Type: "url", MaxLen: 1024,
			Hint: "Such as http://proxy.example.com:3128, for the token endpoint and SMTP; empty to connect directly."},
	)
}

// option is one choice of a select.
type option struct {
	Value, Label string
	Selected     bool
}

func options(selected string, pairs ...string) []option {
	var out []option
	for i := 0; i+1 < len(pairs); i += 2 {
		out = append(out, option{Value: pairs[i], Label: pairs[i+1], Selected: pairs[i] == selected})
	}
	return out
}

// smtpPage is the data of the SMTP page.
type smtpPage struct {
	F                 map[string]*webkit.Field
	Security, Auth    []option
	Version           int64  // the version the form was loaded from, for Save
	Proof             string // set after a passing test
	Pending           string // the secrets typed for the test, sealed
	SecretStored      bool   // a client secret is kept: "leave blank to keep"
	PasswordStored    bool
	Report            *reportView
	ProofTTL          string
	Saved             string // "version 3, saved by staff:ada on …"; "" when never saved
	CACount           int
	Send              *webkit.Form
	SendResult        *sendView
	TestFailed        bool
	SecretAlarmNotice string
}

// stepLabels are the steps' names on the page.
var stepLabels = map[string]string{
	notify.StepSettings: "Settings", notify.StepResolve: "Resolve", notify.StepDial: "Connect",
	notify.StepStartTLS: "STARTTLS", notify.StepTLS: "TLS", notify.StepToken: "Token", notify.StepAuth: "AUTH",
}

type stepView struct {
	Label, Outcome, Took, Detail string
}

type reportView struct {
	OK        bool
	Total     string
	Steps     []stepView
	Diagnosis *notify.Diagnosis
}

func newReportView(r notify.Report) *reportView {
	v := &reportView{OK: r.OK(), Total: ms(r.Total), Diagnosis: r.Diagnosis}
	for _, s := range r.Steps {
		v.Steps = append(v.Steps, stepView{Label: stepLabels[s.Name], Outcome: string(s.Outcome), Took: ms(s.Duration), Detail: s.Detail})
	}
	return v
}

// ms is d in whole milliseconds, "312 ms".
func ms(d time.Duration) string { return strconv.FormatInt(d.Milliseconds(), 10) + " ms" }

// stored is the saved SMTP settings, whether there are any, and who saved
// them last.
type stored struct {
	s     notify.Settings
	ok    bool
	about string
}

func (a *Admin) loadStored(ctx context.Context) (stored, error) {
	s, err := notify.LoadSettings(ctx, a.store)
	if errors.Is(err, storage.ErrNotFound) {
		return stored{}, nil
	}
	if err != nil {
		return stored{}, err
	}
	about := "version " + strconv.FormatInt(s.Version, 10)
	if row, err := a.store.GetSetting(ctx, notify.SettingsKey); err == nil {
		if row.UpdatedBy != "" {
			about += ", saved by " + strings.TrimPrefix(row.UpdatedBy, "staff:")
		}
		if !row.UpdatedAt.IsZero() {
			about += " on " + a.formatTime(row.UpdatedAt)
		}
	}
	return stored{s: s, ok: true, about: about}, nil
}

// fillForm shows s in form; secrets are never shown.
func (a *Admin) fillForm(form *webkit.Form, s notify.Settings) {
	set := func(name, v string) { form.Field(name).Value = v }
	set("host", s.Host)
	if s.Port != 0 {
		set("port", strconv.Itoa(s.Port))
	}
	if s.ConnTimeout != 0 {
		set("conn_timeout", strconv.FormatFloat(s.ConnTimeout.Seconds(), 'f', -1, 64))
	}
	set("security", string(s.Security))
	set("from", s.From)
	set("auth_mode", string(s.AuthMode))
	set("username", s.Username)
	set("tenant_id", s.TenantID)
	set("client_id", s.ClientID)
	if !s.ClientSecretExpires.IsZero() {
		set("client_secret_expires", s.ClientSecretExpires.In(a.cfg.TimeZone).Format(time.DateOnly))
	}
	if s.TokenEndpointBase != notify.DefaultTokenEndpointBase {
		set("token_endpoint_base", s.TokenEndpointBase)
	}
	set("proxy_url", redactProxy(s.ProxyURL))
}

// redactProxy shows a proxy URL without its password.
func redactProxy(raw string) string {
	if raw == "" {
		return ""
	}
	if u, err := url.Parse(raw); err == nil {
		return u.Redacted()
	}
	return ""
}

// pendingSecrets are the secrets typed for a test, carried sealed to Save.
type pendingSecrets struct {
	ClientSecret string `json:"c,omitempty"`
	Password     string `json:"p,omitempty"`
	ProxyURL     string `json:"x,omitempty"`
}

func (a *Admin) sealPending(st *storage.Staff, p pendingSecrets) string {
	if p == (pendingSecrets{}) {
		return ""
	}
	b, _ := json.Marshal(p) // three strings: cannot fail
	return a.pending.Seal(st.ID.String()+"\n"+string(b), a.now().Add(a.cfg.ProofTTL))
}

func (a *Admin) openPending(st *storage.Staff, tok string) pendingSecrets {
	var p pendingSecrets
	if tok == "" {
		return p
	}
	payload, err := a.pending.Open(tok, a.now())
	who, body, _ := strings.Cut(payload, "\n")
	if err != nil || who != st.ID.String() {
		return p
	}
	_ = json.Unmarshal([]byte(body), &p)
	return p
}

// readSMTP builds the settings the form describes: typed values, a blank
// secret standing for the one typed for the last test or else the stored
// one, the stored token refresh margin, and the trusted certificates. It
// returns the form with the values to show again (never a secret), the
// secrets typed so far (to carry sealed), and whether the form had errors.
func (a *Admin) readSMTP(r *http.Request, st *storage.Staff, cur stored, cas string) (notify.Settings, *webkit.Form, pendingSecrets, bool) {
	form := smtpForm()
	form.Load(r.PostForm)
	pending := a.openPending(st, r.PostForm.Get("pending"))
	var s notify.Settings
	s.Host = form.Value("host")
	if v := form.Value("port"); v != "" {
		n, err := strconv.Atoi(v)
		if err != nil || n < 1 || n > 65535 {
			form.Fail("port", "Enter the port as a number from 1 to 65535 (587 for STARTTLS, 465 for TLS).")
		}
		s.Port = n
	}
	if v := form.Value("conn_timeout"); v != "" {
		f, err := strconv.ParseFloat(v, 64)
		if err != nil || f <= 0 || f > 600 {
			form.Fail("conn_timeout", "Enter the timeout in seconds, from 1 to 600 (30 is usual).")
		}
		s.ConnTimeout = time.Duration(f * float64(time.Second))
	}
	s.Security = notify.Security(form.Value("security"))
	s.From = form.Value("from")
	s.AuthMode = notify.AuthMode(form.Value("auth_mode"))
	s.Username = form.Value("username")
	s.TenantID = form.Value("tenant_id")
	s.ClientID = form.Value("client_id")
	if v := form.Value("client_secret_expires"); v != "" {
		d, err := time.ParseInLocation(time.DateOnly, v, a.cfg.TimeZone)
		if err != nil {
			form.Fail("client_secret_expires", "Enter the expiry date as YYYY-MM-DD, as Certificates & secrets shows it.")
		}
		s.ClientSecretExpires = d.UTC()
	}
	s.TokenEndpointBase = form.Value("token_endpoint_base")
	s.TokenRefreshMargin = cur.s.TokenRefreshMargin
	s.TrustedCAPEM = cas

	// Secrets: typed, else typed for the last test, else stored. They
	// never go back into the form.
	typed := pendingSecrets{ClientSecret: r.PostForm.Get("client_secret"), Password: r.PostForm.Get("password")}
	form.Field("client_secret").Value, form.Field("password").Value = "", ""
	s.ClientSecret = firstOf(typed.ClientSecret, pending.ClientSecret, cur.s.ClientSecret)
	s.Password = firstOf(typed.Password, pending.Password, cur.s.Password)
	if typed.ClientSecret != "" {
		pending.ClientSecret = typed.ClientSecret
	}
	if typed.Password != "" {
		pending.Password = typed.Password
	}
	// The proxy is shown without its password: the shown form of the
	// pending or stored one stands for it.
	proxy := form.Value("proxy_url")
	switch {
	case proxy != "" && pending.ProxyURL != "" && proxy == redactProxy(pending.ProxyURL):
		s.ProxyURL = pending.ProxyURL
	case proxy != "" && proxy == redactProxy(cur.s.ProxyURL):
		s.ProxyURL = cur.s.ProxyURL
	default:
		s.ProxyURL = proxy
		pending.ProxyURL = ""
		if redactProxy(proxy) != proxy {
			pending.ProxyURL = proxy
		}
	}
	form.Field("proxy_url").Value = redactProxy(s.ProxyURL)

	// Only the secret the authentication uses is kept.
	if s.AuthMode != notify.AuthExchangeOnline {
		s.ClientSecret = ""
	}
	if s.AuthMode != notify.AuthPassword {
		s.Password = ""
	}
	if err := s.Validate(); err != nil {
		var ve notify.ValidationErrors
		if errors.As(err, &ve) {
			for _, fe := range ve {
				name := fe.Field
				if form.Field(name) == nil || name == "test" {
					name = "test"
					if fe.Field == "trusted_ca_pem" {
						fe.Message = "a trusted certificate is not valid: check the trusted certificates page (" + fe.Message + ")"
					}
				}
				form.Fail(name, sentence(fe.Message))
			}
		} else {
			form.Fail("test", sentence(err.Error()))
		}
	}
	return s, form, pending, !form.Valid()
}

func firstOf(vs ...string) string {
	for _, v := range vs {
		if v != "" {
			return v
		}
	}
	return ""
}

// sentence capitalises msg and ends it with a full stop.
func sentence(msg string) string {
	if msg == "" {
		return msg
	}
	msg = strings.ToUpper(msg[:1]) + msg[1:]
	if !strings.HasSuffix(msg, ".") {
		msg += "."
	}
	return msg
}

// settingsHash is a keyed hash of everything s holds, secrets and trusted
// certificates included, with the defaults filled in (an empty port and
// 587 are the same settings); never the version.
func (a *Admin) settingsHash(s notify.Settings) string {
	s = s.WithDefaults()
	s.Version = 0
	s.ClientSecretExpires = s.ClientSecretExpires.UTC()
	b, err := json.Marshal(s)
	if err != nil {
		return "" // never matches a proof
	}
	m := hmac.New(sha256.New, a.hashKey)
	m.Write(b)
	return base64.RawURLEncoding.EncodeToString(m.Sum(nil))
}

// smtpView is the SMTP page for st with form and page data p.
func (a *Admin) smtpView(r *http.Request, st *storage.Staff, form *webkit.Form, p *smtpPage) *webkit.View {
	p.F = map[string]*webkit.Field{}
	for _, f := range form.Fields {
		p.F[f.Name] = f
	}
	p.Security = options(form.Value("security"),
		string(notify.SecurityStartTLS), "STARTTLS (port 587)", string(notify.SecurityTLS), "TLS (port 465)",
		string(notify.SecurityNone), "None: unencrypted, only without authentication")
	p.Auth = options(form.Value("auth_mode"),
		string(notify.AuthExchangeOnline), "Microsoft Exchange Online OAuth", string(notify.AuthPassword), "Password",
		string(notify.AuthNone), "None")
	p.ProofTTL = a.cfg.ProofTTL.String()
	if p.Send == nil {
		p.Send = sendForm()
	}
	return a.view(r, "SMTP server", st, "smtp", form, p)
}

// caBundle is the trusted certificates for a test or a save.
func (a *Admin) caBundle(ctx context.Context) (string, error) {
	pem, _, err := a.loadCAs(ctx)
	return pem, err
}

func (a *Admin) getSMTP(w http.ResponseWriter, r *http.Request, st *storage.Staff) {
	cur, err := a.loadStored(r.Context())
	if err != nil {
		a.fail(w, r, st, "load SMTP settings", err)
		return
	}
	form := smtpForm()
	p := &smtpPage{Version: cur.s.Version, Saved: cur.about}
	if cur.ok {
		a.fillForm(form, cur.s)
	} else {
		form.Field("security").Value = string(notify.SecurityStartTLS)
		form.Field("auth_mode").Value = string(notify.AuthExchangeOnline)
		form.Field("host").Value = "smtp.office365.com"
	}
	a.secretHints(form, p, cur.s, pendingSecrets{})
	v := a.smtpView(r, st, form, p)
	v.Notice = a.takeFlash(w, r, st, "smtp")
	a.page(w, r, http.StatusOK, "smtp", v)
}

// secretHints says beside each secret field what a blank keeps.
func (a *Admin) secretHints(form *webkit.Form, p *smtpPage, cur notify.Settings, pending pendingSecrets) {
	p.SecretStored, p.PasswordStored = cur.ClientSecret != "", cur.Password != ""
	hint := func(name string, typed, stored bool, what string) {
		switch {
		case typed:
			form.Field(name).Hint = "Leave blank to keep the " + what + " you entered for the test; it is not shown again."
		case stored:
			form.Field(name).Hint = "Leave blank to keep the stored " + what + ". It is never shown."
		default:
			form.Field(name).Hint = "No " + what + " is stored yet."
		}
	}
	hint("client_secret", pending.ClientSecret != "", p.SecretStored, "client secret")
	form.Field("client_secret").Hint += " Paste the secret's Value, not its Secret ID."
	hint("password", pending.Password != "", p.PasswordStored, "password")
}

func (a *Admin) postSMTPTest(w http.ResponseWriter, r *http.Request, st *storage.Staff) {
	ctx := r.Context()
	if ok, wait := a.limitTests.Allow("staff:" + st.ID.String()); !ok {
		webkit.TooMany(w, r, wait)
		return
	}
	cur, err := a.loadStored(ctx)
	if err != nil {
		a.fail(w, r, st, "load SMTP settings", err)
		return
	}
	cas, err := a.caBundle(ctx)
	if err != nil {
		a.fail(w, r, st, "load trusted certificates", err)
		return
	}
	s, form, pending, bad := a.readSMTP(r, st, cur, cas)
	p := &smtpPage{Version: versionOf(r), Saved: cur.about, Pending: a.sealPending(st, pending)}
	a.secretHints(form, p, cur.s, pending)
	if bad {
		a.page(w, r, http.StatusUnprocessableEntity, "smtp", a.smtpView(r, st, form, p))
		return
	}
	a.log.InfoContext(ctx, "smtp test connection", "staff_id", st.ID, "settings", s)
	tctx, cancel := context.WithTimeout(ctx, 4*s.WithDefaults().ConnTimeout+10*time.Second)
	report := a.cfg.TestConnection(tctx, s)
	cancel()
	p.Report = newReportView(report)
	code, detail := "", "passed in "+ms(report.Total)
	if report.OK() {
		p.Proof = a.proofs.Sign(st.ID.String()+"\n"+a.settingsHash(s), a.now().Add(a.cfg.ProofTTL))
	} else {
		p.TestFailed = true
		if report.Diagnosis != nil {
			code = report.Diagnosis.Code
		}
		detail = "failed (" + code + ") after " + ms(report.Total)
	}
	a.log.InfoContext(ctx, "smtp test connection done", "staff_id", st.ID, "ok", report.OK(), "code", code,
		"took_ms", report.Total.Milliseconds(), "settings", s)
	a.audit(r, st, "smtp.test_connection", notify.SettingsKey, detail+": "+s.String())
	a.page(w, r, http.StatusOK, "smtp", a.smtpView(r, st, form, p))
}

func versionOf(r *http.Request) int64 {
	v, _ := strconv.ParseInt(r.PostForm.Get("version"), 10, 64)
	return max(v, 0)
}

func (a *Admin) postSMTPSave(w http.ResponseWriter, r *http.Request, st *storage.Staff) {
	ctx := r.Context()
	cur, err := a.loadStored(ctx)
	if err != nil {
		a.fail(w, r, st, "load SMTP settings", err)
		return
	}
	cas, err := a.caBundle(ctx)
	if err != nil {
		a.fail(w, r, st, "load trusted certificates", err)
		return
	}
	s, form, pending, bad := a.readSMTP(r, st, cur, cas)
	p := &smtpPage{Version: versionOf(r), Saved: cur.about, Pending: a.sealPending(st, pending)}
	a.secretHints(form, p, cur.s, pending)
	refuse := func(status int, msg string) {
		form.Fail("test", msg)
		a.page(w, r, status, "smtp", a.smtpView(r, st, form, p))
	}
	if bad {
		a.page(w, r, http.StatusUnprocessableEntity, "smtp", a.smtpView(r, st, form, p))
		return
	}
	if msg := a.checkProof(st, r.PostForm.Get("proof"), s); msg != "" {
		a.log.InfoContext(ctx, "smtp settings save refused", "staff_id", st.ID, "reason", msg)
		refuse(http.StatusConflict, msg)
		return
	}
	saved, err := notify.SaveSettingsBy(ctx, a.store, s, versionOf(r), "staff:"+st.Username)
	if errors.Is(err, storage.ErrConflict) {
		p.Version = cur.s.Version
		refuse(http.StatusConflict, "Someone else saved the SMTP settings meanwhile (now "+cur.about+"). "+
			"Reload the page to see them, make your changes again, Test Connection and Save.")
		return
	}
	if err != nil {
		a.fail(w, r, st, "save SMTP settings", err)
		return
	}
	if a.cfg.SettingsSaved != nil {
		a.cfg.SettingsSaved()
	}
	notice := "Saved (version " + strconv.FormatInt(saved.Version, 10) + "). The next email uses these settings."
	// The client secret's expiry alarm follows the new date at once.
	if err := notify.CheckSecretExpiry(ctx, a.store, saved, a.now()); err != nil {
		a.log.WarnContext(ctx, "admin: client secret expiry check after save", "error", err.Error())
		notice += " The client secret's expiry could not be checked just now; Lobby checks it again within the hour."
	} else if exp := saved.ClientSecretExpires; saved.AuthMode == notify.AuthExchangeOnline && !exp.IsZero() {
		left := exp.Sub(a.now())
		switch {
		case left <= 0:
			notice += " The client secret has expired: an alarm is raised; renew it in Microsoft Entra."
		case left <= 30*24*time.Hour:
			notice += fmt.Sprintf(" The client secret expires in %d days: an alarm is raised until it is renewed.", int(left/(24*time.Hour)))
		}
	}
	a.log.InfoContext(ctx, "smtp settings saved", "staff_id", st.ID, "settings", saved)
	a.audit(r, st, "smtp.save", notify.SettingsKey, "version "+strconv.FormatInt(saved.Version, 10)+": "+saved.String())
	a.setFlash(w, r, st, "smtp", notice)
	webkit.SeeOther(w, "../smtp")
}

// checkProof says why tok does not allow st to save s, or "".
func (a *Admin) checkProof(st *storage.Staff, tok string, s notify.Settings) string {
	if tok == "" {
		return msgNoProof
	}
	payload, err := a.proofs.Verify(tok, a.now())
	who, hash, _ := strings.Cut(payload, "\n")
	switch {
	case errors.Is(err, webkit.ErrTokenExpired):
		return fmt.Sprintf(msgExpired, a.cfg.ProofTTL)
	case err != nil || who != st.ID.String():
		return msgNoProof
	case !hmac.Equal([]byte(hash), []byte(a.settingsHash(s))):
		return msgChanged
	}
	return ""
}
