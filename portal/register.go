package portal

import (
	"context"
	"crypto/hmac"
	"crypto/sha256"
	"crypto/subtle"
	"errors"
	"fmt"
	"net/http"
	"strings"
	"time"

	"github.com/google/uuid"

	"github.com/lobbyhq/lobby/guest"
	"github.com/lobbyhq/lobby/internal/webkit"
	"github.com/lobbyhq/lobby/notify"
	"github.com/lobbyhq/lobby/storage"
)

// Registration form field names.
const (
	fFirst   = "first_name"
	fLast    = "last_name"
	fEmail   = "email"
	fPhone   = "phone"
	fCompany = "company"
	fVisited = "person_visited"
	fReason  = "reason"
	fCode    = "code"
	fTerms   = "terms"
)

// registerData is the register page's own data.
type registerData struct {
	Nonce           string
	Terms           []string
	Duration        string
	RequireApproval bool
	Return          string // a local path to go to after signing in, carried through the success page
}

// registerForm returns the registration fields the policy shows.
func (p *Portal) registerForm(approval bool) *webkit.Form {
	pol := p.cfg.Policy
	f := webkit.NewForm(
		&webkit.Field{Name: fFirst, Label: "First name", Type: "text", Autocomplete: "given-name", Required: true, MaxLen: maxName},
		&webkit.Field{Name: fLast, Label: "Last name", Type: "text", Autocomplete: "family-name", Required: true, MaxLen: maxName},
		&webkit.Field{Name: fEmail, Label: "Email address", Hint: "We send your username and password here.", Type: "email", Autocomplete: "email", Required: true, MaxLen: maxEmail},
	)
	add := func(rule FieldRule, fl *webkit.Field) {
		if rule.Show {
			fl.Required = rule.Required
			f.Fields = append(f.Fields, fl)
		}
	}
	add(pol.Fields.Phone, &webkit.Field{Name: fPhone, Label: "Phone number", Type: "tel", Autocomplete: "tel", MaxLen: maxPhone})
	add(pol.Fields.Company, &webkit.Field{Name: fCompany, Label: "Company", Type: "text", Autocomplete: "organization", MaxLen: maxOther})
	visited := &webkit.Field{Name: fVisited, Label: "Person you are visiting", Type: "text", MaxLen: maxOther}
	rule := pol.Fields.PersonVisited
	if p.approverIsVisited(approval) {
		rule = FieldRule{Show: true, Required: true}
		visited.Hint = "Their email address at this organisation: they approve your access."
		visited.Type = "email"
		visited.MaxLen = maxEmail
	}
	add(rule, visited)
	add(pol.Fields.Reason, &webkit.Field{Name: fReason, Label: "Reason for your visit", Type: "text", MaxLen: maxReason})
	if pol.RegistrationCode != "" {
		f.Fields = append(f.Fields, &webkit.Field{Name: fCode, Label: "Registration code", Hint: "Ask at reception for the code.", Type: "text", Autocomplete: "off", Required: true, MaxLen: maxCode})
	}
	f.Fields = append(f.Fields, &webkit.Field{Name: fTerms, Label: "I accept the acceptable-use terms", Type: "checkbox", Required: true})
	return f
}

// approverIsVisited reports whether the person visited approves: approval
// is needed and no approvers are configured.
func (p *Portal) approverIsVisited(approval bool) bool {
	return approval && len(p.cfg.Policy.Approvers) == 0
}

// guestType returns the default guest type and whether registering with it
// needs approval.
func (p *Portal) guestType(ctx context.Context) (*storage.GuestType, bool, error) {
	gt, err := p.defaultGuestType(ctx)
	if err != nil {
		return nil, false, fmt.Errorf("guest type %q: %w", p.cfg.Policy.DefaultGuestType, err)
	}
	return gt, p.cfg.Policy.RequireApproval || gt.RequireApproval, nil
}

