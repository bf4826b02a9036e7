package admin

import (
	"net/http"

	"github.com/lobbyhq/lobby/storage"
)

func (a *Admin) getHome(w http.ResponseWriter, r *http.Request, st *storage.Staff) {
	v := a.view(r, "Administration", st, "home", nil, sections)
	v.Notice = a.takeFlash(w, r, st, "home")
	a.page(w, r, http.StatusOK, "home", v)
}
