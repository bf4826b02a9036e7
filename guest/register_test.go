package guest

import (
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/google/uuid"

	"github.com/lobbyhq/lobby/storage"
)

func (b *bundle) selfReg(t *testing.T, email string, approval bool) SelfRegistration {
	t.Helper()
	gt, err := b.svc.DefaultGuestType(t.Context())
	if err != nil {
		t.Fatal(err)
	}
	reg, problems := b.svc.CheckApplication(Application{FirstName: "Eve", LastName: "Example", Email: email}, false)
	if len(problems) > 0 {
		t.Fatalf("CheckApplication: %v", problems)
	}
	return SelfRegistration{ID: uuid.New(), Key: "test:" + uuid.NewString(), Reg: reg, Type: gt, Approval: approval}
}

// TestRegister: a new address registers; the same registration again is
// a repeat; a live registration is known and unchanged; one that has run
// its course (expired, denied past the cool-off) is renewed in its place.
func TestRegister(t *testing.T) {
	t.Parallel()
	eachBackend(t, func(c *Config) { c.Policy.DeniedCooloff = 24 * time.Hour }, func(t *testing.T, b *bundle) {
		ctx := t.Context()
		in := b.selfReg(t, "Eve@Example.org", false)
		res, err := b.svc.Register(ctx, in)
		if err != nil || res.Outcome != OutcomeRegistered || res.Guest.Status != storage.GuestActive || len(res.Mail) != 1 {
			t.Fatalf("Register = %+v, %v", res, err)
		}
		if m := b.mailOf(t, res.Mail[0]); m.Kind != KindCredentials || m.Recipient != "eve@example.org" {
			t.Errorf("mail = %+v", m)
		}
		if again, err := b.svc.Register(ctx, in); err != nil || again.Outcome != OutcomeRepeated || again.Guest.ID != in.ID {
			t.Errorf("the same registration again = %+v, %v; want a repeat", again, err)
		}
		other := b.selfReg(t, "eve@example.org", false)
		if known, err := b.svc.Register(ctx, other); err != nil || known.Outcome != OutcomeKnown || known.Guest.ID != in.ID {
			t.Errorf("another form for the address = %+v, %v; want it known", known, err)
		}
		other.Admit = func() bool { return false }
		b.clock.Advance(25 * time.Hour) // the first registration has run its course
		if _, err := b.svc.Register(ctx, other); !errors.Is(err, ErrLimited) {
			t.Errorf("not admitted: err = %v, want ErrLimited", err)
		}
		other.Admit = nil
		renewed, err := b.svc.Register(ctx, other)
		if err != nil || renewed.Outcome != OutcomeRegistered || renewed.Guest.ID != other.ID {
			t.Fatalf("renewal = %+v, %v", renewed, err)
		}
		if _, err := b.store.GetGuest(ctx, in.ID); !errors.Is(err, storage.ErrNotFound) {
			t.Errorf("the old registration is still there: %v", err)
		}
		if au := b.auditFor(t, other.ID.String()); len(au) != 1 || au[0].Action != "guest.renew" || !strings.Contains(au[0].Detail, "replaces "+in.ID.String()) {
			t.Errorf("audit = %+v", au)
		}

		// Denied: known during the cool-off, renewable after it.
		d := b.guest(t, storage.GuestPending)
		if _, err := b.svc.Deny(ctx, b.owner, d.ID, ""); err != nil {
			t.Fatal(err)
		}
		again := b.selfReg(t, d.Email, false)
		if res, err := b.svc.Register(ctx, again); err != nil || res.Outcome != OutcomeKnown {
			t.Errorf("within the cool-off = %+v, %v; want known", res, err)
		}
		b.clock.Advance(24*time.Hour + time.Second)
		if res, err := b.svc.Register(ctx, again); err != nil || res.Outcome != OutcomeRegistered {
			t.Errorf("after the cool-off = %+v, %v; want registered", res, err)
		}
	})
}

