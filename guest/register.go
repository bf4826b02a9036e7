package guest

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/google/uuid"

	"github.com/lobbyhq/lobby/notify"
	"github.com/lobbyhq/lobby/storage"
)

// Field is an optional registration field as a form showed it: its value,
// and whether it was shown and had to be filled in.
type Field struct {
	Value           string
	Shown, Required bool
}

// Application is a self-registration as the guest typed it.
type Application struct {
	FirstName, LastName, Email            string
	Phone, Company, PersonVisited, Reason Field
}

// Registration is a checked self-registration (see CheckApplication and
// Sponsorship).
type Registration struct {
	First, Last, Email, Phone, Company, Visited, Reason string
	Approvers                                           []string // who gets the approval request, with approval
	SponsorID                                           uuid.UUID
}

// RequiresApproval reports whether a self-registered guest of gt waits
// for approval.
func (s *Service) RequiresApproval(gt *storage.GuestType) bool {
	return s.liveNow().portal.RequireApproval || gt.RequireApproval
}

// ApproverIsVisited reports whether the person visited approves: approval
// is needed and no approvers are configured. The person visited is then
// required, as a sponsor's email address.
func (s *Service) ApproverIsVisited(approval bool) bool {
	return approval && len(s.liveNow().portal.Approvers) == 0
}

// CheckApplication checks app and returns the registration it describes,
// with a problem per bad field (Field as the registration form names it:
// first_name, last_name, email, phone, company, person_visited, reason),
// in that order.
func (s *Service) CheckApplication(app Application, approval bool) (Registration, []*InvalidError) {
	var (
		reg  Registration
		errs []*InvalidError
	)
	check := func(field, msg string) {
		if msg != "" {
			errs = append(errs, &InvalidError{Field: field, Message: msg})
		}
	}
	ps := s.liveNow().portal
	reg.First, reg.Last = app.FirstName, app.LastName
	check("first_name", CheckName("First name", reg.First, true, "Enter your first name."))
	check("last_name", CheckName("Last name", reg.Last, true, "Enter your last name."))

	email, msg := NormalizeEmail(app.Email)
	check("email", msg)
	if msg == "" {
		d := EmailDomain(email)
		switch {
		case DomainIn(d, ps.BlockDomains):
			check("email", "Addresses at "+d+" cannot register here. Use another email address.")
		case len(ps.AllowDomains) > 0 && !DomainIn(d, ps.AllowDomains):
			check("email", "Use an email address at "+strings.Join(ps.AllowDomains, ", ")+".")
		}
	}
	reg.Email = email
	if f := app.Phone; f.Shown {
		reg.Phone = f.Value
		check("phone", CheckPhone(f.Value, f.Required))
	}
	if f := app.Company; f.Shown {
		reg.Company = f.Value
		check("company", CheckText("Company", f.Value, MaxOther, f.Required, "Enter your company."))
	}
	if f := app.PersonVisited; f.Shown || s.ApproverIsVisited(approval) {
		reg.Visited = f.Value
		if s.ApproverIsVisited(approval) {
			sponsorEmail, msg := NormalizeEmail(f.Value)
			if f.Value == "" {
				msg = "Enter the email address of the person you are visiting."
			} else if msg != "" {
				msg = "Enter the email address of the person you are visiting, like name@example.com."
			}
			check("person_visited", msg)
			reg.Visited = sponsorEmail
		} else {
			check("person_visited", CheckVisited(f.Value, f.Required))
		}
	}
	if f := app.Reason; f.Shown {
		reg.Reason = f.Value
		check("reason", CheckText("Reason", f.Value, MaxReason, f.Required, "Enter the reason for your visit."))
	}
	return reg, errs
}

