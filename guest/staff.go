package guest

import (
	"context"
	"errors"
	"fmt"
	"regexp"
	"strings"
	"time"

	"github.com/google/uuid"

	"github.com/lobbyhq/lobby/internal/i18n"
	"github.com/lobbyhq/lobby/notify"
	"github.com/lobbyhq/lobby/storage"
)

// edit is what an action does to the guest it read: the update (applied
// only if the guest is still as read), or a deletion, the email to send
// after (composed from the guest as updated; nil: none), and the audit entry.
type edit struct {
	update   storage.GuestUpdate
	noUpdate bool // an action that changes nothing (resend)
	delete   bool
	mail     func(g *storage.Guest) (notify.Message, error)
	mailKey  string // the email's idempotency key, if any
	// credentials: the email carries the guest's credentials, which are
	// handed over instead while guest email is off (Result.HandOver).
	credentials bool
	// mailDetail is the audit detail's part about the email ("to
	// ada@example.org"), left out when none is sent.
	mailDetail string
	action     string // audit action, e.g. "guest.extend"
	detail     string
}

// apply runs one action on guest id in one transaction: it reads the
// guest, checks that a may (permission p), lets fn decide the edit, applies
// it if the guest did not change meanwhile, queues the email and writes the
// audit entry; after the commit it hands the email to the Mailer.
func (s *Service) apply(ctx context.Context, op string, a Actor, p storage.Permission, id uuid.UUID,
	fn func(tx storage.Store, g *storage.Guest, now time.Time) (edit, error)) (*Result, error) {
	now := storage.Truncate(s.now())
	var res Result
	emailOn := s.GuestEmail()
	err := s.store.WithTx(ctx, func(tx storage.Store) error {
		res = Result{}
		g, err := tx.GetGuest(ctx, id)
		if err != nil {
			return err
		}
		if err := s.Allowed(a, p, g); err != nil {
			return err
		}
		e, err := fn(tx, g, now)
		if err != nil {
			return err
		}
		after := g
		if !e.noUpdate {
			u := e.update
			u.IfStatus, u.IfUpdatedAt = &g.Status, &g.UpdatedAt
			if after, err = tx.UpdateGuest(ctx, id, u); err != nil {
				return err
			}
			if u.Password != nil {
				after.Password = *u.Password
			}
		}
		if e.delete {
			if err := tx.DeleteGuest(ctx, id); err != nil {
				return err
			}
		}
		detail := e.detail
		switch {
		case e.mail != nil && !emailOn:
			// Guest email is off: nothing is queued; credentials go to the
			// person acting instead.
			res.HandOver = e.credentials
			detail = strings.TrimPrefix(detail+"; not emailed (guest email is off)", "; ")
			if e.credentials {
				detail += ", credentials shown to " + a.String()
			}
		case e.mail != nil && after.Email != "":
			detail = strings.TrimPrefix(detail+"; "+e.mailDetail, "; ")
			detail = strings.TrimSuffix(detail, "; ")
			m, err := e.mail(after)
			if err != nil {
				return err
			}
			m.ReplyTo = s.replyTo(a)
			m.IdempotencyKey = e.mailKey
			if res.Mail, err = notify.Enqueue(ctx, tx, m); err != nil {
				return err
			}
		}
		res.Guest = after
		return tx.Audit(ctx, storage.AuditEntry{Actor: a.String(), Action: e.action, Subject: id.String(), Detail: a.withVia(detail)})
	})
	if err != nil {
		return nil, s.opErr(op, id, err)
	}
	res.Future = s.track(res.Mail)
	s.log.InfoContext(ctx, "guest: "+op, "guest_id", id, "actor", a.String(), "status", res.Guest.Status, "mail_id", res.Mail)
	return &res, nil
}

