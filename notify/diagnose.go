package notify

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"encoding/json"
	"errors"
	"fmt"
	"net"
	"net/http"
	"net/textproto"
	"os"
	"regexp"
	"strconv"
	"strings"
	"syscall"

	"github.com/wneessen/go-mail"
	"golang.org/x/oauth2"
)

// Diagnosis explains a delivery failure to an admin: a stable code, a plain
// message, a hint saying what to do, and whether retrying later may help.
// It never contains a secret or a token.
type Diagnosis struct {
	Code    string `json:"code"`
	Message string `json:"message"`
	Hint    string `json:"hint"`
	// Temporary: retry later (back off). Otherwise the message fails for
	// good and an admin must change something.
	Temporary bool `json:"temporary"`
	// Detail is the evidence: the server's reply, the AADSTS code, the
	// network error. Safe to show.
	Detail string `json:"detail,omitempty"`
}

func (d Diagnosis) String() string {
	if d.Code == "" {
		return "ok"
	}
	s := d.Code + ": " + d.Message
	if d.Detail != "" {
		s += " (" + d.Detail + ")"
	}
	if d.Hint != "" {
		s += " " + d.Hint
	}
	return s
}

// Diagnosis codes. They are stable: alarms, the mail log and tests key on them.
const (
	CodeConnectTimeout           = "connect_timeout"
	CodeUnknownHost              = "unknown_host"
	CodeConnectionRefused        = "connection_refused"
	CodeConnectionLost           = "connection_lost"
	CodeProxyRefused             = "proxy_refused"
	CodeUnknownTenant            = "unknown_tenant"
	CodeUnknownClient            = "unknown_client"
	CodeInvalidClientSecret      = "invalid_client_secret"
	CodeExpiredClientSecret      = "expired_client_secret"
	CodeInvalidScope             = "invalid_scope"
	CodeTokenEndpointUnavailable = "token_endpoint_unavailable"
	CodeTokenRequestFailed       = "token_request_failed"
	CodeTokenRejected            = "token_rejected"
	CodeTokenExpiring            = "token_expiring"
	CodeCredentialsRejected      = "credentials_rejected"
	CodeSMTPAuthDisabled         = "smtp_auth_disabled"
	CodeAuthRequired             = "auth_required"
	CodeSendAsDenied             = "send_as_denied"
	CodeMailboxLogonFailure      = "mailbox_logon_failure"
	CodeUntrustedCertificate     = "untrusted_certificate"
	CodeStartTLSUnavailable      = "starttls_unavailable"
	CodeTLSMismatch              = "tls_mode_mismatch"
	CodeNoGreeting               = "no_greeting"
	CodeInsecureAuthRefused      = "insecure_auth_refused"
	CodeInvalidSettings          = "invalid_settings"
	CodeInvalidMessage           = "invalid_message"
	CodeServerBusy               = "server_busy"
	CodeTooManyConnections       = "too_many_connections"
	CodeRejected                 = "rejected"
	CodeCanceled                 = "canceled"
	CodeUnknown                  = "unknown"
)

// Hints that several diagnoses share.
const (
	hintServicePrincipal = "In Exchange Online PowerShell register the app's service principal with " +
		"New-ServicePrincipal -AppId <Application (client) ID> -ObjectId <Object ID of the Enterprise Application, not of the App Registration>, " +
		"then grant it the mailbox with Add-MailboxPermission -Identity <mailbox> -User <service principal ID> -AccessRights FullAccess. " +
		"Also check that the app has the Office 365 Exchange Online application permission SMTP.SendAsApp with admin consent, " +
		"and that the SMTP username is that mailbox."
	hintAddCA = "Add the issuing and root CA certificates of that server under Trusted certificates (take them from the chain the server sends)."
	hintProxy = "Check that this host can reach it: a firewall or a missing or wrong proxy setting usually causes this."
	// hintTLSMismatch is the heart of the tls_mode_mismatch hint.
	hintTLSMismatch     = "port 587 uses STARTTLS, port 465 implicit TLS: set Security to match the port"
	hintTLSMismatchFull = "The port and security do not match; " + hintTLSMismatch + ". Exchange Online: smtp.office365.com, port 587, STARTTLS."
)