func (p *Portal) registerPage(w http.ResponseWriter, r *http.Request, status int, form *webkit.Form, nonce string, gt *storage.GuestType, approval bool, notice ...string) {
	data := registerData{Nonce: nonce, Terms: p.termParagraphs(), Duration: humanDuration(validity(gt)), RequireApproval: approval, Return: formReturn(r)}
	v := p.view(r, "Register for guest access", form, data)
	v.Notice = strings.Join(notice, " ")
	p.page(w, r, status, "register", v)
}

func (p *Portal) getRegister(w http.ResponseWriter, r *http.Request) {
	gt, approval, err := p.guestType(r.Context())
	if err != nil {
		p.fail(w, r, "register page", err)
		return
	}
	p.registerPage(w, r, http.StatusOK, p.registerForm(approval), p.newNonce(), gt, approval)
}

// registration is a validated registration form.
type registration struct {
	First, Last, Email, Phone, Company, Visited, Reason string
	Approvers                                           []string
	SponsorID                                           uuid.UUID
}

func (p *Portal) postRegister(w http.ResponseWriter, r *http.Request) {
	ctx := r.Context()
	gt, approval, err := p.guestType(ctx)
	if err != nil {
		p.fail(w, r, "register", err)
		return
	}
	form := p.registerForm(approval)
	form.Load(r.PostForm)
	nonce := r.PostForm.Get("nonce")
	if !p.validNonce(nonce) {
		// A form shown over two hours ago, or one this server did not
		// issue: show it again, with a fresh nonce, and register nothing.
		p.registerPage(w, r, http.StatusUnprocessableEntity, form, p.newNonce(), gt, approval,
			"This form was out of date. Check your details and send it again.")
		return
	}
	reg, err := p.validate(ctx, form, approval)
	if err != nil {
		p.fail(w, r, "register: validate", err)
		return
	}
	if !form.Valid() {
		p.registerPage(w, r, http.StatusUnprocessableEntity, form, nonce, gt, approval)
		return
	}
	id := p.guestIDFor(nonce, reg.Email)

	// The address may have a registration already. A second POST of the
	// same form (double click, reload) finds the guest the first one made,
	// whose ID comes from the nonce and the address: send it to the same
	// success page. The same form sent with another address is another
	// registration, answered as any other: a form left in a browser does
	// not lead someone else to the first guest's page, and the answer does
	// not tell whether the first address was new. One look-up by address
	// serves both, since addresses are unique. A registration that has run
	// its course (expired, denied, or pending past the approval window) is
	// renewed: replaced by this one in the same transaction.
	var prev *storage.Guest
	if g, err := p.store.GetGuestByEmail(ctx, reg.Email); err == nil {
		if g.ID == id { // the same form, sent again
			p.redirectRegistered(w, r, g, nonce)
			return
		}
		if !p.renewable(g, p.now()) {
			p.echo(w, r, id, nonce, reg, g, gt, approval)
			return
		}
		prev = g
	} else if !errors.Is(err, storage.ErrNotFound) {
		p.fail(w, r, "register: look up email", err)
		return
	}

	// A new registration spends the address's allowance as a registration
	// for a registered address does (see echo), so that over it both are
	// answered alike, and truly.
	if ok, wait := p.limitRegAddress.Allow(p.addressKey(r, reg.Email)); !ok {
		p.tooManyForAddress(w, r, wait)
		return
	}
	var (
		g       *storage.Guest
		mailIDs []uuid.UUID
	)
	for attempt := 0; ; attempt++ {
		g, mailIDs, err = p.create(ctx, id, nonce, reg, gt, approval, prev)
		if err == nil {
			break
		}
		// The same form may have been sent twice at once: the other request
		// won. Or the address was just registered or renewed by another
		// form, or a generated username clashed.
		if prev, gerr := p.store.GetGuest(ctx, id); gerr == nil && prev.Email == reg.Email {
			p.redirectRegistered(w, r, prev, nonce)
			return
		}
		if attempt < 3 && (errors.Is(err, storage.ErrConflict) || errors.Is(err, errNotRenewable)) {
			cur, gerr := p.store.GetGuestByEmail(ctx, reg.Email)
			switch {
			case errors.Is(gerr, storage.ErrNotFound):
				prev = nil
				continue
			case gerr == nil && p.renewable(cur, p.now()):
				prev = cur
				continue
			case gerr == nil:
				p.echo(w, r, id, nonce, reg, cur, gt, approval)
				return
			}
		}
		p.fail(w, r, "register: create guest", err)
		return
	}
	p.log.InfoContext(ctx, "guest registered", "guest_id", g.ID, "status", g.Status, "mail_ids", mailIDs)
	p.track(mailIDs...)
	p.setRegisteredCookie(w, r, g.ID)
	webkit.SeeOther(w, p.successURL(r, guestTicket(g, mailIDs[0])))
}