// opErr wraps an action's error with what it means for the person acting.
func (s *Service) opErr(op string, id uuid.UUID, err error) error {
	switch {
	case errors.Is(err, storage.ErrConflict):
		return fmt.Errorf("guest: %s: the guest changed while you were acting (someone else did something to them); reload the guest and try again: %w", op, err)
	case errors.Is(err, storage.ErrNotFound):
		return fmt.Errorf("guest: %s: there is no guest %s; they may have been deleted: %w", op, id, err)
	}
	return fmt.Errorf("guest: %s: %w", op, err)
}

// Resend emails an active guest the credentials they already have. Asked
// twice within a minute, it sends one email.
func (s *Service) Resend(ctx context.Context, a Actor, id uuid.UUID) (*Result, error) {
	return s.apply(ctx, "resend", a, storage.PermResend, id, func(_ storage.Store, g *storage.Guest, now time.Time) (edit, error) {
		if err := s.sendable(g, now, "send their credentials again"); err != nil {
			return edit{}, err
		}
		return edit{noUpdate: true, mail: s.CredentialsMessage, credentials: true, action: "guest.resend", mailDetail: "to " + g.Email,
			mailKey: fmt.Sprintf("guest:resend:%s:%d", g.ID, now.Unix()/60)}, nil
	})
}

// sendable checks that g has credentials worth sending: active, not past
// their validity, with an address.
func (s *Service) sendable(g *storage.Guest, now time.Time, what string) error {
	switch {
	case g.Status != storage.GuestActive:
		return stateErr(g, fmt.Sprintf("%s is %s, so their credentials do not work; %s", guestRef(g), g.Status, nextStep(g)))
	case !now.Before(g.ValidUntil):
		return stateErr(g, fmt.Sprintf("%s's access ended on %s; extend it first", guestRef(g), s.FormatTime(g.ValidUntil)))
	case g.Email == "" && s.GuestEmail():
		return stateErr(g, fmt.Sprintf("%s has no email address, so we cannot %s; give them their credentials in person", guestRef(g), what))
	}
	return nil
}

// nextStep says what can be done with a guest in g's status.
func nextStep(g *storage.Guest) string {
	switch g.Status {
	case storage.GuestPending:
		return "approve or deny their registration first"
	case storage.GuestSuspended:
		return "reinstate them first"
	case storage.GuestExpired:
		return "extend their access first"
	case storage.GuestDenied:
		return "their registration was denied; they can register again, or you can create them anew"
	}
	return "reload the guest"
}

// ResetPassword gives guest id a new password and emails it (to an active
// guest with an address): the old password stops working at once, and every
// session signed in with it ends. The Result's guest carries the new
// password, for a page that shows it to the sponsor.
func (s *Service) ResetPassword(ctx context.Context, a Actor, id uuid.UUID) (*Result, error) {
	return s.apply(ctx, "reset password", a, storage.PermResetPassword, id, func(_ storage.Store, g *storage.Guest, now time.Time) (edit, error) {
		if g.Status != storage.GuestActive && g.Status != storage.GuestSuspended {
			return edit{}, stateErr(g, fmt.Sprintf("%s is %s and has no password in use; %s", guestRef(g), g.Status, nextStep(g)))
		}
		pw, err := s.NewPassword()
		if err != nil {
			return edit{}, err
		}
		e := edit{update: storage.GuestUpdate{Password: &pw, SessionsValidAfter: &now}, action: "guest.reset_password"}
		if g.Status == storage.GuestActive && now.Before(g.ValidUntil) {
			e.mail, e.credentials = s.resetMessage, true
			if g.Email != "" {
				e.mailDetail = "emailed to " + g.Email
			}
		}
		return e, nil
	})
}

