package storetest

import (
	"errors"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/google/uuid"

	"github.com/lobbyhq/lobby/storage"
)

// testSponsorGroups: a fresh store has the default group with every
// permission; groups are put, listed, replaced and deleted; the default
// group and a group in use cannot be deleted.
func testSponsorGroups(t *testing.T, b Backend) {
	bb := setup(t, b)
	s, ctx := bb.store, t.Context()

	def, err := s.GetSponsorGroup(ctx, storage.DefaultSponsorGroup)
	if err != nil {
		t.Fatalf("GetSponsorGroup(default) on a fresh store: %v", err)
	}
	if !slices.Equal(def.Permissions, storage.AllPermissions) || def.ManageAll || len(def.GuestTypes) != 0 {
		t.Fatalf("the default group = %+v; want every permission, ManageAll false, every guest type", def)
	}
	if byEmpty, err := s.GetSponsorGroup(ctx, ""); err != nil || byEmpty.Name != storage.DefaultSponsorGroup {
		t.Fatalf(`GetSponsorGroup("") = %+v, %v; want the default group`, byEmpty, err)
	}

	reception := storage.SponsorGroup{Name: "reception", Description: "Front desk", GuestTypes: []string{"visitor"},
		ManageAll: true, Permissions: []storage.Permission{storage.PermApprove, storage.PermResend, storage.PermResend}}
	if err := s.PutSponsorGroup(ctx, reception); err != nil {
		t.Fatalf("PutSponsorGroup: %v", err)
	}
	got, err := s.GetSponsorGroup(ctx, "reception")
	if err != nil {
		t.Fatalf("GetSponsorGroup: %v", err)
	}
	want := reception
	want.Permissions = []storage.Permission{storage.PermResend, storage.PermApprove} // AllPermissions order, no duplicates
	want.UpdatedAt = bb.clock.now()
	if d := diff(want, *got); d != "" {
		t.Fatalf("GetSponsorGroup after Put: %s", d)
	}
	if !got.May(storage.PermApprove) || got.May(storage.PermDelete) || !got.MayUseType("visitor") || got.MayUseType("contractor") {
		t.Fatalf("May/MayUseType of %+v disagree with what was put", got)
	}

	bb.clock.Advance(time.Minute)
	reception.ManageAll, reception.GuestTypes, reception.Permissions = false, nil, nil
	if err := s.PutSponsorGroup(ctx, reception); err != nil {
		t.Fatalf("PutSponsorGroup (replace): %v", err)
	}
	if got, err := s.GetSponsorGroup(ctx, "reception"); err != nil || got.ManageAll || len(got.GuestTypes) != 0 ||
		len(got.Permissions) != 0 || !got.UpdatedAt.Equal(bb.clock.now()) {
		t.Fatalf("after replacing: %+v, %v; want no permissions, stamped %v", got, err, bb.clock.now())
	}
	if err := s.PutSponsorGroup(ctx, storage.SponsorGroup{Name: "bad", Permissions: []storage.Permission{"fly"}}); err == nil {
		t.Fatal("PutSponsorGroup with an unknown permission: no error")
	}
	if err := s.PutSponsorGroup(ctx, storage.SponsorGroup{}); err == nil {
		t.Fatal("PutSponsorGroup without a name: no error")
	}
	list, err := s.ListSponsorGroups(ctx)
	if err != nil || len(list) != 2 || list[0].Name != "default" || list[1].Name != "reception" {
		t.Fatalf("ListSponsorGroups = %+v, %v; want default, reception", list, err)
	}

	sp := bb.sponsor(t, "sally")
	if sp.Group != "" {
		t.Fatalf("a new sponsor's group = %q, want \"\" (the default)", sp.Group)
	}
	if err := s.SetStaffGroup(ctx, sp.ID, "reception"); err != nil {
		t.Fatalf("SetStaffGroup: %v", err)
	}
	if got, err := s.GetStaff(ctx, sp.ID); err != nil || got.Group != "reception" {
		t.Fatalf("after SetStaffGroup: %+v, %v", got, err)
	}
	if err := s.SetStaffGroup(ctx, sp.ID, "nosuch"); !errors.Is(err, storage.ErrNotFound) {
		t.Fatalf("SetStaffGroup to a missing group: %v, want ErrNotFound", err)
	}
	if err := s.SetStaffGroup(ctx, uuid.New(), "reception"); !errors.Is(err, storage.ErrNotFound) {
		t.Fatalf("SetStaffGroup of a missing user: %v, want ErrNotFound", err)
	}
	if err := s.DeleteSponsorGroup(ctx, "reception"); !errors.Is(err, storage.ErrConflict) {
		t.Fatalf("DeleteSponsorGroup of a group in use: %v, want ErrConflict", err)
	}
	for _, name := range []string{storage.DefaultSponsorGroup, ""} {
		if err := s.DeleteSponsorGroup(ctx, name); !errors.Is(err, storage.ErrConflict) {
			t.Fatalf("DeleteSponsorGroup(%q): %v, want ErrConflict", name, err)
		}
	}
	if err := s.SetStaffGroup(ctx, sp.ID, storage.DefaultSponsorGroup); err != nil {
		t.Fatalf("SetStaffGroup(default): %v", err)
	}
	if got, err := s.GetStaff(ctx, sp.ID); err != nil || got.Group != "" {
		t.Fatalf("after SetStaffGroup(default): group %q, %v; want \"\"", got.Group, err)
	}
	if err := s.DeleteSponsorGroup(ctx, "reception"); err != nil {
		t.Fatalf("DeleteSponsorGroup of a group no one is in: %v", err)
	}
	if _, err := s.GetSponsorGroup(ctx, "reception"); !errors.Is(err, storage.ErrNotFound) {
		t.Fatalf("GetSponsorGroup after delete: %v, want ErrNotFound", err)
	}
	if err := s.DeleteSponsorGroup(ctx, "reception"); !errors.Is(err, storage.ErrNotFound) {
		t.Fatalf("DeleteSponsorGroup again: %v, want ErrNotFound", err)
	}

	// CreateStaff takes the group, and stores the default as "".
	in := &storage.Staff{Username: "grouped", Role: storage.RoleSponsor, Group: storage.DefaultSponsorGroup}
	if err := s.CreateStaff(ctx, in); err != nil {
		t.Fatalf("CreateStaff with a group: %v", err)
	}
	if got, err := s.GetStaff(ctx, in.ID); err != nil || got.Group != "" || in.Group != "" {
		t.Fatalf("CreateStaff(default group) stored %q (returned %q), %v; want \"\"", got.Group, in.Group, err)
	}
}