// Diagnose maps an error from [Transport.Send], [TokenCache.Token] or
// [TestConnection] to a [Diagnosis]. It matches AADSTS numbers and SMTP
// (enhanced) status codes, not prose. A nil error gives the zero Diagnosis.
func Diagnose(err error) Diagnosis {
	if err == nil {
		return Diagnosis{}
	}
	var (
		ve   ValidationErrors
		te   *TokenError
		pe   *ProxyError
		nge  *NoGreetingError
		mode = authModeOf(err)
	)
	switch {
	case errors.Is(err, ErrInsecureAuth):
		return Diagnosis{Code: CodeInsecureAuthRefused,
			Message: "Lobby refused to send the password or access token over an unencrypted connection.",
			Hint:    "Set Security to STARTTLS (port 587) or TLS (port 465); Exchange Online needs STARTTLS on port 587."}
	case errors.As(err, &ve):
		return Diagnosis{Code: CodeInvalidSettings,
			Message: "The SMTP settings are incomplete or invalid.",
			Hint:    "Correct the fields marked on the settings page.",
			Detail:  strings.TrimPrefix(ve.Error(), "notify: settings: ")}
	case errors.Is(err, ErrNoRecipient):
		return Diagnosis{Code: CodeInvalidMessage, Message: "The email has no recipient.", Hint: "Give the guest or sponsor an email address."}
	case errors.Is(err, ErrStartTLSUnavailable):
		return Diagnosis{Code: CodeStartTLSUnavailable,
			Message: "The SMTP server did not offer STARTTLS, so the connection could not be encrypted.",
			Hint: "Check the host and port (Exchange Online: smtp.office365.com, port 587, STARTTLS). A firewall or " +
				"proxy that inspects SMTP can strip STARTTLS; if the server uses implicit TLS, choose TLS (port 465)."}
	case errors.Is(err, ErrServerNotTLS):
		return Diagnosis{Code: CodeTLSMismatch, Detail: plainTextDetail(err),
			Message: "The security setting does not match the port: Lobby started TLS, but the server answered in plain text (it expects STARTTLS).",
			Hint:    hintTLSMismatchFull}
	case errors.As(err, &nge) && nge.tlsMismatch():
		return Diagnosis{Code: CodeTLSMismatch, Detail: nge.Error(),
			Message: "The security setting does not match the port: the server waits for TLS from the first byte (implicit TLS), Lobby for its greeting (STARTTLS).",
			Hint:    hintTLSMismatchFull}
	case errors.As(err, &nge):
		return Diagnosis{Code: CodeNoGreeting, Temporary: true, Detail: nge.Error(),
			Message: "The SMTP server accepted the connection but never said hello (no greeting).",
			Hint: "Check the port: a port that is not SMTP, or one that speaks TLS only (then choose TLS), behaves like this; " +
				"Exchange Online is port 587 with STARTTLS. A firewall or proxy that holds connections open does too. Lobby retries."}
	case errors.Is(err, context.Canceled):
		return Diagnosis{Code: CodeCanceled, Message: "The attempt was cancelled before it finished.", Temporary: true,
			Hint: "Nothing to fix: it is retried (Lobby was probably shutting down)."}
	}
	if d, ok := diagnoseCertificate(err); ok {
		if errors.As(err, &te) {
			d.Message = "The token endpoint's TLS certificate is not trusted: " + d.Message
		} else {
			d.Message = "The SMTP server's TLS certificate is not trusted: " + d.Message
		}
		return d
	}
	if errors.As(err, &te) {
		return diagnoseToken(te.Err)
	}
	if d, ok := diagnoseSMTPReply(err, mode); ok {
		return d
	}
	if errors.As(err, &pe) {
		return diagnoseProxy(pe, "the SMTP server")
	}
	if d, ok := diagnoseNetwork(err, "the SMTP server"); ok {
		return d
	}
	if strings.Contains(err.Error(), "email:") {
		return Diagnosis{Code: CodeInvalidMessage, Message: "The email could not be built.", Detail: firstLine(err.Error()),
			Hint: "Check the sender and recipient addresses."}
	}
	// Unrecognised, so retried: the outbox delivers at least once, and a
	// failure Lobby cannot explain is not known to be permanent.
	return Diagnosis{Code: CodeUnknown, Temporary: true, Message: "Sending failed for a reason Lobby does not recognise.",
		Detail: firstLine(err.Error()),
		Hint:   "Lobby retries it. If it keeps failing, see the details and the log, and run Test Connection on the SMTP settings page."}
}

