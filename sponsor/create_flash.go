package sponsor

import (
	"net/http"
	"net/url"
	"time"

	"github.com/lobbyhq/lobby/internal/webkit"
	"github.com/lobbyhq/lobby/storage"
)

// The create page's notice ("Created …; credentials sent to …") shows on
// the new guest's page after the redirect. It travels in the redirect's
// ?flash= as a sealed token, so that nobody can make a link that puts
// words of their own on a sponsor's page, and the guest's address in it is
// not readable from the URL (browser history, proxy logs). It lasts
// createdFlashTTL.
//
// (When the sponsor actions' flash, a sealed cookie per staff user and
// page, is in the same tree, createdRedirect is to leave the notice there
// instead, and this file and the guest page's call of flash go.)
const createdFlashTTL = 2 * time.Minute

func (s *Sponsor) createdFlashBox() *webkit.Box {
	return webkit.NewBox(s.cfg.SecretKey, "sponsor created flash")
}

// createdRedirect leaves notice for st's view of the new guest g's page
// and returns that page's relative URL.
func (s *Sponsor) createdRedirect(_ http.ResponseWriter, _ *http.Request, _ *storage.Staff, g *storage.Guest, notice string) string {
	tok := s.createdFlashBox().Seal(notice, s.now().Add(createdFlashTTL))
	return "guests/" + g.ID.String() + "?flash=" + url.QueryEscape(tok)
}

// flash returns the notice r's ?flash= carries, or "" when it has none, or
// one that does not open or has expired.
func (s *Sponsor) flash(r *http.Request) string {
	tok := r.URL.Query().Get("flash")
	if tok == "" {
		return ""
	}
	notice, err := s.createdFlashBox().Open(tok, s.now())
	if err != nil {
		return ""
	}
	return notice
}
