package portal

import (
	"net/http"
	"time"

	"github.com/google/uuid"

	"github.com/lobbyhq/lobby/storage"
)

// SignedIn returns the guest ID and issue time of r's guest session. It
// checks only the signed cookie and reads nothing: a request gate reads the
// guest itself (storage.GuestStore.GetGuestPublic, perhaps cached) and asks
// Admits.
func (p *Portal) SignedIn(r *http.Request) (id uuid.UUID, issuedAt time.Time, ok bool) {
	s, ok := p.sessions.Get(r)
	if !ok {
		return uuid.Nil, time.Time{}, false
	}
	id, err := uuid.Parse(s.Subject)
	if err != nil {
		return uuid.Nil, time.Time{}, false
	}
	return id, s.IssuedAt, true
}

// Admits reports whether a session issued at issuedAt lets guest g in now:
// g may log in (active and within its validity) and the session was issued
// after g's SessionsValidAfter. It is the rule Guest applies.
func (p *Portal) Admits(g *storage.Guest, issuedAt time.Time) bool {
	return issuedAt.After(g.SessionsValidAfter) && g.CanLogIn(p.now())
}