// guestIDFor derives the ID of the guest a registration nonce creates for
// the (normalized) address email, so that one form makes at most one guest
// per address however often it is sent.
func (p *Portal) guestIDFor(nonce, email string) uuid.UUID {
	m := hmac.New(sha256.New, p.nonceKey)
	m.Write([]byte(nonce))
	m.Write([]byte{0})
	m.Write([]byte(email))
	return uuid.NewSHA1(uuid.NameSpaceOID, m.Sum(nil))
}

// validate checks the form, setting a message at every bad field, and
// returns the registration it describes.
func (p *Portal) validate(ctx context.Context, form *webkit.Form, approval bool) (registration, error) {
	pol := p.cfg.Policy
	var reg registration
	v := form.Value
	check := func(name, msg string) {
		if msg != "" {
			form.Fail(name, msg)
		}
	}
	reg.First, reg.Last = v(fFirst), v(fLast)
	check(fFirst, checkName("First name", reg.First, true, "Enter your first name."))
	check(fLast, checkName("Last name", reg.Last, true, "Enter your last name."))

	email, msg := normalizeEmail(v(fEmail))
	check(fEmail, msg)
	if msg == "" {
		d := emailDomain(email)
		switch {
		case domainIn(d, pol.BlockDomains):
			check(fEmail, "Addresses at "+d+" cannot register here. Use another email address.")
		case len(pol.AllowDomains) > 0 && !domainIn(d, pol.AllowDomains):
			check(fEmail, "Use an email address at "+strings.Join(pol.AllowDomains, ", ")+".")
		}
	}
	reg.Email = email
	if fl := form.Field(fPhone); fl != nil {
		reg.Phone = fl.Value
		check(fPhone, checkPhone(fl.Value, fl.Required))
	}
	if fl := form.Field(fCompany); fl != nil {
		reg.Company = fl.Value
		check(fCompany, checkText("Company", fl.Value, maxOther, fl.Required, "Enter your company."))
	}
	if fl := form.Field(fVisited); fl != nil {
		reg.Visited = fl.Value
		if p.approverIsVisited(approval) {
			sponsorEmail, msg := normalizeEmail(fl.Value)
			if fl.Value == "" {
				msg = "Enter the email address of the person you are visiting."
			} else if msg != "" {
				msg = "Enter the email address of the person you are visiting, like name@example.com."
			}
			check(fVisited, msg)
			reg.Visited = sponsorEmail
		} else {
			check(fVisited, checkVisited(fl.Value, fl.Required))
		}
	}
	if fl := form.Field(fReason); fl != nil {
		reg.Reason = fl.Value
		check(fReason, checkText("Reason", fl.Value, maxReason, fl.Required, "Enter the reason for your visit."))
	}
	if fl := form.Field(fCode); fl != nil {
		switch {
		case fl.Value == "":
			check(fCode, "Enter the registration code.")
		case subtle.ConstantTimeCompare([]byte(fl.Value), []byte(pol.RegistrationCode)) != 1:
			check(fCode, "The registration code is not right. Ask at reception for the current code.")
		}
		fl.Value = "" // never echo a code back
	}
	if !form.Field(fTerms).Checked() {
		check(fTerms, "Accept the acceptable-use terms to register.")
	}
	if !form.Valid() {
		return reg, nil
	}

	// Who sponsors and who approves. Only when the rest is valid: it reads
	// the staff list.
	sponsor, err := p.sponsorByEmail(ctx, reg.Visited)
	if err != nil {
		return reg, err
	}
	if sponsor != nil {
		reg.SponsorID = sponsor.ID
	}
	if approval {
		reg.Approvers = pol.Approvers
		if len(reg.Approvers) == 0 {
			if sponsor == nil || sponsor.Email == "" {
				// The same words for every address that is not an enabled
				// sponsor's, so that the form does not tell who works here.
				check(fVisited, "We could not find that host; check the address or ask at the front desk.")
			} else {
				reg.Approvers = []string{strings.ToLower(sponsor.Email)}
			}
		}
	}
	return reg, nil
}