// Extend moves guest id's end of access to until: later than it is now,
// in the future, and within their guest type's maximum from the start of
// their access. An expired guest is active again (a suspended one stays
// suspended). With Policy.NotifyExtension an active guest is emailed.
func (s *Service) Extend(ctx context.Context, a Actor, id uuid.UUID, until time.Time) (*Result, error) {
	until = storage.Truncate(until)
	return s.apply(ctx, "extend", a, storage.PermExtend, id, func(tx storage.Store, g *storage.Guest, now time.Time) (edit, error) {
		switch g.Status {
		case storage.GuestActive, storage.GuestExpired, storage.GuestSuspended:
		default:
			return edit{}, stateErr(g, fmt.Sprintf("%s is %s, so there is no access to extend; %s", guestRef(g), g.Status, nextStep(g)))
		}
		gt, err := tx.GetGuestType(ctx, g.GuestType)
		if err != nil {
			return edit{}, fmt.Errorf("guest type %q: %w", g.GuestType, err)
		}
		switch {
		case !until.After(now):
			return edit{}, invalid("valid_until", "Choose an end of access in the future.")
		case !until.After(g.ValidUntil):
			return edit{}, invalid("valid_until", "Choose an end of access after the current one, "+s.FormatTime(g.ValidUntil)+".")
		}
		if limit := maxUntil(gt, g.ValidFrom); !limit.IsZero() && until.After(limit) {
			return edit{}, invalid("valid_until", fmt.Sprintf("Guests of type %s may stay at most %s from the start of their access; choose an end no later than %s.",
				gt.Name, HumanDuration(gt.MaxDuration), s.FormatTime(limit)))
		}
		var zero time.Time
		e := edit{update: storage.GuestUpdate{ValidUntil: &until, ExpiryNotifiedAt: &zero}, action: "guest.extend",
			detail: fmt.Sprintf("valid until %s (was %s, %s)", until.UTC().Format(time.RFC3339), g.ValidUntil.UTC().Format(time.RFC3339), g.Status)}
		if g.Status == storage.GuestExpired {
			active := storage.GuestActive
			e.update.Status = &active
		}
		if s.pol.NotifyExtension && g.Status != storage.GuestSuspended {
			e.mail = s.extendedMessage
		}
		return e, nil
	})
}

// Suspend withdraws guest id's access (active or pending guests): their
// credentials stop working and their sessions end, until Reinstate.
func (s *Service) Suspend(ctx context.Context, a Actor, id uuid.UUID, reason string) (*storage.Guest, error) {
	reason = strings.TrimSpace(reason)
	if msg := CheckLine("Reason", reason, MaxReason, false, ""); msg != "" {
		return nil, fmt.Errorf("guest: suspend: %w", invalid("reason", msg))
	}
	res, err := s.apply(ctx, "suspend", a, storage.PermSuspend, id, func(_ storage.Store, g *storage.Guest, now time.Time) (edit, error) {
		if g.Status != storage.GuestActive && g.Status != storage.GuestPending {
			return edit{}, stateErr(g, fmt.Sprintf("%s is %s; only active and pending guests can be suspended", guestRef(g), g.Status))
		}
		suspended := storage.GuestSuspended
		detail := "was " + string(g.Status)
		if reason != "" {
			detail += "; reason: " + reason
		}
		return edit{update: storage.GuestUpdate{Status: &suspended, SessionsValidAfter: &now}, action: "guest.suspend", detail: detail}, nil
	})
	if err != nil {
		return nil, err
	}
	return res.Guest, nil
}

// Reinstate gives a suspended guest their access back (active), if their
// validity has not ended meanwhile (then extend it first). Sessions from
// before the suspension stay ended.
func (s *Service) Reinstate(ctx context.Context, a Actor, id uuid.UUID) (*storage.Guest, error) {
	res, err := s.apply(ctx, "reinstate", a, storage.PermSuspend, id, func(_ storage.Store, g *storage.Guest, now time.Time) (edit, error) {
		switch {
		case g.Status != storage.GuestSuspended:
			return edit{}, stateErr(g, fmt.Sprintf("%s is %s, not suspended; there is nothing to reinstate", guestRef(g), g.Status))
		case !now.Before(g.ValidUntil):
			return edit{}, stateErr(g, fmt.Sprintf("%s's access ended on %s while suspended; extend it first, then reinstate them", guestRef(g), s.FormatTime(g.ValidUntil)))
		}
		active := storage.GuestActive
		return edit{update: storage.GuestUpdate{Status: &active}, action: "guest.reinstate"}, nil
	})
	if err != nil {
		return nil, err
	}
	return res.Guest, nil
}