// testStaffLoginThrottle: failures count atomically, a lock only moves
// later, a good sign-in forgets both, and sessions end only forward.
func testStaffLoginThrottle(t *testing.T, b Backend) {
	bb := setup(t, b)
	s, ctx := bb.store, t.Context()
	sp, other := bb.sponsor(t, "sally"), bb.sponsor(t, "sam")
	now := bb.clock.now()

	const n = 8
	errs := make(chan error, n)
	counts := make(chan int, n)
	for range n {
		go func() {
			c, err := s.RecordStaffLoginFailure(ctx, sp.ID, now)
			counts <- c
			errs <- err
		}()
	}
	seen := map[int]bool{}
	for range n {
		if err := <-errs; err != nil {
			t.Fatalf("RecordStaffLoginFailure: %v", err)
		}
		seen[<-counts] = true
	}
	for i := 1; i <= n; i++ {
		if !seen[i] {
			t.Fatalf("concurrent RecordStaffLoginFailure returned counts %v; want each of 1..%d once", seen, n)
		}
	}
	lock := now.Add(4 * time.Minute)
	if err := s.SetStaffLockedUntil(ctx, sp.ID, lock); err != nil {
		t.Fatalf("SetStaffLockedUntil: %v", err)
	}
	if err := s.SetStaffLockedUntil(ctx, sp.ID, now.Add(time.Minute)); err != nil {
		t.Fatalf("SetStaffLockedUntil (earlier): %v", err)
	}
	got, err := s.GetStaff(ctx, sp.ID)
	if err != nil || got.FailedLogins != n || !got.LockedUntil.Equal(lock) || !got.LastLoginAt.IsZero() {
		t.Fatalf("after %d failures and locks: failures %d, locked until %v, last login %v, %v; want %d, %v, never",
			n, got.FailedLogins, got.LockedUntil, got.LastLoginAt, err, n, lock)
	}
	if o, err := s.GetStaff(ctx, other.ID); err != nil || o.FailedLogins != 0 || !o.LockedUntil.IsZero() {
		t.Fatalf("another user's state changed: %+v, %v", o, err)
	}

	bb.clock.Advance(5 * time.Minute)
	login := bb.clock.now()
	if err := s.RecordStaffLogin(ctx, sp.ID, login); err != nil {
		t.Fatalf("RecordStaffLogin: %v", err)
	}
	got, err = s.GetStaff(ctx, sp.ID)
	if err != nil || got.FailedLogins != 0 || !got.LockedUntil.IsZero() || !got.LastLoginAt.Equal(login) {
		t.Fatalf("after RecordStaffLogin: failures %d, locked until %v, last login %v, %v; want 0, none, %v",
			got.FailedLogins, got.LockedUntil, got.LastLoginAt, err, login)
	}

	end := login.Add(time.Second)
	if err := s.EndStaffSessions(ctx, sp.ID, end); err != nil {
		t.Fatalf("EndStaffSessions: %v", err)
	}
	if err := s.EndStaffSessions(ctx, sp.ID, login); err != nil {
		t.Fatalf("EndStaffSessions (earlier): %v", err)
	}
	if got, err := s.GetStaff(ctx, sp.ID); err != nil || !got.SessionsValidAfter.Equal(end) || !got.SessionCutoff().Equal(end) {
		t.Fatalf("SessionsValidAfter = %v, %v; want %v (it only moves forward)", got.SessionsValidAfter, err, end)
	}

	missing := uuid.New()
	if _, err := s.RecordStaffLoginFailure(ctx, missing, now); !errors.Is(err, storage.ErrNotFound) {
		t.Errorf("RecordStaffLoginFailure of a missing user: %v, want ErrNotFound", err)
	}
	for name, err := range map[string]error{
		"SetStaffLockedUntil": s.SetStaffLockedUntil(ctx, missing, now),
		"RecordStaffLogin":    s.RecordStaffLogin(ctx, missing, now),
		"EndStaffSessions":    s.EndStaffSessions(ctx, missing, now),
	} {
		if !errors.Is(err, storage.ErrNotFound) {
			t.Errorf("%s of a missing user: %v, want ErrNotFound", name, err)
		}
	}
}