// TestRegisterWithApproval: the guest waits, told so, and the person
// visited (an enabled sponsor) gets the approval request with the links
// ApprovalLinks made.
func TestRegisterWithApproval(t *testing.T) {
	t.Parallel()
	links := func(id uuid.UUID, approver string, exp time.Time) (string, string) {
		return "https://wifi.example.com/portal/approve/" + id.String(), "https://wifi.example.com/portal/deny/" + id.String()
	}
	eachBackend(t, func(c *Config) { c.ApprovalLinks = links }, func(t *testing.T, b *bundle) {
		ctx := t.Context()
		host := &storage.Staff{Username: "vera", Email: "Vera@Corp.example", Role: storage.RoleSponsor, PasswordHash: "x"}
		if err := b.store.CreateStaff(ctx, host); err != nil {
			t.Fatal(err)
		}
		app := Application{FirstName: "Eve", LastName: "Example", Email: "eve@example.org", PersonVisited: Field{Value: "vera@corp.example"}}
		reg, problems := b.svc.CheckApplication(app, true)
		if len(problems) > 0 {
			t.Fatal(problems)
		}
		if problem, err := b.svc.Sponsorship(ctx, &reg, true); err != nil || problem != nil {
			t.Fatalf("Sponsorship = %v, %v", problem, err)
		}
		if reg.SponsorID != host.ID || len(reg.Approvers) != 1 || reg.Approvers[0] != "vera@corp.example" {
			t.Errorf("registration = %+v", reg)
		}
		in := b.selfReg(t, "eve@example.org", true)
		in.Reg = reg
		res, err := b.svc.Register(ctx, in)
		if err != nil || res.Guest.Status != storage.GuestPending || len(res.Mail) != 2 {
			t.Fatalf("Register = %+v, %v", res, err)
		}
		if m := b.mailOf(t, res.Mail[0]); m.Kind != KindPending || m.Recipient != "eve@example.org" {
			t.Errorf("first mail = %+v", m)
		}
		if m := b.mailOf(t, res.Mail[1]); m.Kind != KindApproval || m.Recipient != "vera@corp.example" || !strings.Contains(m.Text, "/approve/"+in.ID.String()) {
			t.Errorf("approval request = %+v", m)
		}
		stranger := Registration{Visited: "nobody@corp.example"}
		if problem, err := b.svc.Sponsorship(ctx, &stranger, true); err != nil || problem == nil || problem.Field != "person_visited" {
			t.Errorf("an unknown host: %v, %v; want a problem with person_visited", problem, err)
		}
	})
}

func TestCheckApplication(t *testing.T) {
	t.Parallel()
	b := setup(t, "sqlite", func(c *Config) { c.Policy.BlockDomains = []string{"spam.example"} })
	_, problems := b.svc.CheckApplication(Application{FirstName: "", LastName: "Ex4mple", Email: "eve@mail.spam.example",
		Company: Field{Shown: true, Required: true}, Reason: Field{Value: "see www.evil.example"}}, false)
	var got []string
	for _, p := range problems {
		got = append(got, p.Field)
	}
	if strings.Join(got, ",") != "first_name,last_name,email,company" {
		t.Errorf("problems = %v (a field not shown is not checked)", problems)
	}
}

// TestRemind: a form for a live registration's address emails its owner
// again, once per form, within the caller's limit.
func TestRemind(t *testing.T) {
	t.Parallel()
	eachBackend(t, nil, func(t *testing.T, b *bundle) {
		ctx := t.Context()
		g := b.guest(t, storage.GuestActive)
		mid, _, err := b.svc.Remind(ctx, g, "form-1", nil)
		if err != nil || mid == uuid.Nil {
			t.Fatalf("Remind = %s, %v", mid, err)
		}
		if again, _, err := b.svc.Remind(ctx, g, "form-1", func() bool { return false }); err != nil || again != mid {
			t.Errorf("the same form again = %s, %v; want the first email, not limited", again, err)
		}
		if _, _, err := b.svc.Remind(ctx, g, "form-2", func() bool { return false }); !errors.Is(err, ErrLimited) {
			t.Errorf("over the limit: err = %v, want ErrLimited", err)
		}
		s := b.guest(t, storage.GuestSuspended)
		if mid, _, err := b.svc.Remind(ctx, s, "form-3", nil); err != nil || mid != uuid.Nil {
			t.Errorf("suspended: %s, %v; want nothing sent", mid, err)
		}
		if n := b.mailCount(t); n != 1 {
			t.Errorf("%d emails, want 1", n)
		}
	})
}
