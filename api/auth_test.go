package api

import (
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/lobbyhq/lobby/guest"
	"github.com/lobbyhq/lobby/storage"
)

// TestTokens: a request needs a working token: none, a malformed one, an
// unknown, revoked or expired one, or one whose staff user is disabled is
// 401 with a problem and WWW-Authenticate, at once; a working one acts as
// its staff user and its last use is recorded.
func TestTokens(t *testing.T) {
	t.Parallel()
	eachBackend(t, options{}, func(t *testing.T, b *bundle) {
		ann := b.staff(t, "ann", storage.RoleSponsor, "")
		tok, rec := b.token(t, ann, time.Time{})
		short, _ := b.token(t, ann, b.clock.Now().Add(time.Hour))
		revoked, revRec := b.token(t, ann, time.Time{})
		if err := guest.RevokeAPIToken(t.Context(), b.store, guest.Actor{Staff: ann}, revRec.ID); err != nil {
			t.Fatal(err)
		}
		if !strings.HasPrefix(tok, guest.APITokenPrefix) || len(tok) != len(guest.APITokenPrefix)+43 {
			t.Errorf("token %q…: want %q and 43 characters (256 bits)", tok[:8], guest.APITokenPrefix)
		}

		unauthorized := func(name, token string) Problem {
			t.Helper()
			r := b.call(t, token, "GET", "/me", nil)
			if r.status != http.StatusUnauthorized {
				t.Fatalf("%s: status %d, want 401: %s", name, r.status, r.body)
			}
			r.problem(t)
			if !strings.HasPrefix(r.header.Get("WWW-Authenticate"), "Bearer") {
				t.Errorf("%s: WWW-Authenticate = %q", name, r.header.Get("WWW-Authenticate"))
			}
			if strings.Contains(string(r.body), token) && token != "" {
				t.Errorf("%s: the answer repeats the token", name)
			}
			return r.problem(t)
		}
		unauthorized("no token", "")
		unauthorized("not a Lobby token", "abc")
		unauthorized("unknown token", guest.APITokenPrefix+strings.Repeat("A", 43))
		unauthorized("revoked token", revoked)

		var me Me
		r := b.call(t, tok, "GET", "/me", nil)
		if r.status != http.StatusOK {
			t.Fatalf("GET /me: %d %s", r.status, r.body)
		}
		r.decode(t, &me)
		if me.Username != "ann" || me.Role != "sponsor" || me.Group != storage.DefaultSponsorGroup || len(me.Permissions) != len(storage.AllPermissions) {
			t.Errorf("me = %+v", me)
		}
		got, _, err := b.store.LookupAPIToken(t.Context(), rec.Hash)
		if err != nil || !got.LastUsedAt.Equal(b.clock.Now()) {
			t.Errorf("last used = %v, %v; want %v", got, err, b.clock.Now())
		}

		if r := b.call(t, short, "GET", "/me", nil); r.status != http.StatusOK {
			t.Fatalf("token before its expiry: %d", r.status)
		}
		b.clock.Advance(time.Hour)
		if p := unauthorized("expired token", short); !strings.Contains(p.Detail, "expired on") {
			t.Errorf("expired: detail %q", p.Detail)
		}

		if err := b.store.SetStaffDisabled(t.Context(), ann.ID, true); err != nil {
			t.Fatal(err)
		}
		if p := unauthorized("token of a disabled staff user", tok); !strings.Contains(p.Detail, "ask an admin to enable it") {
			t.Errorf("disabled: detail %q", p.Detail)
		}
		if err := b.store.SetStaffDisabled(t.Context(), ann.ID, false); err != nil {
			t.Fatal(err)
		}
		if r := b.call(t, tok, "GET", "/me", nil); r.status != http.StatusOK {
			t.Errorf("token after enabling the staff user again: %d", r.status)
		}
	})
}

// TestRateLimit: each token has its own bucket; past it, 429 with
// Retry-After and nothing done.
func TestRateLimit(t *testing.T) {
	t.Parallel()
	eachBackend(t, options{limit: Limit{Burst: 2, Every: time.Minute}}, func(t *testing.T, b *bundle) {
		ann := b.staff(t, "ann", storage.RoleSponsor, "")
		tok, _ := b.token(t, ann, time.Time{})
		other, _ := b.token(t, ann, time.Time{})
		g := b.guest(t, "Gail", ann, storage.GuestActive)
		for i := range 2 {
			if r := b.call(t, tok, "GET", "/me", nil); r.status != http.StatusOK {
				t.Fatalf("request %d: %d", i+1, r.status)
			}
		}
		r := b.call(t, tok, "POST", "/guests/"+g.ID.String()+"/suspend", map[string]string{"reason": "left"})
		if r.status != http.StatusTooManyRequests {
			t.Fatalf("third request: %d, want 429", r.status)
		}
		r.problem(t)
		if ra := r.header.Get("Retry-After"); ra == "" || ra == "0" {
			t.Errorf("Retry-After = %q", ra)
		}
		if got, _ := b.store.GetGuest(t.Context(), g.ID); got.Status != storage.GuestActive {
			t.Errorf("a limited request suspended the guest")
		}
		if r := b.call(t, other, "GET", "/me", nil); r.status != http.StatusOK {
			t.Errorf("another token: %d, want 200 (a bucket per token)", r.status)
		}
		b.clock.Advance(time.Minute)
		if r := b.call(t, tok, "GET", "/me", nil); r.status != http.StatusOK {
			t.Errorf("after waiting: %d", r.status)
		}
	})
}

// TestNoActorMeansNothing: a handler reached without the token check acts
// as nobody who may do anything, not as the system.
func TestNoActorMeansNothing(t *testing.T) {
	t.Parallel()
	r, _ := http.NewRequest("GET", "/", nil)
	a := actorOf(r)
	if a.Staff == nil || !a.Staff.Disabled || guest.SeesAll(a) {
		t.Fatalf("actor without a token = %+v; want a disabled staff user", a)
	}
	if err := (&guest.Service{}).Allowed(a, storage.PermCreate, nil); err == nil {
		t.Error("the actor without a token may create guests")
	}
}
