package admin

import (
	"net/http"

	"github.com/lobbyhq/lobby/storage"
)

type homePage struct {
	Sections []section
	// ActiveAlarms is the number of active alarms; -1 when unknown.
	ActiveAlarms int
}

func (a *Admin) getHome(w http.ResponseWriter, r *http.Request, st *storage.Staff) {
	v := a.view(r, "Administration", st, "home", nil, homePage{Sections: sections, ActiveAlarms: a.activeAlarms(r)})
	v.Notice = a.takeFlash(w, r, st, "home")
	a.page(w, r, http.StatusOK, "home", v)
}