// Delete deletes guest id, whatever their status; the audit log keeps who
// they were.
func (s *Service) Delete(ctx context.Context, a Actor, id uuid.UUID) error {
	_, err := s.apply(ctx, "delete", a, storage.PermDelete, id, func(_ storage.Store, g *storage.Guest, _ time.Time) (edit, error) {
		return edit{delete: true, action: "guest.delete", detail: Describe(g)}, nil
	})
	return err
}

// Describe says who g is, for the audit log: their ID, username, names,
// company, status and validity (no secrets).
func Describe(g *storage.Guest) string {
	return fmt.Sprintf("%s (username %q, name %q %q, company %q, status %s, valid %s to %s)",
		g.ID, g.Username, g.FirstName, g.LastName, g.Company, g.Status,
		g.ValidFrom.UTC().Format(time.RFC3339), g.ValidUntil.UTC().Format(time.RFC3339))
}

// Approve approves pending guest id: active from now for their type's
// validity, and emailed their credentials.
func (s *Service) Approve(ctx context.Context, a Actor, id uuid.UUID) (*Result, error) {
	return s.decide(ctx, a, id, true, "")
}

// Deny denies pending guest id and tells them. The reason goes to the audit
// log only.
func (s *Service) Deny(ctx context.Context, a Actor, id uuid.UUID, reason string) (*Result, error) {
	reason = strings.TrimSpace(reason)
	if msg := CheckLine("Reason", reason, MaxReason, false, ""); msg != "" {
		return nil, fmt.Errorf("guest: deny: %w", invalid("reason", msg))
	}
	return s.decide(ctx, a, id, false, reason)
}

// decide approves or denies; the emails' idempotency keys are the ones an
// approval link's decision uses, so that a guest decided twice over (link
// and page at once) gets one email.
func (s *Service) decide(ctx context.Context, a Actor, id uuid.UUID, approve bool, reason string) (*Result, error) {
	op := "deny"
	if approve {
		op = "approve"
	}
	return s.apply(ctx, op, a, storage.PermApprove, id, func(tx storage.Store, g *storage.Guest, now time.Time) (edit, error) {
		if g.Status != storage.GuestPending {
			return edit{}, stateErr(g, Decided(g))
		}
		if !approve {
			denied := storage.GuestDenied
			detail := ""
			if reason != "" {
				detail = "reason: " + reason
			}
			return edit{update: storage.GuestUpdate{Status: &denied}, action: "guest.deny", detail: detail,
				mail: s.DeniedMessage, mailKey: "portal:denied:" + g.ID.String()}, nil
		}
		gt, err := tx.GetGuestType(ctx, g.GuestType)
		if err != nil {
			return edit{}, fmt.Errorf("guest type %q: %w", g.GuestType, err)
		}
		until := now.Add(InitialValidity(gt))
		active := storage.GuestActive
		return edit{update: storage.GuestUpdate{Status: &active, ValidFrom: &now, ValidUntil: &until}, action: "guest.approve",
			mail: s.CredentialsMessage, credentials: true, mailKey: "portal:credentials:" + g.ID.String()}, nil
	})
}

// Decided says that g, no longer pending, was decided already, and what
// can be done now.
func Decided(g *storage.Guest) string {
	name := guestRef(g)
	switch g.Status {
	case storage.GuestDenied:
		return name + "'s registration was denied already."
	case storage.GuestActive:
		return name + "'s registration was approved already; the guest has their credentials."
	case storage.GuestSuspended:
		return name + "'s registration was decided already, and their access is suspended now. A sponsor can reinstate it in the sponsor portal."
	case storage.GuestExpired:
		return name + "'s registration was decided already, and their access has expired. A sponsor can extend it in the sponsor portal; the guest can also register again."
	}
	return name + "'s registration was decided already; their status is " + string(g.Status) + "."
}