// Sponsorship fills in who sponsors reg (the enabled staff user whose
// address is the person visited, if any) and who approves it: the
// configured approvers, or else the person visited, who must then be an
// enabled sponsor with an address; otherwise a problem with the
// person_visited field, in the same words for every address that is not
// such a sponsor's, so that the form does not tell who works here.
func (s *Service) Sponsorship(ctx context.Context, reg *Registration, approval bool) (*InvalidError, error) {
	sponsor, err := s.sponsorByEmail(ctx, reg.Visited)
	if err != nil {
		return nil, err
	}
	if sponsor != nil {
		reg.SponsorID = sponsor.ID
	}
	if !approval {
		return nil, nil
	}
	l, err := s.live(ctx)
	if err != nil {
		return nil, err
	}
	reg.Approvers = slices.Clone(l.portal.Approvers)
	if len(reg.Approvers) == 0 {
		if sponsor == nil || sponsor.Email == "" {
			return &InvalidError{Field: "person_visited", Message: "We could not find that host; check the address or ask at the front desk."}, nil
		}
		reg.Approvers = []string{strings.ToLower(sponsor.Email)}
	}
	return nil, nil
}

// sponsorByEmail returns the enabled sponsor or admin whose email is email,
// or nil.
func (s *Service) sponsorByEmail(ctx context.Context, email string) (*storage.Staff, error) {
	if !strings.Contains(email, "@") {
		return nil, nil
	}
	staff, err := s.store.ListStaff(ctx)
	if err != nil {
		return nil, fmt.Errorf("guest: list staff: %w", err)
	}
	for _, st := range staff {
		if !st.Disabled && strings.EqualFold(strings.TrimSpace(st.Email), email) {
			return st, nil
		}
	}
	return nil, nil
}

// ErrLimited ends a registration or a reminder that the caller's admit
// function refused (a rate limit): nothing changed and nothing was sent.
var ErrLimited = errors.New("guest: over the caller's limit")

// Outcome is what Register did.
type Outcome int

// Outcomes of Register.
const (
	// OutcomeRegistered: a new guest (or a renewal of the address's
	// registration that had run its course).
	OutcomeRegistered Outcome = iota + 1
	// OutcomeRepeated: the same registration (its ID) was made before;
	// Guest is the guest it made. Nothing changed.
	OutcomeRepeated
	// OutcomeKnown: the address has a registration that is not renewable
	// (see Renewable); Guest is it. Nothing changed.
	OutcomeKnown
)

// Registered is the outcome of Register.
type Registered struct {
	Outcome Outcome
	Guest   *storage.Guest
	// Mail are the outbox IDs of a new registration's emails, the guest's
	// first (credentials, or the pending note and then the approval
	// requests); without the guest's when HandOver.
	Mail []uuid.UUID
	// HandOver: guest email is off (PortalSettings.SendGuestEmail), so the
	// guest was emailed nothing; the page that answers the registration
	// shows the credentials (once the guest is active) instead.
	HandOver bool
}

// GuestMail is the outbox ID of the email the new guest was sent first,
// uuid.Nil when none (guest email off, or no new registration).
func (r *Registered) GuestMail() uuid.UUID {
	if r.HandOver || len(r.Mail) == 0 {
		return uuid.Nil
	}
	return r.Mail[0]
}

// SelfRegistration is one self-registration for Register.
type SelfRegistration struct {
	// ID is the new guest's ID, derived by the caller from the form so
	// that one form makes at most one guest however often it is sent.
	ID uuid.UUID
	// Key is the idempotency key of the first email.
	Key      string
	Reg      Registration
	Type     *storage.GuestType
	Approval bool
	// Language is the code of the language the guest registered in: the
	// emails to them are in it, now and later ("" is English).
	Language string
	// Admit is asked once before a new registration is stored (not for a
	// repeated or known one); false ends it with ErrLimited. Nil admits.
	Admit func() bool
}

