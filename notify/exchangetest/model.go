package exchangetest

import (
	"crypto/rand"
	"fmt"
	"strings"
	"sync"

	"github.com/emersion/go-smtp"
)

// model is the emulated directory (tenants, app registrations) and Exchange organisation
// (service principals, mailboxes and their permissions). Keys are lower case.
type model struct {
	mu            sync.RWMutex
	tenants       map[string]tenant // by tenant ID
	apps          map[string]app    // by client (application) ID
	mailboxes     map[string]bool   // address → SMTP AUTH enabled for the mailbox
	fullAccess    map[grantKey]bool // Add-MailboxPermission -AccessRights FullAccess
	sendAs        map[grantKey]bool // Add-RecipientPermission -AccessRights SendAs
	defaultTenant string            // the tenant SetTenantSMTPAuth switches
}

type tenant struct {
	id, domain string
	smtpAuth   bool
}

type app struct {
	tenantID, clientID string
	displayName        string
	secret, secretID   string
	secretExpired      bool
	spObjectID         string // the Enterprise Application's object ID, the token's oid
	spRegistered       bool   // New-ServicePrincipal was run in Exchange
}

type grantKey struct{ clientID, address string }

func newModel() *model {
	return &model{
		tenants:    map[string]tenant{},
		apps:       map[string]app{},
		mailboxes:  map[string]bool{},
		fullAccess: map[grantKey]bool{},
		sendAs:     map[grantKey]bool{},
	}
}

func key(s string) string { return strings.ToLower(strings.TrimSpace(s)) }

// AddTenant adds a directory (tenant) with its domain name, or renames an existing one.
// SMTP AUTH is enabled for a new tenant.
func (s *Server) AddTenant(tenantID, domain string) {
	m := s.model
	m.mu.Lock()
	defer m.mu.Unlock()
	t, ok := m.tenants[key(tenantID)]
	if !ok {
		t = tenant{id: key(tenantID), smtpAuth: true}
	}
	t.domain = key(domain)
	m.tenants[t.id] = t
}

// AddApp registers an application with a client secret in a tenant (replacing the secret
// of an existing one). As in Entra, that is all it does: the app cannot use a mailbox until
// SetServicePrincipal and SetMailboxPermission have been called for it.
func (s *Server) AddApp(tenantID, clientID, secret string) {
	m := s.model
	m.mu.Lock()
	defer m.mu.Unlock()
	a, ok := m.apps[key(clientID)]
	if !ok {
		a = app{clientID: key(clientID), displayName: "Lobby SMTP", spObjectID: newGUID()}
	}
	a.tenantID = key(tenantID)
	a.secret, a.secretID, a.secretExpired = secret, newGUID(), false
	m.apps[a.clientID] = a
}

// ExpireSecret makes the app's client secret expired: token requests get AADSTS7000222.
// Tokens already issued stay valid until they expire. Unknown client IDs are ignored.
func (s *Server) ExpireSecret(clientID string) {
	s.model.updateApp(clientID, func(a *app) { a.secretExpired = true })
}

// SetServicePrincipal registers (New-ServicePrincipal) or removes the app's service
// principal in Exchange. Without it XOAUTH2 fails with 535 5.7.3.
func (s *Server) SetServicePrincipal(clientID string, registered bool) {
	s.model.updateApp(clientID, func(a *app) { a.spRegistered = registered })
}

// AddMailbox adds a mailbox with SMTP AUTH enabled. Adding an existing one changes nothing.
func (s *Server) AddMailbox(address string) {
	m := s.model
	m.mu.Lock()
	defer m.mu.Unlock()
	if _, ok := m.mailboxes[key(address)]; !ok {
		m.mailboxes[key(address)] = true
	}
}

// SetMailboxPermission grants or removes the app's FullAccess on the mailbox, adding the
// mailbox if it is unknown. Without it XOAUTH2 fails with 535 5.7.3, or, while
// SetMailboxLogonFailure is on, the message fails after DATA with 430 4.2.0.
func (s *Server) SetMailboxPermission(clientID, mailbox string, fullAccess bool) {
	m := s.model
	m.mu.Lock()
	defer m.mu.Unlock()
	if _, ok := m.mailboxes[key(mailbox)]; !ok {
		m.mailboxes[key(mailbox)] = true
	}
	setGrant(m.fullAccess, clientID, mailbox, fullAccess)
}

// SetSendAs grants or removes the app's SendAs right on address. Sending from an address
// other than the authenticated mailbox without it fails after DATA with 554 5.2.252.
func (s *Server) SetSendAs(clientID, address string, allowed bool) {
	m := s.model
	m.mu.Lock()
	defer m.mu.Unlock()
	setGrant(m.sendAs, clientID, address, allowed)
}

// SetTenantSMTPAuth switches SMTP AUTH for the ready-made tenant (Tenant()).
// Off: XOAUTH2 fails with 535 5.7.139 "... disabled for the Tenant".
func (s *Server) SetTenantSMTPAuth(enabled bool) {
	m := s.model
	m.mu.Lock()
	defer m.mu.Unlock()
	t := m.tenants[m.defaultTenant]
	t.smtpAuth = enabled
	m.tenants[m.defaultTenant] = t
}