// NewGuest is a guest a sponsor registers (a known guest).
type NewGuest struct {
	FirstName, LastName, Email, Phone, Company, PersonVisited, Reason string
	GuestType                                                         string        // empty: the default type
	ValidFrom                                                         time.Time     // zero: now
	Validity                                                          time.Duration // zero: the type's default
	// NoEmail creates the guest without emailing their credentials: the
	// caller hands them over (the sponsor's printable card).
	NoEmail bool
	// Language is the code of the language of the guest's emails (en, de,
	// fr, es); "" is English.
	Language string
}

// startSlack is how far in the past a ValidFrom may lie (a form filled in
// slowly): it is then taken as now.
const startSlack = 10 * time.Minute

// Create registers a known guest, sponsored by the actor: active from
// ValidFrom for Validity (at most the type's maximum), emailed their
// credentials unless NoEmail (then Result.Mail is uuid.Nil). While guest
// email is off nothing is emailed either, and Result.HandOver says so.
func (s *Service) Create(ctx context.Context, a Actor, n NewGuest) (*Result, error) {
	now := storage.Truncate(s.now())
	handOver := !n.NoEmail && !s.GuestEmail()
	if err := s.Allowed(a, storage.PermCreate, nil); err != nil {
		return nil, fmt.Errorf("guest: create: %w", err)
	}
	n.GuestType = strings.TrimSpace(n.GuestType)
	if n.GuestType == "" {
		n.GuestType = s.pol.DefaultGuestType
	}
	gt, from, until, err := s.checkValidity(ctx, a, n.GuestType, n.ValidFrom, n.Validity, now)
	var errs []error
	if err != nil {
		if !errors.Is(err, ErrInvalid) {
			return nil, fmt.Errorf("guest: create: %w", err)
		}
		errs = append(errs, err)
	}
	fail := func(field, msg string) {
		if msg != "" {
			errs = append(errs, invalid(field, msg))
		}
	}
	for _, p := range []*string{&n.FirstName, &n.LastName, &n.Email, &n.Phone, &n.Company, &n.PersonVisited, &n.Reason} {
		*p = strings.TrimSpace(*p)
	}
	fail("first_name", CheckName("First name", n.FirstName, true, "Enter the guest's first name."))
	fail("last_name", CheckName("Last name", n.LastName, true, "Enter the guest's last name."))
	email, msg := NormalizeEmail(n.Email)
	if n.Email == "" {
		msg = "Enter the guest's email address: their credentials go there."
	}
	if n.Language != "" && !i18n.Supported(n.Language) {
		fail("language", "Choose one of the languages offered: "+strings.Join(i18n.Languages(), ", ")+".")
	}
	fail("email", msg)
	fail("phone", CheckPhone(n.Phone, false))
	fail("company", CheckText("Company", n.Company, MaxOther, false, ""))
	if _, msg := NormalizeEmail(n.PersonVisited); n.PersonVisited == "" || msg != "" {
		fail("person_visited", CheckVisited(n.PersonVisited, false))
	}
	fail("reason", CheckText("Reason", n.Reason, MaxReason, false, ""))
	if len(errs) > 0 {
		return nil, fmt.Errorf("guest: create: %w", errors.Join(errs...))
	}
	g := &storage.Guest{
		FirstName: n.FirstName, LastName: n.LastName, Email: email, Phone: n.Phone, Company: n.Company,
		PersonVisited: n.PersonVisited, Reason: n.Reason, GuestType: gt.Name,
		Status: storage.GuestActive, ValidFrom: from, ValidUntil: until, Language: n.Language,
	}
	if a.Staff != nil {
		g.SponsorID = a.Staff.ID
	}
	var mid uuid.UUID
	for attempt := 0; ; attempt++ {
		if g.Username, err = s.NewUsername(email); err != nil {
			return nil, fmt.Errorf("guest: create: %w", err)
		}
		if g.Password, err = s.NewPassword(); err != nil {
			return nil, fmt.Errorf("guest: create: %w", err)
		}
		g.ID = uuid.New()
		err = s.store.WithTx(ctx, func(tx storage.Store) error {
			if err := tx.CreateGuest(ctx, g); err != nil {
				return err
			}
			detail := fmt.Sprintf("type %s, valid %s to %s", gt.Name, from.UTC().Format(time.RFC3339), until.UTC().Format(time.RFC3339))
			switch {
			case n.NoEmail:
				detail += ", credentials handed over by the sponsor (no email)"
			case handOver:
				detail += ", credentials handed over by the sponsor (guest email is off)"
			default:
				m, err := s.CredentialsMessage(g)
				if err != nil {
					return err
				}
				m.ReplyTo = s.replyTo(a)
				if mid, err = notify.Enqueue(ctx, tx, m); err != nil {
					return err
				}
			}
			return tx.Audit(ctx, storage.AuditEntry{Actor: a.String(), Action: "guest.create", Subject: g.ID.String(), Detail: a.withVia(detail)})
		})
		if !errors.Is(err, storage.ErrConflict) {
			break
		}
		if _, gerr := s.store.GetGuestByEmail(ctx, email); gerr == nil || s.pol.UsernamePolicy != UsernameGenerated || attempt >= 3 {
			return nil, fmt.Errorf("guest: create: %w", invalid("email",
				"A guest with this email address exists already. Find them in the guest list to extend their access or send their credentials again."))
		}
	}
	if err != nil {
		return nil, fmt.Errorf("guest: create: %w", err)
	}
	s.log.InfoContext(ctx, "guest: created", "guest_id", g.ID, "actor", a.String(), "guest_type", gt.Name, "mail_id", mid)
	return &Result{Guest: g, Mail: mid, Future: s.track(mid), HandOver: handOver}, nil
}

