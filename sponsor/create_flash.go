package sponsor

import (
	"net/http"
	"time"

	"github.com/lobbyhq/lobby/internal/webkit"
)

// A flash is a one-line notice a page shows after a redirect ("Created …;
// credentials sent to …"). It travels in the redirect's ?flash= as a sealed
// token, so that nobody can make a link that puts words of their own on a
// sponsor's page, and the guest's address in it is not readable from the
// URL (browser history, proxy logs). It lasts flashTTL.
const flashTTL = 2 * time.Minute

func (s *Sponsor) flashBox() *webkit.Box { return webkit.NewBox(s.cfg.SecretKey, "sponsor flash") }

// sealFlash returns the token of notice.
func (s *Sponsor) sealFlash(notice string) string {
	return s.flashBox().Seal(notice, s.now().Add(flashTTL))
}

// flash returns the notice r's ?flash= carries, or "" when it has none, or
// one that does not open or has expired.
func (s *Sponsor) flash(r *http.Request) string {
	tok := r.URL.Query().Get("flash")
	if tok == "" {
		return ""
	}
	notice, err := s.flashBox().Open(tok, s.now())
	if err != nil {
		return ""
	}
	return notice
}
