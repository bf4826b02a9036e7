package admin

import (
	"net/http"
	"net/url"
	"strconv"
	"strings"

	"github.com/lobbyhq/lobby/storage"
)

// The audit log: who did what and when, newest first, filtered by actor
// and action prefix, in pages by entry ID.

const auditPageSize = 50

type auditRow struct {
	At, Actor, Action, Subject, Detail string
}

type auditPage struct {
	Actor, Action string
	Entries       []auditRow
	Next, First   string
}

func (a *Admin) getAudit(w http.ResponseWriter, r *http.Request, st *storage.Staff) {
	q := r.URL.Query()
	p := auditPage{Actor: strings.TrimSpace(q.Get("actor")), Action: strings.TrimSpace(q.Get("action"))}
	before, _ := strconv.ParseInt(q.Get("before"), 10, 64)
	list, err := a.store.ListAuditWhere(r.Context(), storage.AuditFilter{Actor: p.Actor, ActionPrefix: p.Action, Before: before, Limit: auditPageSize})
	if err != nil {
		a.fail(w, r, st, "list audit", err)
		return
	}
	for _, e := range list {
		p.Entries = append(p.Entries, auditRow{At: a.formatTime(e.At), Actor: e.Actor, Action: e.Action, Subject: e.Subject, Detail: e.Detail})
	}
	link := func(before int64) string {
		v := url.Values{}
		if p.Actor != "" {
			v.Set("actor", p.Actor)
		}
		if p.Action != "" {
			v.Set("action", p.Action)
		}
		if before > 0 {
			v.Set("before", strconv.FormatInt(before, 10))
		}
		if len(v) == 0 {
			return "audit"
		}
		return "audit?" + v.Encode()
	}
	if len(list) == auditPageSize {
		p.Next = link(list[len(list)-1].ID)
	}
	if before > 0 {
		p.First = link(0)
	}
	a.page(w, r, http.StatusOK, "audit", a.view(r, "Audit log", st, "audit", nil, p))
}