// testAuditFor: ListAuditFor lists one subject's entries newest first and
// pages by ID.
func testAuditFor(t *testing.T, b Backend) {
	bb := setup(t, b)
	s, ctx := bb.store, t.Context()
	var mine []int64
	for i := range 7 {
		subject := "guest-a"
		if i%2 == 1 {
			subject = "guest-b"
		}
		if err := s.Audit(ctx, storage.AuditEntry{Actor: "staff:sally", Action: "guest.note", Subject: subject}); err != nil {
			t.Fatalf("Audit: %v", err)
		}
		bb.clock.Advance(time.Second)
	}
	all, err := s.ListAudit(ctx, 0, 0)
	if err != nil {
		t.Fatalf("ListAudit: %v", err)
	}
	for _, e := range all {
		if e.Subject == "guest-a" {
			mine = append(mine, e.ID) // newest first already
		}
	}
	if len(mine) != 4 {
		t.Fatalf("guest-a has %d entries, want 4", len(mine))
	}
	ids := func(es []storage.AuditEntry) []int64 {
		out := []int64{}
		for _, e := range es {
			if e.Subject != "guest-a" {
				t.Errorf("ListAuditFor(guest-a) returned an entry about %q", e.Subject)
			}
			out = append(out, e.ID)
		}
		return out
	}
	got, err := s.ListAuditFor(ctx, "guest-a", 0, 0)
	if err != nil || !slices.Equal(ids(got), mine) {
		t.Fatalf("ListAuditFor(guest-a) = %v, %v; want %v", ids(got), err, mine)
	}
	if !got[0].At.After(got[1].At) {
		t.Fatalf("ListAuditFor: not newest first: %v then %v", got[0].At, got[1].At)
	}
	page, err := s.ListAuditFor(ctx, "guest-a", 0, 3)
	if err != nil || !slices.Equal(ids(page), mine[:3]) {
		t.Fatalf("ListAuditFor(limit 3) = %v, %v; want %v", ids(page), err, mine[:3])
	}
	page, err = s.ListAuditFor(ctx, "guest-a", page[2].ID, 3)
	if err != nil || !slices.Equal(ids(page), mine[3:]) {
		t.Fatalf("ListAuditFor(before %d) = %v, %v; want %v", mine[2], ids(page), err, mine[3:])
	}
	if none, err := s.ListAuditFor(ctx, "nobody", 0, 0); err != nil || len(none) != 0 {
		t.Fatalf("ListAuditFor(nobody) = %v, %v; want none", none, err)
	}
}

// CheckStaffAfterUpgrade checks, on a store just migrated from a schema
// before 008_sponsor_groups with staff in it, that the staff read as in
// the default group with no sign-in history, that the default group is
// there with every permission, and that the audit log lists by subject.
func CheckStaffAfterUpgrade(t *testing.T, s storage.Store) {
	t.Helper()
	ctx := t.Context()
	list, err := s.ListStaff(ctx)
	if err != nil || len(list) == 0 {
		t.Fatalf("ListStaff after the upgrade = %d users, %v; want the old ones", len(list), err)
	}
	for _, st := range list {
		if st.Group != "" || st.FailedLogins != 0 || !st.LockedUntil.IsZero() || !st.LastLoginAt.IsZero() || !st.SessionsValidAfter.IsZero() {
			t.Errorf("staff %q after the upgrade: group %q, %d failures, locked until %v, last login %v, sessions after %v; want none of them",
				st.Username, st.Group, st.FailedLogins, st.LockedUntil, st.LastLoginAt, st.SessionsValidAfter)
		}
	}
	def, err := s.GetSponsorGroup(ctx, storage.DefaultSponsorGroup)
	if err != nil || !slices.Equal(def.Permissions, storage.AllPermissions) || def.ManageAll || def.UpdatedAt.IsZero() {
		t.Fatalf("the default group after the upgrade = %+v, %v; want every permission, not ManageAll, stamped", def, err)
	}
	if err := s.Audit(ctx, storage.AuditEntry{Actor: "system", Action: "upgrade.check", Subject: "after-upgrade"}); err != nil {
		t.Fatal(err)
	}
	if got, err := s.ListAuditFor(ctx, "after-upgrade", 0, 10); err != nil || len(got) != 1 {
		t.Fatalf("ListAuditFor after the upgrade = %v, %v; want the one entry", got, err)
	}
}

