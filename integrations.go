package lobby

import (
	"cmp"
	"fmt"
	"net/http"
	"net/url"
	"strings"
	"time"

	"github.com/google/uuid"

	"github.com/lobbyhq/lobby/captive"
	"github.com/lobbyhq/lobby/forwardauth"
	"github.com/lobbyhq/lobby/portal"
	"github.com/lobbyhq/lobby/storage"
)

// buildIntegrations builds the network integrations on the gate's check:
// the forward-auth endpoint for reverse proxies and the RFC 8908
// captive-portal API.
func (l *Lobby) buildIntegrations() error {
	base := strings.TrimRight(l.cfg.BaseURL, "/")
	hosts := l.cfg.ForwardAuthHosts
	if len(hosts) == 0 {
		u, err := url.Parse(base)
		if err != nil {
			return fmt.Errorf("forward auth: %w", err)
		}
		hosts = []string{u.Host}
	}
	fa, err := forwardauth.New(forwardauth.Config{
		Guest: func(r *http.Request) (*storage.Guest, bool) {
			g, _, ok := l.gateGuest(r) // only read: shared or not
			return g, ok
		},
		SignIn:   l.loginURL,
		Fallback: base + "/portal/login",
		Hosts:    hosts,
		Logger:   l.logger,
	})
	if err != nil {
		return err
	}
	cp, err := captive.New(captive.Config{
		SignedIn: l.portal.SignedIn,
		Admitted: func(r *http.Request, id uuid.UUID, issued time.Time) (*storage.Guest, bool) {
			g, _, ok := l.gateAdmit(r, id, issued)
			return g, ok
		},
		ClientIP:   l.portal.ClientIP,
		PortalURL:  base + "/portal/",
		VenueURL:   l.cfg.CaptiveVenueURL,
		SessionTTL: cmp.Or(l.cfg.Portal.SessionTTL, portal.DefaultSessionTTL),
		Now:        l.cfg.Now,
	})
	if err != nil {
		return err
	}
	l.forwardAuth, l.captive = fa, cp
	return nil
}

// signedIn is told of every guest sign-in by the portal, for the
// captive-portal API to remember the client's address.
func (l *Lobby) signedIn(r *http.Request, id uuid.UUID, issued time.Time) {
	if l.captive != nil {
		l.captive.SignedIn(r, id, issued)
	}
}
