package guest

import (
	"cmp"
	"fmt"
	"time"

	"github.com/lobbyhq/lobby/notify"
	"github.com/lobbyhq/lobby/storage"
)

// Kinds of the messages about guests.
const (
	KindCredentials = "guest.credentials" // username and password (self-registered, created, approved, resent)
	KindPending     = "guest.pending"     // the registration waits for approval
	KindDenied      = "guest.denied"
	KindApproval    = "guest.approval" // to an approver: approve or deny
	KindExpiry      = "guest.expiry"   // access ends soon
	KindReset       = "guest.reset"    // a new password
	KindExtended    = "guest.extended" // access extended
)

// compose renders template name with data into a message of kind to to,
// in language lang (a guest's Language; "" is English).
func (s *Service) compose(kind, name, to, lang string, data map[string]any) (notify.Message, error) {
	l := s.liveNow()
	data["SiteName"] = l.portal.SiteName
	subject, text, html, err := l.render.RenderIn(lang, name, data)
	if err != nil {
		return notify.Message{}, fmt.Errorf("guest: %s email: %w", kind, err)
	}
	return notify.Message{Kind: kind, To: []string{to}, Subject: subject, Text: text, HTML: html,
		FromName: cmp.Or(l.portal.MailFromName, l.portal.SiteName)}, nil
}

// GuestEmail reports whether guests are emailed (PortalSettings.SendGuestEmail):
// when not, no email to a guest is queued, and the credentials a guest
// would have been emailed are for the caller to show (Result.HandOver,
// Registered.HandOver).
func (s *Service) GuestEmail() bool { return s.liveNow().portal.SendGuestEmail }

// replyTo is the Reply-To of a message a's action sends: a's address,
// unless the portal settings turned the sponsor's Reply-To off.
func (s *Service) replyTo(a Actor) string {
	if !s.liveNow().portal.SponsorReplyTo {
		return ""
	}
	return a.replyTo()
}

// loginURL is the guest portal's sign-in page.
func (s *Service) loginURL() string { return s.base + "/login" }

// Link returns the external URL of a guest portal path, for emails.
func (s *Service) Link(rel string) string { return s.base + "/" + rel }

// CredentialsMessage is the email with g's username and password.
func (s *Service) CredentialsMessage(g *storage.Guest) (notify.Message, error) {
	return s.compose(KindCredentials, notify.TemplateGuestCredentials, g.Email, g.Language, map[string]any{
		"GuestName":  Name(g),
		"Username":   g.Username,
		"Password":   g.Password,
		"ValidUntil": g.ValidUntil.In(s.pol.TimeZone),
		"PortalURL":  s.loginURL(),
	})
}

// PendingMessage tells g that their registration waits for approval.
func (s *Service) PendingMessage(g *storage.Guest) (notify.Message, error) {
	return s.compose(KindPending, notify.TemplateGuestPending, g.Email, g.Language, map[string]any{"GuestName": Name(g)})
}

// DeniedMessage tells g that their registration was denied.
func (s *Service) DeniedMessage(g *storage.Guest) (notify.Message, error) {
	return s.compose(KindDenied, notify.TemplateGuestDenied, g.Email, g.Language, map[string]any{"GuestName": Name(g)})
}

// resetMessage gives g the new password a sponsor set.
func (s *Service) resetMessage(g *storage.Guest) (notify.Message, error) {
	return s.compose(KindReset, notify.TemplateGuestReset, g.Email, g.Language, map[string]any{
		"GuestName":  Name(g),
		"Username":   g.Username,
		"Password":   g.Password,
		"ValidUntil": g.ValidUntil.In(s.pol.TimeZone),
		"PortalURL":  s.loginURL(),
	})
}

// extendedMessage tells g their access now ends later.
func (s *Service) extendedMessage(g *storage.Guest) (notify.Message, error) {
	return s.compose(KindExtended, notify.TemplateGuestExtended, g.Email, g.Language, map[string]any{
		"GuestName":  Name(g),
		"ValidUntil": g.ValidUntil.In(s.pol.TimeZone),
	})
}

// ExpiryMessage tells g when their access ends.
func (s *Service) ExpiryMessage(g *storage.Guest) (notify.Message, error) {
	m, err := s.compose(KindExpiry, notify.TemplateGuestExpiry, g.Email, g.Language, map[string]any{
		"GuestName":  Name(g),
		"ValidUntil": g.ValidUntil.In(s.pol.TimeZone),
	})
	m.IdempotencyKey = fmt.Sprintf("portal:expiry:%s:%d", g.ID, g.ValidUntil.Unix())
	return m, err
}

// ApprovalMessage asks approver to approve or deny g with the links given
// (valid until exp).
func (s *Service) ApprovalMessage(g *storage.Guest, approver, approveURL, denyURL string, exp time.Time) (notify.Message, error) {
	m, err := s.compose(KindApproval, notify.TemplateApprovalRequest, approver, "", map[string]any{
		"GuestName":  Name(g),
		"GuestEmail": g.Email,
		"Company":    g.Company,
		"Reason":     g.Reason,
		"ApproveURL": approveURL,
		"DenyURL":    denyURL,
		"ExpiresAt":  exp.In(s.pol.TimeZone),
	})
	m.IdempotencyKey = "portal:approval:" + g.ID.String() + ":" + approver
	return m, err
}