// SetMailboxSMTPAuth switches SMTP AUTH for one mailbox, adding it if it is unknown.
// Off: XOAUTH2 fails with 535 5.7.139 "... disabled for the Mailbox".
func (s *Server) SetMailboxSMTPAuth(mailbox string, enabled bool) {
	m := s.model
	m.mu.Lock()
	defer m.mu.Unlock()
	m.mailboxes[key(mailbox)] = enabled
}

func (m *model) updateApp(clientID string, change func(*app)) {
	m.mu.Lock()
	defer m.mu.Unlock()
	if a, ok := m.apps[key(clientID)]; ok {
		change(&a)
		m.apps[a.clientID] = a
	}
}

// setGrant records or removes a permission of the app on a mailbox or address.
// The caller holds the model's lock.
func setGrant(grants map[grantKey]bool, clientID, address string, on bool) {
	k := grantKey{key(clientID), key(address)}
	if on {
		grants[k] = true
	} else {
		delete(grants, k)
	}
}

func (m *model) app(clientID string) (app, bool) {
	m.mu.RLock()
	defer m.mu.RUnlock()
	a, ok := m.apps[key(clientID)]
	return a, ok
}

// resolveTenant finds a tenant by ID or domain name, as the token endpoint's path names it.
func (m *model) resolveTenant(ref string) (tenant, bool) {
	m.mu.RLock()
	defer m.mu.RUnlock()
	if t, ok := m.tenants[key(ref)]; ok {
		return t, true
	}
	for _, t := range m.tenants {
		if t.domain == key(ref) {
			return t, true
		}
	}
	return tenant{}, false
}

// authorize is Exchange's decision on a valid, unexpired Exchange token presented for
// mailbox: nil, or the 535 reply. With logonFailure on, a missing FullAccess passes AUTH
// (the message fails later with 430 4.2.0).
func (m *model) authorize(c accessClaims, mailbox string, logonFailure bool) *smtp.SMTPError {
	m.mu.RLock()
	defer m.mu.RUnlock()
	t, ok := m.tenants[key(c.Tid)]
	if !ok {
		return errTokenRejected
	}
	if !t.smtpAuth {
		return errTenantSMTPAuthDisabled
	}
	a, ok := m.apps[key(c.AppID)]
	if !ok || a.tenantID != t.id || !a.spRegistered || a.spObjectID != c.Oid {
		return errTokenRejected
	}
	enabled, ok := m.mailboxes[key(mailbox)]
	if !ok {
		return errTokenRejected
	}
	if !enabled {
		return errMailboxSMTPAuthDisabled
	}
	if !m.fullAccess[grantKey{a.clientID, key(mailbox)}] && !logonFailure {
		return errTokenRejected
	}
	return nil
}

// maySendAs reports whether the app authenticated for mailbox may use address as a sender.
func (m *model) maySendAs(clientID, mailbox, address string) bool {
	if key(address) == key(mailbox) {
		return true
	}
	m.mu.RLock()
	defer m.mu.RUnlock()
	return m.sendAs[grantKey{key(clientID), key(address)}]
}

// newGUID returns a random (version 4) GUID in lower case, as Entra writes them.
func newGUID() string {
	var b [16]byte
	rand.Read(b[:])
	b[6] = b[6]&0x0f | 0x40
	b[8] = b[8]&0x3f | 0x80
	return fmt.Sprintf("%x-%x-%x-%x-%x", b[0:4], b[4:6], b[6:8], b[8:10], b[10:])
}

func isGUID(s string) bool {
	if len(s) != 36 {
		return false
	}
	for i, r := range s {
		switch i {
		case 8, 13, 18, 23:
			if r != '-' {
				return false
			}
		default:
			if !strings.ContainsRune("0123456789abcdefABCDEF", r) {
				return false
			}
		}
	}
	return true
}

// isDNSName reports whether s looks like a domain name with at least two labels.
func isDNSName(s string) bool {
	labels := strings.Split(s, ".")
	if len(s) > 253 || len(labels) < 2 {
		return false
	}
	for _, l := range labels {
		if l == "" || len(l) > 63 || l[0] == '-' || l[len(l)-1] == '-' {
			return false
		}
		for _, r := range l {
			if !(r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' || r >= '0' && r <= '9' || r == '-') {
				return false
			}
		}
	}
	return true
}

// newClientSecret returns a value shaped like an Entra client secret: 40 characters,
// three random ones, a version marker such as "8Q~", then 34 more.
func newClientSecret() string {
	const head = "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789"
	const tail = head + "~._-"
	return randomString(3, head) + "8Q~" + randomString(34, tail)
}

func randomString(n int, alphabet string) string {
	b := make([]byte, n)
	rand.Read(b)
	for i := range b {
		b[i] = alphabet[int(b[i])%len(alphabet)]
	}
	return string(b)
}
