package admin

import (
	"net/http"
	"strings"
	"time"

	"github.com/lobbyhq/lobby/storage"
)

// A flash is the message an action leaves for the page it redirects to
// (redirect after POST): a short-lived cookie sealed with the secret key,
// naming the admin and the page it is for, read once (as the sponsor
// side's).

const (
	flashCookie = "lobby_admin_flash"
	flashTTL    = 2 * time.Minute
)

// setFlash leaves msg for st's next view of page target (a section key).
func (a *Admin) setFlash(w http.ResponseWriter, r *http.Request, st *storage.Staff, target, msg string) {
	if msg == "" {
		return
	}
	tok := a.flashes.Seal(st.ID.String()+"\n"+target+"\n"+msg, a.now().Add(flashTTL))
	http.SetCookie(w, &http.Cookie{Name: flashCookie, Value: tok, Path: a.basePath, MaxAge: int(flashTTL / time.Second),
		HttpOnly: true, SameSite: http.SameSiteLaxMode, Secure: a.cfg.SecureCookies || r.TLS != nil})
}

// takeFlash returns the message left for st's view of target, and clears
// it; "" when there is none.
func (a *Admin) takeFlash(w http.ResponseWriter, r *http.Request, st *storage.Staff, target string) string {
	c, err := r.Cookie(flashCookie)
	if err != nil || c.Value == "" {
		return ""
	}
	payload, err := a.flashes.Open(c.Value, a.now())
	who, rest, _ := strings.Cut(payload, "\n")
	to, msg, _ := strings.Cut(rest, "\n")
	if err == nil && who == st.ID.String() && to != target {
		return "" // for another page: it waits there
	}
	http.SetCookie(w, &http.Cookie{Name: flashCookie, Value: "", Path: a.basePath, MaxAge: -1,
		HttpOnly: true, SameSite: http.SameSiteLaxMode, Secure: a.cfg.SecureCookies || r.TLS != nil})
	if err != nil || who != st.ID.String() {
		return ""
	}
	return msg
}