// plainTextDetail is the evidence of a server that answered a TLS handshake
// in plain text: the first bytes it sent, when they are printable (the
// start of an SMTP greeting, such as "220 s…").
func plainTextDetail(err error) string {
	d := "the server answered the TLS handshake in plain text"
	var rhe tls.RecordHeaderError
	if !errors.As(err, &rhe) {
		return d
	}
	for _, b := range rhe.RecordHeader {
		if b < 0x20 || b > 0x7e {
			return d
		}
	}
	return d + ": " + string(rhe.RecordHeader[:]) + "…"
}

// diagnoseCertificate recognises certificate verification failures.
func diagnoseCertificate(err error) (Diagnosis, bool) {
	var (
		ua  x509.UnknownAuthorityError
		hn  x509.HostnameError
		ci  x509.CertificateInvalidError
		cve *tls.CertificateVerificationError
	)
	switch {
	case errors.As(err, &ua):
		return Diagnosis{Code: CodeUntrustedCertificate, Detail: "certificate signed by unknown authority",
			Message: "it is signed by a certification authority Lobby does not trust.", Hint: hintAddCA}, true
	case errors.As(err, &hn):
		return Diagnosis{Code: CodeUntrustedCertificate, Detail: hn.Error(),
			Message: "it was issued for another name.",
			Hint:    "Use the host name the certificate was issued for (smtp.office365.com for Exchange Online), not an IP address or alias; a TLS-inspecting proxy also causes this."}, true
	case errors.As(err, &ci):
		return Diagnosis{Code: CodeUntrustedCertificate, Detail: ci.Error(),
			Message: "it is expired or not valid for this use.",
			Hint:    "Check the clock of this host; if it is right, the server's certificate must be renewed. " + hintAddCA}, true
	case errors.As(err, &cve):
		return Diagnosis{Code: CodeUntrustedCertificate, Detail: firstLine(cve.Error()),
			Message: "it could not be verified.", Hint: hintAddCA}, true
	}
	return Diagnosis{}, false
}

// diagnoseProxy explains a proxy's refusal to open a tunnel to what: a 5xx
// (it could not reach the target, or is overloaded) is temporary, anything
// else (407: it wants credentials; 403: its policy) needs an admin.
func diagnoseProxy(pe *ProxyError, what string) Diagnosis {
	d := Diagnosis{Code: CodeProxyRefused, Detail: pe.Status,
		Message: "The proxy refused to open a connection to " + what + "."}
	switch {
	case pe.StatusCode == http.StatusProxyAuthRequired:
		d.Message = "The proxy refused to open a connection to " + what + ": it requires authentication."
		d.Hint = "Put the proxy's user name and password in the proxy URL, such as http://user:password@proxy.example.com:3128, or correct them if they are there."
	case pe.StatusCode >= 500:
		d.Temporary = true
		d.Hint = "The proxy could not reach " + pe.Addr + " or is overloaded; Lobby retries. If it lasts, check the proxy and the route from it to " + pe.Addr + "."
	default:
		d.Hint = "Allow CONNECT to " + pe.Addr + " on the proxy (many proxies allow it to port 443 only), or clear the proxy setting if it is reachable directly."
	}
	return d
}