// sponsorByEmail returns the enabled sponsor or admin whose email is email,
// or nil.
func (p *Portal) sponsorByEmail(ctx context.Context, email string) (*storage.Staff, error) {
	if !strings.Contains(email, "@") {
		return nil, nil
	}
	staff, err := p.store.ListStaff(ctx)
	if err != nil {
		return nil, fmt.Errorf("list staff: %w", err)
	}
	for _, s := range staff {
		if !s.Disabled && strings.EqualFold(strings.TrimSpace(s.Email), email) {
			return s, nil
		}
	}
	return nil, nil
}

// create stores the guest and its first emails in one transaction: the
// credentials, or (with approval) a "pending" note to the guest and an
// approval request to each approver. It returns the guest and the outbox
// IDs, the guest's first.
//
// With prev it renews: prev (the address's registration, which must still
// be renewable) is replaced in the same transaction by the new guest, who
// gets a new ID (and, under the "generated" policy, a new username), so
// that nothing of the old registration (sessions, approval links, emails'
// idempotency keys) applies to the new one; the audit entry keeps who was
// replaced. A prev that changed meanwhile is errNotRenewable.
func (p *Portal) create(ctx context.Context, id uuid.UUID, nonce string, reg registration, gt *storage.GuestType, approval bool, prev *storage.Guest) (*storage.Guest, []uuid.UUID, error) {
	now := storage.Truncate(p.now())
	// A renewal under the "email" policy keeps the username (the address);
	// under "generated" it gets a new one, so that whoever renews an
	// address does not step into the old guest's name.
	var username string
	var err error
	if prev != nil && p.cfg.Policy.UsernamePolicy != UsernameGenerated {
		username = prev.Username
	} else if username, err = p.guests.NewUsername(reg.Email); err != nil {
		return nil, nil, err
	}
	password, err := p.guests.NewPassword()
	if err != nil {
		return nil, nil, err
	}
	g := &storage.Guest{
		ID: id, Username: username, Password: password,
		FirstName: reg.First, LastName: reg.Last, Email: reg.Email, Phone: reg.Phone, Company: reg.Company,
		PersonVisited: reg.Visited, Reason: reg.Reason, SponsorID: reg.SponsorID, GuestType: gt.Name,
		Status: storage.GuestActive, ValidFrom: now, ValidUntil: now.Add(validity(gt)),
	}
	if prev != nil {
		// A new password: no session from before counts. (The new ID
		// already keeps the old registration's sessions out; this keeps
		// the rule the same as for any other new password.)
		g.SessionsValidAfter = now
	}
	var msgs []notify.Message
	if approval {
		g.Status = storage.GuestPending
		m, err := p.guests.PendingMessage(g)
		if err != nil {
			return nil, nil, err
		}
		msgs = append(msgs, m)
		for _, a := range reg.Approvers {
			m, err := p.approvalMessage(g, a, now)
			if err != nil {
				return nil, nil, err
			}
			msgs = append(msgs, m)
		}
	} else {
		m, err := p.guests.CredentialsMessage(g)
		if err != nil {
			return nil, nil, err
		}
		msgs = append(msgs, m)
	}
	msgs[0].IdempotencyKey = registrationKey(nonce, reg.Email)

	var ids []uuid.UUID
	actor, action, detail := "guest:"+g.Username, "guest.register", "self-registered, status "+string(g.Status)
	if prev != nil {
		// The old row goes: the audit log keeps who it was. The actor is
		// the registration form, not the old guest, who may not be the
		// one who sent it.
		actor, action, detail = "registration", "guest.renew", "self-registered again, status "+string(g.Status)+"; "+replacedDetail(prev)
	}
	err = p.store.WithTx(ctx, func(tx storage.Store) error {
		ids = ids[:0]
		if prev != nil {
			if prev.Email != g.Email || !p.renewable(prev, now) {
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

// replacedDetail describes the registration a renewal replaces, for the
// audit log: its ID, username, names, company, status and validity.
func replacedDetail(g *storage.Guest) string {
	return fmt.Sprintf("replaces %s (username %q, name %q %q, company %q, status %s, valid %s to %s)",
		g.ID, g.Username, g.FirstName, g.LastName, g.Company, g.Status,
		g.ValidFrom.UTC().Format(time.RFC3339), g.ValidUntil.UTC().Format(time.RFC3339))
}

// errNotRenewable ends a renewal whose old registration changed since it
// was read.
var errNotRenewable = errors.New("portal: the registration is no longer renewable")

// renewable reports whether g has run its course at now, so that its
// address may register again: expired, denied more than DeniedCooloff ago,
// active past its validity (before the jobs mark it expired), or pending
// past the approval window. Active, suspended, freshly pending and freshly
// denied guests are not: a denial would mean nothing if the guest could
// register again at once.
func (p *Portal) renewable(g *storage.Guest, now time.Time) bool {
	switch g.Status {
	case storage.GuestExpired:
		return true
	case storage.GuestDenied:
		cool := p.cfg.Policy.DeniedCooloff
		return cool >= 0 && !now.Before(g.UpdatedAt.Add(cool))
	case storage.GuestActive:
		return !now.Before(g.ValidUntil)
	case storage.GuestPending:
		return !now.Before(g.CreatedAt.Add(p.cfg.Policy.ApprovalLinkTTL))
	}
	return false
}

// registrationKey is the idempotency key of the first email of the
// registration of email with nonce.
func registrationKey(nonce, email string) string { return "portal:register:" + nonce + ":" + email }

// redirectRegistered sends a repeated POST of a registration form to the
// success page of the guest the first one made.
func (p *Portal) redirectRegistered(w http.ResponseWriter, r *http.Request, g *storage.Guest, nonce string) {
	// Enqueue with the first email's idempotency key gives that email's ID
	// (and queues nothing). Only if the outbox no longer has it does this
	// queue the email the guest's state calls for now, if any.
	var (
		m   notify.Message
		mid uuid.UUID
		err error
	)
	switch g.Status {
	case storage.GuestActive:
		m, err = p.guests.CredentialsMessage(g)
	case storage.GuestPending:
		m, err = p.guests.PendingMessage(g)
	}
	if err == nil && m.Kind != "" {
		m.IdempotencyKey = registrationKey(nonce, g.Email)
		err = p.store.WithTx(r.Context(), func(tx storage.Store) error {
			mid, err = notify.Enqueue(r.Context(), tx, m)
			return err
		})
	}
	if err != nil {
		p.fail(w, r, "register: repeated form", err)
		return
	}
	// A double click or a reload gets the page as the first POST did; the
	// same form sent long after (a kiosk's back button) gets it without the
	// credentials.
	if p.now().Sub(g.CreatedAt) < repeatWindow {
		p.setRegisteredCookie(w, r, g.ID)
	}
	webkit.SeeOther(w, p.successURL(r, guestTicket(g, mid)))
}

// repeatWindow is how soon after registering a repeated POST of the form
// still counts as the same visit (a double click, a reload).
const repeatWindow = 2 * time.Minute

// validity is how long a new guest of gt may stay (see guest.Validity).
func validity(gt *storage.GuestType) time.Duration { return guest.Validity(gt) }

// humanDuration says d in words (see guest.HumanDuration).
func humanDuration(d time.Duration) string { return guest.HumanDuration(d) }