// checkValidity checks a guest type the actor may use, a start (zero:
// now) and a validity (zero: the type's default) against the type's
// maximum, and returns the type and the validity's bounds.
func (s *Service) checkValidity(ctx context.Context, a Actor, typeName string, from time.Time, d time.Duration, now time.Time) (*storage.GuestType, time.Time, time.Time, error) {
	gt, err := s.store.GetGuestType(ctx, typeName)
	if errors.Is(err, storage.ErrNotFound) {
		return nil, time.Time{}, time.Time{}, invalid("guest_type", fmt.Sprintf("There is no guest type %q; choose one of the list.", typeName))
	} else if err != nil {
		return nil, time.Time{}, time.Time{}, fmt.Errorf("guest type %q: %w", typeName, err)
	}
	if a.Staff != nil && a.Staff.Role != storage.RoleAdmin && a.Group != nil && !a.Group.MayUseType(gt.Name) {
		return nil, time.Time{}, time.Time{}, fmt.Errorf("%w: the sponsor group %q may not create guests of type %s; choose another type",
			ErrForbidden, a.Group.Name, gt.Name)
	}
	from = storage.Truncate(from)
	switch {
	case from.IsZero():
		from = now
	case from.Before(now.Add(-startSlack)):
		return nil, time.Time{}, time.Time{}, invalid("valid_from", "Choose a start of access from now on.")
	case from.Before(now):
		from = now
	}
	switch {
	case d == 0:
		d = Validity(gt)
	case d < 0:
		return nil, time.Time{}, time.Time{}, invalid("validity", "Choose how long the guest may stay.")
	case gt.MaxDuration > 0 && d > gt.MaxDuration:
		return nil, time.Time{}, time.Time{}, invalid("validity", fmt.Sprintf("Guests of type %s may stay at most %s; choose a shorter time.", gt.Name, HumanDuration(gt.MaxDuration)))
	}
	return gt, from, from.Add(d), nil
}

// Batch is a batch of random guest accounts (no names, no email).
type Batch struct {
	Count     int           // 1 to MaxBatch
	Prefix    string        // usernames are Prefix-xxxxxx; default "guest"
	GuestType string        // empty: the default type
	ValidFrom time.Time     // zero: now
	Validity  time.Duration // zero: the type's default
}