// Register stores a self-registration, unless its address has one
// already: the same registration sent again (OutcomeRepeated), or one that
// has not run its course (OutcomeKnown). A registration that has run its
// course (see Renewable) is replaced in the same transaction. The guest
// and its first emails commit together; the emails are handed to the
// Mailer after.
func (s *Service) Register(ctx context.Context, in SelfRegistration) (*Registered, error) {
	reg := in.Reg
	var prev *storage.Guest
	if g, err := s.store.GetGuestByEmail(ctx, reg.Email); err == nil {
		if g.ID == in.ID { // the same form, sent again
			return &Registered{Outcome: OutcomeRepeated, Guest: g}, nil
		}
		if !s.Renewable(g, s.now()) {
			return &Registered{Outcome: OutcomeKnown, Guest: g}, nil
		}
		prev = g
	} else if !errors.Is(err, storage.ErrNotFound) {
		return nil, fmt.Errorf("guest: register: look up email: %w", err)
	}
	if in.Admit != nil && !in.Admit() {
		return nil, ErrLimited
	}
	var (
		g        *storage.Guest
		mailIDs  []uuid.UUID
		err      error
		handOver = !s.GuestEmail()
	)
	for attempt := 0; ; attempt++ {
		g, mailIDs, err = s.create(ctx, in, prev, handOver)
		if err == nil {
			break
		}
		// The same form may have been sent twice at once: the other request
		// won. Or the address was just registered or renewed by another
		// form, or a generated username clashed.
		if prev, gerr := s.store.GetGuest(ctx, in.ID); gerr == nil && prev.Email == reg.Email {
			return &Registered{Outcome: OutcomeRepeated, Guest: prev}, nil
		}
		if attempt < 3 && (errors.Is(err, storage.ErrConflict) || errors.Is(err, errNotRenewable)) {
			cur, gerr := s.store.GetGuestByEmail(ctx, reg.Email)
			switch {
			case errors.Is(gerr, storage.ErrNotFound):
				prev = nil
				continue
			case gerr == nil && s.Renewable(cur, s.now()):
				prev = cur
				continue
			case gerr == nil:
				return &Registered{Outcome: OutcomeKnown, Guest: cur}, nil
			}
		}
		return nil, fmt.Errorf("guest: register: create guest: %w", err)
	}
	s.log.InfoContext(ctx, "guest registered", "guest_id", g.ID, "status", g.Status, "mail_ids", mailIDs)
	s.track(mailIDs...)
	return &Registered{Outcome: OutcomeRegistered, Guest: g, Mail: mailIDs, HandOver: handOver}, nil
}