// diagnoseToken explains a failed token request.
func diagnoseToken(err error) Diagnosis {
	var (
		re *oauth2.RetrieveError
		pe *ProxyError
	)
	if errors.As(err, &pe) {
		return diagnoseProxy(pe, "the token endpoint")
	}
	if !errors.As(err, &re) {
		if d, ok := diagnoseNetwork(err, "the token endpoint"); ok {
			d.Code, d.Temporary = CodeTokenEndpointUnavailable, true
			d.Message = "The token endpoint could not be reached: " + lowerFirst(d.Message)
			d.Hint = hintProxy + " Lobby must reach login.microsoftonline.com on port 443, through the proxy if one is set. It retries."
			return d
		}
		if errors.Is(err, context.DeadlineExceeded) {
			return Diagnosis{Code: CodeTokenEndpointUnavailable, Temporary: true,
				Message: "The token endpoint did not answer in time.", Hint: hintProxy}
		}
		// Not an answer from Entra ID (an unreadable reply, a broken
		// connection): nothing says the settings are wrong, so retried.
		return Diagnosis{Code: CodeTokenRequestFailed, Temporary: true,
			Message: "Getting an access token failed: the token endpoint's answer was not one from Entra ID.",
			Detail:  firstLine(err.Error()),
			Hint: "Lobby retries. If it lasts, check the token endpoint setting, and whether a proxy or captive portal " +
				"answers in Entra ID's place; see the details and the log."}
	}
	status := 0
	if re.Response != nil {
		status = re.Response.StatusCode
	}
	aad := aadstsCode(re)
	detail := strings.TrimSpace(fmt.Sprintf("HTTP %d %s", status, re.ErrorCode))
	if aad != 0 {
		detail += " AADSTS" + strconv.Itoa(aad)
	}
	d := Diagnosis{Detail: detail}
	switch {
	case status >= 300 && status < 400:
		d.Code, d.Message = CodeTokenRequestFailed, "The token endpoint answered with a redirect, which Lobby does not follow: the client secret is sent to the configured endpoint only."
		d.Detail = "the token endpoint redirected to " + redirectTarget(re.Response)
		d.Hint = "Set the token endpoint to Entra ID's own address (" + DefaultTokenEndpointBase + " for the global service). " +
			"If it is right, a proxy or gateway in between redirects the request: exempt the token endpoint from it."
	case aad == 90002 || aad == 900023:
		d.Code, d.Message = CodeUnknownTenant, "Entra ID does not know the tenant (Directory ID)."
		d.Hint = "Copy the Directory (tenant) ID from the Overview page of the app registration in the Entra admin center; check the token endpoint too."
	case aad == 700016:
		d.Code, d.Message = CodeUnknownClient, "Entra ID does not know the Application (client) ID in this tenant."
		d.Hint = "Copy the Application (client) ID from the Overview page of the app registration, and check that the registration is in this tenant."
	case aad == 7000215:
		d.Code, d.Message = CodeInvalidClientSecret, "Entra ID rejected the client secret."
		d.Hint = "Paste the secret's Value, not its Secret ID (a GUID), from Certificates & secrets of the app registration. " +
			"The value is shown only once, when the secret is created: if you no longer have it, create a new secret."
	case aad == 7000222:
		d.Code, d.Message = CodeExpiredClientSecret, "The client secret has expired."
		d.Hint = "Create a new client secret under Certificates & secrets of the app registration, paste its Value here, and set its expiry date so Lobby warns before the next one expires."
	case aad == 70011:
		d.Code, d.Message = CodeInvalidScope, "Entra ID rejected the requested scope."
		d.Hint = "Lobby asks for " + ExchangeOnlineScope + "; check that the token endpoint is Entra ID's (login.microsoftonline.com) and that the app has the Office 365 Exchange Online permission SMTP.SendAsApp."
	case status >= 500 || status == 429 || re.ErrorCode == "temporarily_unavailable":
		d.Code, d.Temporary, d.Message = CodeTokenEndpointUnavailable, true, "The token endpoint is unavailable."
		d.Hint = "Nothing to change: Lobby retries. If it lasts, check Microsoft 365 service health and the proxy."
	case re.ErrorCode == "invalid_client":
		d.Code, d.Message = CodeInvalidClientSecret, "Entra ID rejected the client credentials."
		d.Hint = "Check the Application (client) ID and paste the secret's Value, not its Secret ID."
	case re.ErrorCode == "unauthorized_client":
		d.Code, d.Message = CodeUnknownClient, "Entra ID refused the application."
		d.Hint = "Check the Application (client) ID and that the app registration is in this tenant."
	case re.ErrorCode == "invalid_scope":
		d.Code, d.Message = CodeInvalidScope, "Entra ID rejected the requested scope."
		d.Hint = "Check the token endpoint and the app's SMTP.SendAsApp permission."
	default:
		d.Code, d.Message = CodeTokenRequestFailed, "Entra ID refused to issue an access token."
		d.Hint = "Look the AADSTS code up at https://login.microsoftonline.com/error and check the app registration."
	}
	return d
}