// testAuditWhere: ListAuditWhere filters by actor and by action prefix
// (literally: "_" and "%" are no wildcards), newest first, and pages by ID.
func testAuditWhere(t *testing.T, b Backend) {
	bb := setup(t, b)
	s, ctx := bb.store, t.Context()
	for _, e := range []storage.AuditEntry{
		{Actor: "staff:ada", Action: "staff.create", Subject: "1"},
		{Actor: "staff:bob", Action: "staff.delete", Subject: "2"},
		{Actor: "staff:ada", Action: "alarm.ack", Subject: "3"},
		{Actor: "staff:ada", Action: "staffXcreate", Subject: "4"},
		{Actor: "staff:adam", Action: "STAFF.disable", Subject: "5"},
		{Actor: "staff:ada", Action: "staff.reset_password", Subject: "6"},
	} {
		if err := s.Audit(ctx, e); err != nil {
			t.Fatalf("Audit: %v", err)
		}
		bb.clock.Advance(time.Second)
	}
	subjects := func(es []storage.AuditEntry) string {
		var b strings.Builder
		for _, e := range es {
			b.WriteString(e.Subject)
		}
		return b.String()
	}
	for _, tc := range []struct {
		f    storage.AuditFilter
		want string
	}{
		{storage.AuditFilter{}, "654321"},
		{storage.AuditFilter{Actor: "staff:ada"}, "6431"},
		{storage.AuditFilter{ActionPrefix: "staff."}, "6521"},
		{storage.AuditFilter{ActionPrefix: "staff_"}, ""},
		{storage.AuditFilter{ActionPrefix: "staff%"}, ""},
		{storage.AuditFilter{Actor: "staff:ada", ActionPrefix: "staff."}, "61"},
		{storage.AuditFilter{Actor: "staff:nobody"}, ""},
		{storage.AuditFilter{ActionPrefix: "staff.", Limit: 2}, "65"},
	} {
		got, err := s.ListAuditWhere(ctx, tc.f)
		if err != nil || subjects(got) != tc.want {
			t.Errorf("ListAuditWhere(%+v) = %q, %v; want %q", tc.f, subjects(got), err, tc.want)
		}
	}
	first, err := s.ListAuditWhere(ctx, storage.AuditFilter{ActionPrefix: "staff.", Limit: 2})
	if err != nil || len(first) != 2 {
		t.Fatalf("first page: %v, %v", first, err)
	}
	next, err := s.ListAuditWhere(ctx, storage.AuditFilter{ActionPrefix: "staff.", Limit: 2, Before: first[1].ID})
	if err != nil || subjects(next) != "21" {
		t.Errorf("second page = %q, %v; want \"21\"", subjects(next), err)
	}
}

// testDeleteStaff: DeleteStaff removes one staff user, frees the username,
// and a missing one is ErrNotFound.
func testDeleteStaff(t *testing.T, b Backend) {
	bb := setup(t, b)
	s, ctx := bb.store, t.Context()
	mk := func(name string) *storage.Staff {
		st := &storage.Staff{Username: name, Email: name + "@corp.example", Role: storage.RoleSponsor, PasswordHash: "$2a$04$x"}
		if err := s.CreateStaff(ctx, st); err != nil {
			t.Fatalf("CreateStaff(%s): %v", name, err)
		}
		return st
	}
	gone, kept := mk("gone"), mk("kept")
	if err := s.DeleteStaff(ctx, gone.ID); err != nil {
		t.Fatalf("DeleteStaff: %v", err)
	}
	if _, err := s.GetStaff(ctx, gone.ID); !errors.Is(err, storage.ErrNotFound) {
		t.Errorf("GetStaff after delete: %v, want ErrNotFound", err)
	}
	if _, err := s.GetStaff(ctx, kept.ID); err != nil {
		t.Errorf("the other user: %v", err)
	}
	if err := s.DeleteStaff(ctx, gone.ID); !errors.Is(err, storage.ErrNotFound) {
		t.Errorf("DeleteStaff again: %v, want ErrNotFound", err)
	}
	mk("GONE") // the username is free again
}