// create stores the guest and its first emails in one transaction: the
// credentials, or (with approval) a "pending" note to the guest and an
// approval request to each approver. It returns the guest and the outbox
// IDs, the guest's first. With handOver (guest email off) the guest gets no
// email; the approvers still do.
//
// With prev it renews: prev (the address's registration, which must still
// be renewable) is replaced in the same transaction by the new guest, who
// gets a new ID (and, under the "generated" policy, a new username), so
// that nothing of the old registration (sessions, approval links, emails'
// idempotency keys) applies to the new one; the audit entry keeps who was
// replaced. A prev that changed meanwhile is errNotRenewable.
func (s *Service) create(ctx context.Context, in SelfRegistration, prev *storage.Guest, handOver bool) (*storage.Guest, []uuid.UUID, error) {
	reg, gt := in.Reg, in.Type
	now := storage.Truncate(s.now())
	// A renewal under the "email" policy keeps the username (the address);
	// under "generated" it gets a new one, so that whoever renews an
	// address does not step into the old guest's name.
	var username string
	var err error
	if prev != nil && s.pol.UsernamePolicy != UsernameGenerated {
		username = prev.Username
	} else if username, err = s.NewUsername(reg.Email); err != nil {
		return nil, nil, err
	}
	password, err := s.NewPassword()
	if err != nil {
		return nil, nil, err
	}
	g := &storage.Guest{
		ID: in.ID, Username: username, Password: password,
		FirstName: reg.First, LastName: reg.Last, Email: reg.Email, Phone: reg.Phone, Company: reg.Company,
		PersonVisited: reg.Visited, Reason: reg.Reason, SponsorID: reg.SponsorID, GuestType: gt.Name,
		Status: storage.GuestActive, ValidFrom: now, ValidUntil: now.Add(InitialValidity(gt)),
		Language: in.Language,
	}
	if prev != nil {
		// A new password: no session from before counts. (The new ID
		// already keeps the old registration's sessions out; this keeps
		// the rule the same as for any other new password.)
		g.SessionsValidAfter = now
	}
	var msgs []notify.Message
	if in.Approval {
		g.Status = storage.GuestPending
		if !handOver {
			m, err := s.PendingMessage(g)
			if err != nil {
				return nil, nil, err
			}
			m.IdempotencyKey = in.Key
			msgs = append(msgs, m)
		}
		for _, a := range reg.Approvers {
			m, err := s.approvalRequest(g, a, now)
			if err != nil {
				return nil, nil, err
			}
			msgs = append(msgs, m)
		}
	} else if !handOver {
		m, err := s.CredentialsMessage(g)
		if err != nil {
			return nil, nil, err
		}
		m.IdempotencyKey = in.Key
		msgs = append(msgs, m)
	}

	var ids []uuid.UUID
	actor, action, detail := "guest:"+g.Username, "guest.register", "self-registered, status "+string(g.Status)
	if prev != nil {
		// The old row goes: the audit log keeps who it was. The actor is
		// the registration form, not the old guest, who may not be the
		// one who sent it.
		actor, action, detail = "registration", "guest.renew", "self-registered again, status "+string(g.Status)+"; replaces "+Describe(prev)
	}
	if handOver {
		detail += "; not emailed (guest email is off)"
	}
	err = s.store.WithTx(ctx, func(tx storage.Store) error {
		ids = ids[:0]
		if prev != nil {
			if prev.Email != g.Email || !s.Renewable(prev, now) {
				return errNotRenewable
			}
			// Only if it is still as read: another form or a sponsor may
			// have changed it meanwhile (ErrConflict), or renewed it away.
			_, err := tx.UpdateGuest(ctx, prev.ID, storage.GuestUpdate{IfStatus: &prev.Status, IfUpdatedAt: &prev.UpdatedAt})
			if errors.Is(err, storage.ErrConflict) || errors.Is(err, storage.ErrNotFound) {
				return errNotRenewable
			} else if err != nil {
				return err
			}
			if err := tx.DeleteGuest(ctx, prev.ID); err != nil {
				return err
			}
		}
		if err := tx.CreateGuest(ctx, g); err != nil {
			return err
		}
		for _, m := range msgs {
			mid, err := notify.Enqueue(ctx, tx, m)
			if err != nil {
				return err
			}
			ids = append(ids, mid)
		}
		return tx.Audit(ctx, storage.AuditEntry{Actor: actor, Action: action, Subject: g.ID.String(), Detail: detail})
	})
	if err != nil {
		return nil, nil, err
	}
	return g, ids, nil
}

// approvalRequest is the approval request for g to approver, with the
// links Config.ApprovalLinks makes, valid for Policy.ApprovalLinkTTL from now.
func (s *Service) approvalRequest(g *storage.Guest, approver string, now time.Time) (notify.Message, error) {
	if s.links == nil {
		return notify.Message{}, errors.New("guest: a registration needs approval, but Config.ApprovalLinks is not set")
	}
	exp := now.Add(s.pol.ApprovalLinkTTL)
	approve, deny := s.links(g.ID, approver, exp)
	return s.ApprovalMessage(g, approver, approve, deny, exp)
}

// errNotRenewable ends a renewal whose old registration changed since it
// was read.
var errNotRenewable = errors.New("guest: the registration is no longer renewable")

// Renewable reports whether g has run its course at now, so that its
// address may register again: expired, denied more than DeniedCooloff ago,
// active past its validity (before the jobs mark it expired), or pending
// past the approval window. Active, suspended, freshly pending and freshly
// denied guests are not: a denial would mean nothing if the guest could
// register again at once.
func (s *Service) Renewable(g *storage.Guest, now time.Time) bool {
	switch g.Status {
	case storage.GuestExpired:
		return true
	case storage.GuestDenied:
		cool := s.pol.DeniedCooloff
		return cool >= 0 && !now.Before(g.UpdatedAt.Add(cool))
	case storage.GuestActive:
		return !now.Before(g.ValidUntil)
	case storage.GuestPending:
		return !now.Before(g.CreatedAt.Add(s.pol.ApprovalLinkTTL))
	}
	return false
}

