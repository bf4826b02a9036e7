package portal

import (
	"fmt"
	"time"

	"github.com/lobbyhq/lobby/notify"
	"github.com/lobbyhq/lobby/storage"
)

// Kinds of the messages the portal sends.
const (
	KindCredentials = "guest.credentials"
	KindPending     = "guest.pending"
	KindDenied      = "guest.denied"
	KindApproval    = "guest.approval"
	KindExpiry      = "guest.expiry"
)

// compose renders template name with data into a message of kind to to.
func (p *Portal) compose(kind, name, to string, data map[string]any) (notify.Message, error) {
	data["SiteName"] = p.cfg.Policy.SiteName
	subject, text, html, err := p.render.Render(name, data)
	if err != nil {
		return notify.Message{}, fmt.Errorf("portal: %s email: %w", kind, err)
	}
	return notify.Message{Kind: kind, To: []string{to}, Subject: subject, Text: text, HTML: html}, nil
}

// credentialsMessage is the email with g's username and password.
func (p *Portal) credentialsMessage(g *storage.Guest) (notify.Message, error) {
	return p.compose(KindCredentials, notify.TemplateGuestCredentials, g.Email, map[string]any{
		"GuestName":  guestName(g),
		"Username":   g.Username,
		"Password":   g.Password,
		"ValidUntil": g.ValidUntil.In(p.cfg.Policy.TimeZone),
		"PortalURL":  p.link("login"),
	})
}

// pendingMessage tells g that their registration waits for approval.
func (p *Portal) pendingMessage(g *storage.Guest) (notify.Message, error) {
	return p.compose(KindPending, notify.TemplateGuestPending, g.Email, map[string]any{"GuestName": guestName(g)})
}

// deniedMessage tells g that their registration was denied.
func (p *Portal) deniedMessage(g *storage.Guest) (notify.Message, error) {
	return p.compose(KindDenied, notify.TemplateGuestDenied, g.Email, map[string]any{"GuestName": guestName(g)})
}

// approvalMessage asks approver to approve or deny g, with signed links
// valid for ApprovalLinkTTL from now.
func (p *Portal) approvalMessage(g *storage.Guest, approver string, now time.Time) (notify.Message, error) {
	exp := now.Add(p.cfg.Policy.ApprovalLinkTTL)
	payload := g.ID.String() + "|" + approver
	m, err := p.compose(KindApproval, notify.TemplateApprovalRequest, approver, map[string]any{
		"GuestName":  guestName(g),
		"GuestEmail": g.Email,
		"Company":    g.Company,
		"Reason":     g.Reason,
		"ApproveURL": p.link("approve/" + p.approve.Sign(payload, exp)),
		"DenyURL":    p.link("deny/" + p.deny.Sign(payload, exp)),
		"ExpiresAt":  exp.In(p.cfg.Policy.TimeZone),
	})
	m.IdempotencyKey = "portal:approval:" + g.ID.String() + ":" + approver
	return m, err
}

// expiryMessage tells g when their access ends.
func (p *Portal) expiryMessage(g *storage.Guest) (notify.Message, error) {
	m, err := p.compose(KindExpiry, notify.TemplateGuestExpiry, g.Email, map[string]any{
		"GuestName":  guestName(g),
		"ValidUntil": g.ValidUntil.In(p.cfg.Policy.TimeZone),
	})
	m.IdempotencyKey = fmt.Sprintf("portal:expiry:%s:%d", g.ID, g.ValidUntil.Unix())
	return m, err
}
