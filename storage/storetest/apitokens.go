package storetest

import (
	"bytes"
	"errors"
	"testing"
	"time"

	"github.com/google/uuid"

	"github.com/lobbyhq/lobby/storage"
)

// testAPITokens: a token is found by its hash with its staff user (and
// their disabled flag as it is now), listed per user and for all without
// its hash, touched only forward, deleted once, and goes with its user.
func testAPITokens(t *testing.T, b Backend) {
	bb := setup(t, b)
	s, ctx := bb.store, t.Context()
	ann, bob := bb.sponsor(t, "ann"), bb.sponsor(t, "bob")
	mk := func(st *storage.Staff, token string, expires time.Time) *storage.APIToken {
		t.Helper()
		tok := &storage.APIToken{StaffID: st.ID, Name: "script " + token, Hash: storage.HashAPIToken(token), Hint: token[:4], ExpiresAt: expires}
		if err := s.CreateAPIToken(ctx, tok); err != nil {
			t.Fatalf("CreateAPIToken(%s): %v", token, err)
		}
		if tok.ID == uuid.Nil || !tok.CreatedAt.Equal(bb.clock.now()) {
			t.Errorf("created token: id %v, created %v; want an id and %v", tok.ID, tok.CreatedAt, bb.clock.now())
		}
		bb.clock.Advance(time.Second)
		return tok
	}
	exp := bb.clock.now().Add(time.Hour)
	a1 := mk(ann, "lobby_ann1", time.Time{})
	a2 := mk(ann, "lobby_ann2", exp)
	b1 := mk(bob, "lobby_bob1", time.Time{})

	got, st, err := s.LookupAPIToken(ctx, storage.HashAPIToken("lobby_ann2"))
	if err != nil {
		t.Fatalf("LookupAPIToken: %v", err)
	}
	if got.ID != a2.ID || got.StaffID != ann.ID || got.Name != "script lobby_ann2" || got.Hint != "lobb" ||
		!got.ExpiresAt.Equal(exp) || !got.LastUsedAt.IsZero() || !bytes.Equal(got.Hash, a2.Hash) {
		t.Errorf("looked up %+v; want %+v", got, a2)
	}
	if st.ID != ann.ID || st.Username != "ann" || st.Disabled {
		t.Errorf("staff of the token: %+v; want ann, enabled", st)
	}
	if got.Expired(exp.Add(-time.Microsecond)) || !got.Expired(exp) {
		t.Error("Expired: want false before ExpiresAt and true at it")
	}
	if _, _, err := s.LookupAPIToken(ctx, storage.HashAPIToken("lobby_nobody")); !errors.Is(err, storage.ErrNotFound) {
		t.Errorf("LookupAPIToken(unknown) = %v; want ErrNotFound", err)
	}
	if err := s.SetStaffDisabled(ctx, ann.ID, true); err != nil {
		t.Fatal(err)
	}
	if _, st, err := s.LookupAPIToken(ctx, a1.Hash); err != nil || !st.Disabled {
		t.Errorf("after disabling ann: staff %+v, %v; want disabled", st, err)
	}

	dup := &storage.APIToken{StaffID: bob.ID, Hash: storage.HashAPIToken("lobby_ann1")}
	if err := s.CreateAPIToken(ctx, dup); !errors.Is(err, storage.ErrConflict) {
		t.Errorf("CreateAPIToken(same hash) = %v; want ErrConflict", err)
	}
	if err := s.CreateAPIToken(ctx, &storage.APIToken{StaffID: uuid.New(), Hash: storage.HashAPIToken("x")}); !errors.Is(err, storage.ErrNotFound) {
		t.Errorf("CreateAPIToken(no such staff) = %v; want ErrNotFound", err)
	}

	ids := func(ts []storage.APIToken) []uuid.UUID {
		var out []uuid.UUID
		for _, tk := range ts {
			if tk.Hash != nil {
				t.Errorf("listed token %v carries its hash", tk.ID)
			}
			out = append(out, tk.ID)
		}
		return out
	}
	list, err := s.ListAPITokens(ctx, ann.ID)
	if err != nil || !equalIDs(ids(list), []uuid.UUID{a2.ID, a1.ID}) {
		t.Errorf("ListAPITokens(ann) = %v, %v; want a2, a1", ids(list), err)
	}
	list, err = s.ListAPITokens(ctx, uuid.Nil)
	if err != nil || !equalIDs(ids(list), []uuid.UUID{b1.ID, a2.ID, a1.ID}) {
		t.Errorf("ListAPITokens(all) = %v, %v; want b1, a2, a1", ids(list), err)
	}

	used := bb.clock.now()
	if err := s.TouchAPIToken(ctx, a1.ID, used); err != nil {
		t.Fatalf("TouchAPIToken: %v", err)
	}
	if err := s.TouchAPIToken(ctx, a1.ID, used.Add(-time.Minute)); err != nil {
		t.Fatalf("TouchAPIToken(earlier): %v", err)
	}
	if got, _, _ := s.LookupAPIToken(ctx, a1.Hash); got == nil || !got.LastUsedAt.Equal(used) {
		t.Errorf("LastUsedAt = %v; want %v (never moved back)", got, used)
	}
	if err := s.TouchAPIToken(ctx, uuid.New(), used); err != nil {
		t.Errorf("TouchAPIToken(missing) = %v; want nil", err)
	}

	if err := s.DeleteAPIToken(ctx, a1.ID); err != nil {
		t.Fatalf("DeleteAPIToken: %v", err)
	}
	if _, _, err := s.LookupAPIToken(ctx, a1.Hash); !errors.Is(err, storage.ErrNotFound) {
		t.Errorf("LookupAPIToken(revoked) = %v; want ErrNotFound", err)
	}
	if err := s.DeleteAPIToken(ctx, a1.ID); !errors.Is(err, storage.ErrNotFound) {
		t.Errorf("DeleteAPIToken again = %v; want ErrNotFound", err)
	}
	if err := s.DeleteStaff(ctx, bob.ID); err != nil {
		t.Fatal(err)
	}
	if _, _, err := s.LookupAPIToken(ctx, b1.Hash); !errors.Is(err, storage.ErrNotFound) {
		t.Errorf("token of a deleted staff user: %v; want ErrNotFound", err)
	}
}

func equalIDs(a, b []uuid.UUID) bool {
	if len(a) != len(b) {
		return false
	}
	for i := range a {
		if a[i] != b[i] {
			return false
		}
	}
	return true
}