// RepeatMail is the email a registration sent again finds for g, the
// guest it made: enqueued with the first email's idempotency key key, it
// is that email (and queues nothing); only if the outbox no longer has it
// does this queue the email g's state calls for now, if any (credentials
// when active, the pending note when pending). It returns the email's ID,
// or uuid.Nil.
func (s *Service) RepeatMail(ctx context.Context, g *storage.Guest, key string) (uuid.UUID, error) {
	var (
		m   notify.Message
		mid uuid.UUID
		err error
	)
	if !s.GuestEmail() {
		return uuid.Nil, nil
	}
	switch g.Status {
	case storage.GuestActive:
		m, err = s.CredentialsMessage(g)
	case storage.GuestPending:
		m, err = s.PendingMessage(g)
	}
	if err == nil && m.Kind != "" {
		m.IdempotencyKey = key
		err = s.store.WithTx(ctx, func(tx storage.Store) error {
			mid, err = notify.Enqueue(ctx, tx, m)
			return err
		})
	}
	return mid, err
}

// Remind is a registration for owner's address that is not renewable
// (OutcomeKnown): nothing stored changes, and the owner gets their
// credentials again (active) or the pending note again (pending), once per
// form (key: the form's), if admit allows (asked only when an email would
// go; false: ErrLimited). A suspended or denied guest is sent nothing, nor
// is anyone while guest email is off. It returns the email's ID (uuid.Nil when none) and when this form first
// reminded them (now, unless it was sent again).
func (s *Service) Remind(ctx context.Context, owner *storage.Guest, key string, admit func() bool) (uuid.UUID, time.Time, error) {
	now := s.now()
	var (
		m   notify.Message
		err error
	)
	switch {
	case !s.GuestEmail():
		return uuid.Nil, now, nil
	case owner.Status == storage.GuestActive && now.Before(owner.ValidUntil):
		m, err = s.CredentialsMessage(owner)
	case owner.Status == storage.GuestPending:
		m, err = s.PendingMessage(owner)
	default:
		return uuid.Nil, now, nil // suspended or denied: nothing to send
	}
	if err != nil {
		return uuid.Nil, now, err
	}
	m.IdempotencyKey = key
	var (
		mid uuid.UUID
		dup bool
		at  = now
	)
	err = s.store.WithTx(ctx, func(tx storage.Store) error {
		spy := &enqueueSpy{Store: tx}
		var err error
		if mid, err = notify.Enqueue(ctx, spy, m); err != nil {
			return err
		}
		if dup = spy.duplicate; dup { // this form reminded the owner already
			if first, err := tx.GetMail(ctx, mid); err == nil {
				at = first.CreatedAt
			}
			return nil
		}
		if admit != nil && !admit() {
			return ErrLimited
		}
		return tx.Audit(ctx, storage.AuditEntry{Actor: "guest:" + owner.Username, Action: "guest.register_known", Subject: owner.ID.String(),
			Detail: "registration form for a registered address (" + string(owner.Status) + "); emailed them again"})
	})
	if err != nil {
		return uuid.Nil, now, err
	}
	if !dup {
		s.track(mid)
	}
	return mid, at, nil
}

// enqueueSpy notes whether an enqueue found its idempotency key taken.
type enqueueSpy struct {
	storage.Store
	duplicate bool
}

func (s *enqueueSpy) EnqueueMail(ctx context.Context, m *storage.OutboxMessage) error {
	err := s.Store.EnqueueMail(ctx, m)
	if errors.Is(err, storage.ErrDuplicate) {
		s.duplicate = true
	}
	return err
}