// redirectTarget is the scheme and host of a redirect's Location (never its
// path or query, which may carry anything), or "an unnamed location".
func redirectTarget(resp *http.Response) string {
	if resp != nil {
		if u, err := resp.Location(); err == nil && u.Host != "" {
			return u.Scheme + "://" + u.Host
		}
	}
	return "an unnamed location"
}

var aadstsRE = regexp.MustCompile(`\bAADSTS(\d+)\b`)

// aadstsCode finds the AADSTS number: error_codes in the body, else the
// description.
func aadstsCode(re *oauth2.RetrieveError) int {
	var body struct {
		ErrorCodes []int `json:"error_codes"`
	}
	if json.Unmarshal(re.Body, &body) == nil && len(body.ErrorCodes) > 0 {
		return body.ErrorCodes[0]
	}
	if m := aadstsRE.FindStringSubmatch(re.ErrorDescription); m != nil {
		n, _ := strconv.Atoi(m[1])
		return n
	}
	return 0
}

var enhancedRE = regexp.MustCompile(`^([245])\.(\d{1,3})\.(\d{1,3})\b`)

// enhancedCode is the RFC 3463 enhanced status code at the start of an SMTP
// reply text, or "".
func enhancedCode(msg string) string {
	return enhancedRE.FindString(strings.TrimSpace(msg))
}

// quotedReplyRE finds a server reply in go-mail's error text, which holds
// the *textproto.Error as text: `554 "5.2.252 SendAsDenied; ..."` (the reply
// quoted with Go syntax). replyRE is the unquoted form.
var (
	quotedReplyRE = regexp.MustCompile(`\b([2345]\d\d) ("(?:[^"\\]|\\.)*")`)
	replyRE       = regexp.MustCompile(`\b([2345]\d\d)[ -]([245]\.\d{1,3}\.\d{1,3}\b.*)`)
)

// smtpReply finds the reply code, enhanced code and text of an SMTP error.
// The text is the server's reply as it sent it, such as "554 5.2.252
// SendAsDenied; ..." (its first line): the evidence of a diagnosis.
func smtpReply(err error) (code int, enhanced, text string, ok bool) {
	var (
		tpe *textproto.Error
		se  *mail.SendError
	)
	switch {
	case errors.As(err, &tpe):
		return tpe.Code, enhancedCode(tpe.Msg), replyText(tpe.Code, tpe.Msg), true
	case errors.As(err, &se) && se.ErrorCode() != 0:
		code, enhanced = se.ErrorCode(), se.EnhancedStatusCode()
		// go-mail keeps the reply only as text; pick it out again.
		msg := sendErrorReply(se.Error(), code)
		if enhanced == "" {
			enhanced = enhancedCode(msg)
		}
		return code, enhanced, replyText(code, msg), true
	}
	return 0, "", "", false
}

// sendErrorReply is the text of the reply with that code in a go-mail
// error text, or "" when it is not there.
func sendErrorReply(s string, code int) string {
	want := strconv.Itoa(code)
	for _, m := range quotedReplyRE.FindAllStringSubmatch(s, -1) {
		if m[1] != want {
			continue
		}
		if msg, err := strconv.Unquote(m[2]); err == nil {
			return msg
		}
	}
	for _, m := range replyRE.FindAllStringSubmatch(s, -1) {
		if m[1] == want {
			return m[2]
		}
	}
	return ""
}

// replyText is a reply as the server sent it: "554 5.2.252 SendAsDenied;
// ...", its first line.
func replyText(code int, msg string) string {
	if msg = firstLine(msg); msg == "" {
		return strconv.Itoa(code)
	}
	return strconv.Itoa(code) + " " + msg
}

