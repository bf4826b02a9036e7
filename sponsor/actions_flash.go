package sponsor

import (
	"net/http"
	"strings"
	"time"

	"github.com/lobbyhq/lobby/storage"
)

// A flash is the message an action leaves for the page it redirects to
// (redirect after POST): a short-lived cookie sealed with the secret key,
// so that nobody can read or forge it, naming the staff user and the page
// it is for, read once.

const (
	flashCookie = "lobby_staff_flash"
	flashTTL    = 2 * time.Minute
	flashList   = "list" // the guests list; a guest's page is named by the guest's ID
)

// setFlash leaves msg for st's next view of target.
func (s *Sponsor) setFlash(w http.ResponseWriter, r *http.Request, st *storage.Staff, target, msg string) {
	if msg == "" {
		return
	}
	tok := s.flashes.Seal(st.ID.String()+"\n"+target+"\n"+msg, s.now().Add(flashTTL))
	http.SetCookie(w, &http.Cookie{Name: flashCookie, Value: tok, Path: s.flashPath, MaxAge: int(flashTTL / time.Second),
		HttpOnly: true, SameSite: http.SameSiteLaxMode, Secure: s.cfg.SecureCookies || r.TLS != nil})
}

// takeFlash returns the message left for st's view of target, and clears
// it; "" when there is none.
func (s *Sponsor) takeFlash(w http.ResponseWriter, r *http.Request, st *storage.Staff, target string) string {
	c, err := r.Cookie(flashCookie)
	if err != nil || c.Value == "" {
		return ""
	}
	payload, err := s.flashes.Open(c.Value, s.now())
	who, rest, _ := strings.Cut(payload, "\n")
	to, msg, _ := strings.Cut(rest, "\n")
	if err == nil && who == st.ID.String() && to != target {
		return "" // for another page: it waits there
	}
	http.SetCookie(w, &http.Cookie{Name: flashCookie, Value: "", Path: s.flashPath, MaxAge: -1,
		HttpOnly: true, SameSite: http.SameSiteLaxMode, Secure: s.cfg.SecureCookies || r.TLS != nil})
	if err != nil || who != st.ID.String() {
		return ""
	}
	return msg
}
