package portal

import (
	"time"

	"github.com/google/uuid"

	"github.com/lobbyhq/lobby/guest"
)

// Kinds of the messages the portal sends (the guest rules').
const (
	KindCredentials = guest.KindCredentials
	KindPending     = guest.KindPending
	KindDenied      = guest.KindDenied
	KindApproval    = guest.KindApproval
	KindExpiry      = guest.KindExpiry
)

// approvalLinks are the signed approve and deny links of an approval
// request for guest id sent to approver, valid until exp.
func (p *Portal) approvalLinks(id uuid.UUID, approver string, exp time.Time) (string, string) {
	payload := id.String() + "|" + approver
	return p.link("approve/" + p.approve.Sign(payload, exp)), p.link("deny/" + p.deny.Sign(payload, exp))
}