// diagnoseSMTPReply explains an SMTP error reply.
func diagnoseSMTPReply(err error, mode AuthMode) (Diagnosis, bool) {
	code, enh, text, ok := smtpReply(err)
	if !ok {
		return Diagnosis{}, false
	}
	d := Diagnosis{Detail: text}
	switch {
	case enh == "5.7.139" || enh == "5.7.30":
		d.Code, d.Message = CodeSMTPAuthDisabled, "Exchange Online refused SMTP authentication: it is turned off."
		lower := strings.ToLower(text)
		switch {
		case strings.Contains(lower, "basic authentication") || enh == "5.7.30":
			d.Message = "Exchange Online does not accept a password (basic authentication) for SMTP."
			d.Hint = "Choose Exchange Online OAuth as the authentication and fill in the tenant, client ID and client secret."
		case strings.Contains(lower, "mailbox"):
			d.Hint = "Turn on Authenticated SMTP for the mailbox: Microsoft 365 admin center > Users > Active users > the mailbox > Mail > Manage email apps, " +
				"or Set-CASMailbox -Identity <mailbox> -SmtpClientAuthenticationDisabled $false."
		default:
			d.Hint = "Turn on SMTP AUTH for the organisation with Set-TransportConfig -SmtpClientAuthenticationDisabled $false " +
				"(and check that no security defaults or authentication policy block it), then Authenticated SMTP for the mailbox."
		}
	case code == 535 && mode == AuthPassword:
		d.Code, d.Message = CodeCredentialsRejected, "The SMTP server rejected the username or password."
		d.Hint = "Check the username and password; for Exchange Online use Exchange Online OAuth instead."
	case code == 535:
		d.Code, d.Message = CodeTokenRejected, "Exchange Online rejected the access token: the app may not use this mailbox."
		d.Hint = hintServicePrincipal
	case enh == "5.5.127":
		d.Code, d.Temporary, d.Message = CodeTokenExpiring, true, "Exchange Online refused an access token that is about to expire."
		d.Hint = "Lobby already tried once more with a new token, which was refused as well. Check that the clock of this host is right; the email is retried later."
	case code == 530 || enh == "5.7.57":
		d.Code, d.Message = CodeAuthRequired, "The SMTP server requires authentication."
		d.Hint = "Choose an authentication mode; for Exchange Online choose Exchange Online OAuth."
	case enh == "5.2.252":
		d.Code, d.Message = CodeSendAsDenied, "Exchange Online refused to send as the From address."
		d.Hint = "Use the mailbox itself as the From address, or grant the app SendAs on that address with " +
			"Add-RecipientPermission -Identity <from address> -Trustee <service principal ID> -AccessRights SendAs."
	case code == 430 || enh == "4.2.0":
		// Looks temporary (4xx) but is a missing permission: retrying won't help.
		d.Code, d.Message = CodeMailboxLogonFailure, "Exchange Online could not log on to the mailbox."
		d.Hint = "This looks temporary but is a configuration problem: grant the app FullAccess with " +
			"Add-MailboxPermission -Identity <mailbox> -User <service principal ID> -AccessRights FullAccess, and check the SMTP username is that mailbox."
	case tooManyConnections(code, enh, text):
		d.Code, d.Temporary = CodeTooManyConnections, true
		d.Message = "The SMTP server refused a connection because too many are open at once (Exchange Online allows 3 per mailbox)."
		d.Hint = "Lobby lowers its number of connections by itself and retries the email. If this keeps coming back, " +
			"check that no other application, printer or server sends through the same mailbox at the same time " +
			"(the limit counts all of them), give them a mailbox of their own, or send with 3 workers or fewer " +
			"(send-test-email --workers)."
	case code >= 400 && code < 500:
		d.Code, d.Temporary, d.Message = CodeServerBusy, true, "The SMTP server asked to try again later."
		d.Hint = "Nothing to change: Lobby retries with back-off."
	case code >= 500:
		d.Code, d.Message = CodeRejected, "The SMTP server rejected the message."
		d.Hint = "Read the server's reply in the details; check the recipient and sender addresses."
	default:
		return Diagnosis{}, false
	}
	return d, true
}

