package admin

import (
	"errors"
	"net/http"
	"net/url"
	"strings"

	"github.com/google/uuid"

	"github.com/lobbyhq/lobby/internal/webkit"
	"github.com/lobbyhq/lobby/notify"
	"github.com/lobbyhq/lobby/storage"
)

// The mail log: every outbox message with its status, attempts, last
// diagnosis and timings, filtered by status and kind, searched by
// recipient or subject, in keyset pages; a message's page; Retry now on a
// dead letter. No page shows a payload: it may hold credentials.

// mailPageSize is the number of messages a mail log page lists.
const mailPageSize = 50

// mailStatuses are the status filter's choices, in the order of a
// message's life.
var mailStatuses = []storage.MailStatus{storage.MailQueued, storage.MailSending, storage.MailDeferred, storage.MailSent, storage.MailDead}

// tracker is a Mailer that also sends an already enqueued message at once
// (*notify.Dispatcher's Track).
type tracker interface {
	Track(id uuid.UUID) *notify.Future
}

type mailRow struct {
	ID, Status, Kind, Recipient, Subject string
	Attempts                             int
	Diagnosis, LastError                 string
	Created, LastAttempt, Sent, Next     string
	Dead                                 bool
}

type mailLogPage struct {
	Status, Kind, Query string
	StatusField         *webkit.Field
	Statuses            []option
	Messages            []mailRow
	Next                string // the next page's URL; "" on the last page
	First               string // the first page's URL with these filters; "" on the first page
}

func (a *Admin) mailRow(m *storage.OutboxMessage) mailRow {
	row := mailRow{ID: m.ID.String(), Status: string(m.Status), Kind: m.Kind, Recipient: m.Recipient, Subject: m.Subject,
		Attempts: m.Attempts, Diagnosis: m.Diagnosis, LastError: m.LastError, Created: a.formatTime(m.CreatedAt),
		Sent: a.formatTime(m.SentAt), Dead: m.Status == storage.MailDead}
	if m.Attempts > 0 {
		// UpdatedAt is when the last attempt settled (or the lease was taken).
		row.LastAttempt = a.formatTime(m.UpdatedAt)
	}
	if m.Status == storage.MailQueued || m.Status == storage.MailDeferred {
		row.Next = a.formatTime(m.NextAttemptAt)
	}
	return row
}

func (a *Admin) getMailLog(w http.ResponseWriter, r *http.Request, st *storage.Staff) {
	q := r.URL.Query()
	p := mailLogPage{Status: q.Get("status"), Kind: strings.TrimSpace(q.Get("kind")), Query: strings.TrimSpace(q.Get("q"))}
	f := storage.MailFilter{Kind: p.Kind, Query: p.Query, After: q.Get("after"), Limit: mailPageSize}
	p.StatusField = &webkit.Field{Name: "status", Label: "Status"}
	p.Statuses = []option{{Value: "", Label: "Any status", Selected: p.Status == ""}}
	for _, s := range mailStatuses {
		p.Statuses = append(p.Statuses, option{Value: string(s), Label: string(s), Selected: p.Status == string(s)})
		if p.Status == string(s) {
			f.Status = []storage.MailStatus{s}
		}
	}
	if p.Status != "" && f.Status == nil {
		p.Status = "" // an unknown status filters nothing
	}
	if _, err := storage.DecodeCursor(f.After); f.After != "" && err != nil {
		webkit.SeeOther(w, mailURL(p, "")) // a mangled link: the first page
		return
	}
	list, err := a.store.ListMail(r.Context(), f)
	if err != nil {
		a.fail(w, r, st, "list mail", err)
		return
	}
	for _, m := range list {
		p.Messages = append(p.Messages, a.mailRow(m))
	}
	if next := storage.NextMailCursor(f, list); next != "" {
		p.Next = mailURL(p, next)
	}
	if f.After != "" {
		p.First = mailURL(p, "")
	}
	v := a.view(r, "Mail log", st, "mail", nil, p)
	a.page(w, r, http.StatusOK, "mail", v)
}

// mailURL is the mail log's URL with p's filters, after cursor after.
func mailURL(p mailLogPage, after string) string {
	v := url.Values{}
	for k, s := range map[string]string{"status": p.Status, "kind": p.Kind, "q": p.Query, "after": after} {
		if s != "" {
			v.Set(k, s)
		}
	}
	if len(v) == 0 {
		return "mail"
	}
	return "mail?" + v.Encode()
}

type mailPage struct {
	mailRow
	LeaseOwner, LeaseUntil, Updated string
}

func (a *Admin) getMail(w http.ResponseWriter, r *http.Request, st *storage.Staff) {
	id, err := uuid.Parse(r.PathValue("id"))
	if err != nil {
		a.notFound(w, r, st)
		return
	}
	m, err := a.store.GetMail(r.Context(), id)
	if errors.Is(err, storage.ErrNotFound) {
		a.notFound(w, r, st)
		return
	}
	if err != nil {
		a.fail(w, r, st, "get mail", err)
		return
	}
	m.Payload = nil // never shown: it may hold credentials
	p := mailPage{mailRow: a.mailRow(m), Updated: a.formatTime(m.UpdatedAt)}
	if m.Status == storage.MailSending {
		p.LeaseOwner, p.LeaseUntil = m.LeaseOwner, a.formatTime(m.LeaseUntil)
	}
	v := a.view(r, "Message to "+m.Recipient, st, "mail", nil, p)
	v.Notice = a.takeFlash(w, r, st, "mail/"+id.String())
	a.page(w, r, http.StatusOK, "mailmsg", v)
}

func (a *Admin) postMailRetry(w http.ResponseWriter, r *http.Request, st *storage.Staff) {
	id, err := uuid.Parse(r.PathValue("id"))
	if err != nil {
		a.notFound(w, r, st)
		return
	}
	target, back := "mail/"+id.String(), "../"+id.String()
	err = a.store.RetryDeadMail(r.Context(), id)
	switch {
	case errors.Is(err, storage.ErrNotFound):
		a.notFound(w, r, st)
		return
	case errors.Is(err, storage.ErrConflict):
		a.setFlash(w, r, st, target, "This message is not a dead letter (any more), or has nothing left to send: nothing changed.")
	case err != nil:
		a.fail(w, r, st, "retry dead mail", err)
		return
	default:
		a.audit(r, st, "mail.retry", id.String(), "")
		msg := "Queued again: Lobby sends it within a minute."
		if t, ok := a.cfg.Mail.(tracker); ok {
			t.Track(id)
			msg = "Queued again and handed to the sender: reload this page to see the outcome."
		}
		a.setFlash(w, r, st, target, msg)
	}
	webkit.SeeOther(w, back)
}