// prefixRe is what a batch's username prefix may be.
var prefixRe = regexp.MustCompile(`^[a-z0-9][a-z0-9-]{0,19}$`)

// CreateBatch makes b.Count random accounts sponsored by the actor, in one
// transaction with one audit entry. Nothing is emailed: the guests come
// back with their passwords, for a sheet to hand out.
func (s *Service) CreateBatch(ctx context.Context, a Actor, b Batch) ([]*storage.Guest, error) {
	now := storage.Truncate(s.now())
	if err := s.Allowed(a, storage.PermBatch, nil); err != nil {
		return nil, fmt.Errorf("guest: batch: %w", err)
	}
	var errs []error
	if b.Count < 1 || b.Count > MaxBatch {
		errs = append(errs, invalid("count", fmt.Sprintf("Choose between 1 and %d accounts.", MaxBatch)))
	}
	b.Prefix = strings.ToLower(strings.TrimSpace(b.Prefix))
	if b.Prefix == "" {
		b.Prefix = DefaultBatchPrefix
	}
	if !prefixRe.MatchString(b.Prefix) {
		errs = append(errs, invalid("prefix", "Use up to 20 lower-case letters, digits and hyphens for the prefix, starting with a letter or digit."))
	}
	if b.GuestType = strings.TrimSpace(b.GuestType); b.GuestType == "" {
		b.GuestType = s.pol.DefaultGuestType
	}
	gt, from, until, err := s.checkValidity(ctx, a, b.GuestType, b.ValidFrom, b.Validity, now)
	if err != nil {
		if !errors.Is(err, ErrInvalid) {
			return nil, fmt.Errorf("guest: batch: %w", err)
		}
		errs = append(errs, err)
	}
	if len(errs) > 0 {
		return nil, fmt.Errorf("guest: batch: %w", errors.Join(errs...))
	}
	var sponsor uuid.UUID
	if a.Staff != nil {
		sponsor = a.Staff.ID
	}
	var guests []*storage.Guest
	for attempt := 0; ; attempt++ {
		err = s.store.WithTx(ctx, func(tx storage.Store) error {
			guests = guests[:0]
			taken := map[string]bool{}
			for range b.Count {
				g := &storage.Guest{GuestType: gt.Name, Status: storage.GuestActive, ValidFrom: from, ValidUntil: until, SponsorID: sponsor}
				for {
					name, err := s.randomUsername(b.Prefix)
					if err != nil {
						return err
					}
					if taken[name] {
						continue
					}
					// Look first: a failed insert would end the
					// transaction on Postgres.
					if _, err := tx.GetGuestByUsername(ctx, name); errors.Is(err, storage.ErrNotFound) {
						g.Username = name
						taken[name] = true
						break
					} else if err != nil {
						return err
					}
				}
				var err error
				if g.Password, err = s.NewPassword(); err != nil {
					return err
				}
				if err := tx.CreateGuest(ctx, g); err != nil {
					return err
				}
				guests = append(guests, g)
			}
			return tx.Audit(ctx, storage.AuditEntry{Actor: a.String(), Action: "guest.batch", Subject: b.Prefix,
				Detail: a.withVia(fmt.Sprintf("%d accounts %s-…, type %s, valid %s to %s", b.Count, b.Prefix, gt.Name,
					from.UTC().Format(time.RFC3339), until.UTC().Format(time.RFC3339)))})
		})
		// A username taken meanwhile by another batch: once more.
		if !errors.Is(err, storage.ErrConflict) || attempt >= 2 {
			break
		}
	}
	if err != nil {
		return nil, fmt.Errorf("guest: batch: %w", err)
	}
	s.log.InfoContext(ctx, "guest: batch created", "count", len(guests), "prefix", b.Prefix, "actor", a.String(), "guest_type", gt.Name)
	return guests, nil
}