// tooManyConnections recognises a refusal for having too many connections
// open: Exchange Online's "432 4.3.2 Concurrent connections limit
// exceeded" (3 per mailbox), and the "421 4.7.0 Too many connections" of
// other servers and relays, which have no code of their own, by their text.
func tooManyConnections(code int, enh, text string) bool {
	if code == 432 && enh == "4.3.2" {
		return true
	}
	if code < 400 || code > 499 {
		return false
	}
	lower := strings.ToLower(text)
	for _, s := range []string{"too many connections", "too many concurrent", "concurrent connection", "connection limit", "thread limit exceeded"} {
		if strings.Contains(lower, s) {
			return true
		}
	}
	return false
}

// diagnoseNetwork explains DNS, connect and connection failures.
func diagnoseNetwork(err error, what string) (Diagnosis, bool) {
	var (
		dnsErr *net.DNSError
		netErr net.Error
	)
	switch {
	case errors.As(err, &dnsErr):
		// Temporary even when the name does not exist: saved settings passed
		// Test Connection, so an NXDOMAIN now is far more likely a resolver
		// hiccup than a typo, and one bad answer must not dead-letter mail.
		// A typo that does last still dead-letters once the retry policy
		// (MaxAttempts and RetryFor) is used up.
		d := Diagnosis{Code: CodeUnknownHost, Temporary: true, Detail: "no such host " + dnsErr.Name,
			Message: fmt.Sprintf("The name %s of %s does not exist in DNS.", dnsErr.Name, what),
			Hint: "Check the host name for typos (smtp.office365.com, not smtp.office365.con). " +
				"Queued emails are retried, in case this host's DNS answered wrongly for a moment."}
		if !dnsErr.IsNotFound {
			d.Detail = firstLine(dnsErr.Error())
			d.Message = fmt.Sprintf("The name %s of %s could not be looked up.", dnsErr.Name, what)
			d.Hint = "Check this host's DNS servers; Lobby retries."
		}
		return d, true
	case errors.Is(err, syscall.ECONNREFUSED):
		return Diagnosis{Code: CodeConnectionRefused, Temporary: true, Detail: "connection refused",
			Message: fmt.Sprintf("%s refused the connection.", upperFirst(what)),
			Hint:    "Check the port (587 for STARTTLS, 465 for TLS) and that nothing in between blocks it."}, true
	case errors.Is(err, context.DeadlineExceeded), errors.Is(err, os.ErrDeadlineExceeded),
		errors.As(err, &netErr) && netErr.Timeout():
		return Diagnosis{Code: CodeConnectTimeout, Temporary: true, Detail: firstLine(err.Error()),
			Message: fmt.Sprintf("The connection to %s timed out.", what),
			Hint:    hintProxy}, true
	case isBrokenConn(err):
		return Diagnosis{Code: CodeConnectionLost, Temporary: true, Detail: firstLine(err.Error()),
			Message: fmt.Sprintf("%s closed the connection unexpectedly.", upperFirst(what)),
			Hint:    "Nothing to change if it is rare: Lobby retries. If it repeats, check the host, port and security settings."}, true
	}
	return Diagnosis{}, false
}

// authModeError remembers which authentication a dial used, so that a 535
// can be told apart (password or token).
type authModeError struct {
	mode AuthMode
	err  error
}

func (e *authModeError) Error() string { return e.err.Error() }
func (e *authModeError) Unwrap() error { return e.err }

func authModeOf(err error) AuthMode {
	var ame *authModeError
	if errors.As(err, &ame) {
		return ame.mode
	}
	return AuthExchangeOnline
}

func firstLine(s string) string {
	s = strings.TrimSpace(s)
	if i := strings.IndexAny(s, "\r\n"); i >= 0 {
		s = s[:i]
	}
	if len(s) > 300 {
		s = s[:300] + "…"
	}
	return s
}

func upperFirst(s string) string {
	if s == "" {
		return s
	}
	return strings.ToUpper(s[:1]) + s[1:]
}

func lowerFirst(s string) string {
	if s == "" {
		return s
	}
	return strings.ToLower(s[:1]) + s[1:]
}
