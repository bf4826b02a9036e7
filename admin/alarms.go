package admin

import (
	"errors"
	"net/http"
	"strconv"

	"github.com/lobbyhq/lobby/internal/webkit"
	"github.com/lobbyhq/lobby/storage"
)

// The alarms page: what needs an administrator (the client secret
// expiring, email failing, dead letters), active or cleared, and the
// Acknowledge button, which records who saw an active alarm (it stays
// active until its cause is gone).

type alarmRow struct {
	Key, Severity, Title, Detail, Level string
	Count                               int
	FirstSeen, LastSeen, Cleared        string
	Active                              bool
	AckBy, AckAt                        string
}

type alarmsPage struct {
	Cleared bool // showing the cleared alarms
	Alarms  []alarmRow
}

func (a *Admin) getAlarms(w http.ResponseWriter, r *http.Request, st *storage.Staff) {
	cleared := r.URL.Query().Get("show") == "cleared"
	list, err := a.store.ListAlarms(r.Context(), cleared)
	if err != nil {
		a.fail(w, r, st, "list alarms", err)
		return
	}
	p := alarmsPage{Cleared: cleared, Alarms: []alarmRow{}}
	for _, al := range list {
		if al.Active() == cleared {
			continue // the active ones, or the cleared ones
		}
		p.Alarms = append(p.Alarms, alarmRow{Key: al.Key, Severity: string(al.Severity), Title: al.Title, Detail: al.Detail,
			Level: al.Level, Count: al.Count, FirstSeen: a.formatTime(al.RaisedAt), LastSeen: a.formatTime(al.LastSeen),
			Cleared: a.formatTime(al.ClearedAt), Active: al.Active(), AckBy: al.AcknowledgedBy, AckAt: a.formatTime(al.AcknowledgedAt)})
	}
	v := a.view(r, "Alarms", st, "alarms", nil, p)
	v.Notice = a.takeFlash(w, r, st, "alarms")
	a.page(w, r, http.StatusOK, "alarms", v)
}

func (a *Admin) postAlarmAck(w http.ResponseWriter, r *http.Request, st *storage.Staff) {
	key := r.PostForm.Get("key")
	err := a.store.AckAlarm(r.Context(), key, st.Username, a.now())
	switch {
	case errors.Is(err, storage.ErrNotFound):
		a.setFlash(w, r, st, "alarms", "That alarm is not active any more: nothing to acknowledge.")
	case err != nil:
		a.fail(w, r, st, "acknowledge alarm", err)
		return
	default:
		a.audit(r, st, "alarm.ack", key, "")
		a.setFlash(w, r, st, "alarms", "Acknowledged. The alarm stays listed until its cause is gone; a new level of it is shown again.")
	}
	webkit.SeeOther(w, "../alarms")
}

// activeAlarms counts the active alarms, for the home page; -1 when the
// store cannot say.
func (a *Admin) activeAlarms(r *http.Request) int {
	list, err := a.store.ListAlarms(r.Context(), false)
	if err != nil {
		a.log.WarnContext(r.Context(), "admin: count alarms", "error", err.Error())
		return -1
	}
	return len(list)
}

// itoa is strconv.Itoa for the pages' sentences.
func itoa(n int) string { return strconv.Itoa(n) }
