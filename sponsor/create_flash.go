package sponsor

import (
	"net/http"

	"github.com/lobbyhq/lobby/storage"
)

// createdRedirect leaves notice ("Created …; credentials sent to …") for
// st's view of the new guest g's page, as the actions leave theirs (a
// sealed cookie per staff user and page, out of the URL), and returns that
// page's relative URL.
func (s *Sponsor) createdRedirect(w http.ResponseWriter, r *http.Request, st *storage.Staff, g *storage.Guest, notice string) string {
	s.setFlash(w, r, st, g.ID.String(), notice)
	return "guests/" + g.ID.String()
}
