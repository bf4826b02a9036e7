package portal

import (
	"time"

	"github.com/lobbyhq/lobby/guest"
	"github.com/lobbyhq/lobby/notify"
	"github.com/lobbyhq/lobby/storage"
)

// Kinds of the messages the portal sends (the guest rules').
const (
	KindCredentials = guest.KindCredentials
	KindPending     = guest.KindPending
	KindDenied      = guest.KindDenied
	KindApproval    = guest.KindApproval
	KindExpiry      = guest.KindExpiry
)

// approvalMessage asks approver to approve or deny g, with signed links
// valid for ApprovalLinkTTL from now.
func (p *Portal) approvalMessage(g *storage.Guest, approver string, now time.Time) (notify.Message, error) {
	exp := now.Add(p.cfg.Policy.ApprovalLinkTTL)
	payload := g.ID.String() + "|" + approver
	return p.guests.ApprovalMessage(g, approver, p.link("approve/"+p.approve.Sign(payload, exp)), p.link("deny/"+p.deny.Sign(payload, exp)), exp)
}
