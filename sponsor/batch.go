package sponsor

import (
	"bytes"
	"encoding/csv"
	"errors"
	"fmt"
	"net/http"
	"strconv"
	"strings"
	"time"

	"github.com/google/uuid"

	"github.com/lobbyhq/lobby/guest"
	"github.com/lobbyhq/lobby/internal/webkit"
	"github.com/lobbyhq/lobby/storage"
)

// A batch's passwords are readable only by the sponsor who made it, and
// only for a short time:
//
//   - The printable sheet is the answer to the POST that creates the batch
//     (Cache-Control: no-store): there is no URL to open it again.
//   - Its CSV download is a form on the sheet that posts (with the CSRF
//     token) a sealed token (webkit.Box, batchCSVTTL) naming the sponsor and
//     the batch's guest IDs, 16 bytes each: at most 500 accounts make about
//     11 KB, too long for a link that proxies and logs keep, fine in a form
//     body (and a form keeps it out of history and Referer). So no batch
//     column is needed. The download opens only for the same signed-in
//     staff user (403 for anyone else, 410 once expired) and reads the
//     passwords again from the store (GetGuest opens them), so a guest
//     deleted or given a new password since shows as they are now.
const batchCSVTTL = 15 * time.Minute

func (s *Sponsor) batchBox() *webkit.Box { return webkit.NewBox(s.cfg.SecretKey, "sponsor batch csv") }

func (s *Sponsor) batchForm() *webkit.Form {
	return webkit.NewForm(
		&webkit.Field{Name: "count", Label: "Number of accounts", Type: "number", Required: true, MaxLen: 3,
			Hint: fmt.Sprintf("From 1 to %d.", guest.MaxBatch)},
		&webkit.Field{Name: "prefix", Label: "Username prefix", Type: "text", MaxLen: 20,
			Hint: "Usernames are the prefix, a hyphen and six random characters, such as conf-a3k9mz. Lower-case letters, digits and hyphens; leave empty for “" + guest.DefaultBatchPrefix + "”."},
		&webkit.Field{Name: "guest_type", Label: "Guest type", Type: "select", Required: true},
		&webkit.Field{Name: "valid_from", Label: "Access from", Type: "datetime-local", Hint: s.startHint()},
		&webkit.Field{Name: "validity", Label: "Access for", Type: "text", MaxLen: 20, Hint: validityHint},
	)
}

func (s *Sponsor) getBatch(w http.ResponseWriter, r *http.Request, st *storage.Staff) {
	a, ok := s.allowed(w, r, st, storage.PermBatch)
	if !ok {
		return
	}
	form := s.batchForm()
	form.Field("count").Value = "10"
	s.renderBatch(w, r, st, a, http.StatusOK, form)
}

func (s *Sponsor) renderBatch(w http.ResponseWriter, r *http.Request, st *storage.Staff, a guest.Actor, status int, form *webkit.Form) {
	types, err := s.usableTypes(r.Context(), a, form.Value("guest_type"))
	if err != nil {
		s.fail(w, r, "list guest types", err)
		return
	}
	s.page(w, r, status, "batch", s.view(r, "Batch of accounts for an event", st, "batch", form, formData{Types: types}))
}

// card is one account on the printed sheet.
type card struct {
	Username, Password, From, Until string
}

// sheetData is the sheet page's own data: it holds passwords, and is
// rendered only as the answer to the batch's POST.
type sheetData struct {
	Network, SignInURL string
	Type               string
	Cards              []card
	Token              string // the CSV download's sealed token
	Expires            string // when the download stops working
}

func (s *Sponsor) postBatch(w http.ResponseWriter, r *http.Request, st *storage.Staff) {
	a, ok := s.allowed(w, r, st, storage.PermBatch)
	if !ok {
		return
	}
	form := s.batchForm()
	form.Load(r.PostForm)
	b := guest.Batch{Prefix: form.Value("prefix"), GuestType: form.Value("guest_type")}
	var err error
	if b.Count, err = strconv.Atoi(form.Value("count")); err != nil {
		form.Fail("count", fmt.Sprintf("Enter how many accounts, a number from 1 to %d.", guest.MaxBatch))
	}
	if b.ValidFrom, err = s.parseStart(form.Value("valid_from")); err != nil {
		form.Fail("valid_from", "Enter the start as a date and time, such as 2026-03-02T09:00.")
	}
	if b.Validity, err = parseValidity(form.Value("validity")); err != nil {
		form.Fail("validity", "Write how long as a number and a unit, such as 8h, 2d or 1d12h.")
	}
	if !form.Valid() {
		s.renderBatch(w, r, st, a, http.StatusUnprocessableEntity, form)
		return
	}
	guests, err := s.cfg.Guests.CreateBatch(r.Context(), a, b)
	switch {
	case errors.Is(err, guest.ErrForbidden):
		s.forbidden(w, r, err)
		return
	case errors.Is(err, guest.ErrInvalid):
		for _, fe := range guest.FieldErrors(err) {
			form.Fail(fe.Field, fe.Message)
		}
		s.renderBatch(w, r, st, a, http.StatusUnprocessableEntity, form)
		return
	case err != nil:
		s.fail(w, r, "create a batch", err)
		return
	}
	title := fmt.Sprintf("%d guest accounts", len(guests))
	if len(guests) == 1 {
		title = "1 guest account"
	}
	s.showCards(w, r, st, guests, title)
}

// showCards answers with the printable sheet of guests' credentials (one
// card each) and a CSV download of them for st, shown this once: the
// page is not stored (Render sets Cache-Control: no-store), and the
// download's sealed token works for batchCSVTTL, for st only.
func (s *Sponsor) showCards(w http.ResponseWriter, r *http.Request, st *storage.Staff, guests []*storage.Guest, title string) {
	now := s.now()
	payload := make([]byte, 0, 16*(len(guests)+1))
	payload = append(payload, st.ID[:]...)
	d := sheetData{Network: s.cfg.NetworkName, SignInURL: s.cfg.PortalURL + "/login", Expires: s.formatTime(now.Add(batchCSVTTL))}
	for _, g := range guests {
		payload = append(payload, g.ID[:]...)
		d.Type = g.GuestType
		d.Cards = append(d.Cards, card{Username: g.Username, Password: g.Password, From: s.formatTime(g.ValidFrom), Until: s.formatTime(g.ValidUntil)})
	}
	d.Token = s.batchBox().Seal(string(payload), now.Add(batchCSVTTL))
	s.page(w, r, http.StatusOK, "sheet", s.view(r, title, st, "batch", nil, d))
}

func (s *Sponsor) postBatchCSV(w http.ResponseWriter, r *http.Request, st *storage.Staff) {
	ctx := r.Context()
	now := s.now()
	payload, err := s.batchBox().Open(r.PostForm.Get("batch"), now)
	raw := []byte(payload)
	if err == nil && (len(raw) < 32 || len(raw)%16 != 0) {
		err = webkit.ErrTokenInvalid
	}
	var owner uuid.UUID
	if len(raw) >= 16 {
		copy(owner[:], raw[:16])
	}
	switch {
	case errors.Is(err, webkit.ErrTokenExpired) && owner == st.ID:
		s.message(w, r, http.StatusGone, "This download has expired",
			fmt.Sprintf("A batch's passwords can be downloaded for %d minutes after it was made. The accounts still work: to hand them out now, give them new passwords from each guest's page, or make a new batch.", int(batchCSVTTL.Minutes())))
		return
	case err != nil || owner != st.ID:
		s.log.InfoContext(ctx, "sponsor: batch download refused", "staff_id", st.ID, "error", fmt.Sprint(err))
		s.message(w, r, http.StatusForbidden, "Not your batch",
			"Only the staff user who made a batch can download its passwords, from the sheet they got. Make a new batch if you need one.")
		return
	}
	var buf bytes.Buffer
	cw := csv.NewWriter(&buf)
	_ = cw.Write([]string{"username", "password", "valid_from", "valid_until"})
	for i := 16; i < len(raw); i += 16 {
		id, _ := uuid.FromBytes(raw[i : i+16])
		g, err := s.store.GetGuest(ctx, id)
		if errors.Is(err, storage.ErrNotFound) {
			continue // deleted since
		}
		if err != nil {
			s.fail(w, r, "read a batch's guest", err)
			return
		}
		if g.SponsorID != st.ID {
			continue
		}
		_ = cw.Write([]string{csvCell(g.Username), csvCell(g.Password),
			csvCell(g.ValidFrom.In(s.cfg.TimeZone).Format(time.RFC3339)), csvCell(g.ValidUntil.In(s.cfg.TimeZone).Format(time.RFC3339))})
	}
	cw.Flush()
	if err := cw.Error(); err != nil {
		s.fail(w, r, "write a batch's CSV", err)
		return
	}
	h := w.Header()
	h.Set("Content-Type", "text/csv; charset=utf-8")
	h.Set("Content-Disposition", `attachment; filename="guests-`+now.In(s.cfg.TimeZone).Format("2006-01-02-1504")+`.csv"`)
	h.Set("Cache-Control", "no-store")
	h.Set("X-Content-Type-Options", "nosniff")
	h.Set("Content-Length", strconv.Itoa(buf.Len()))
	_, _ = w.Write(buf.Bytes())
}

// csvCell guards v against spreadsheets that run a cell starting with =, +,
// -, @ (or a tab or carriage return before one) as a formula: such a cell
// gets a leading apostrophe, which spreadsheets show as text.
func csvCell(v string) string {
	if v != "" && strings.ContainsRune("=+-@\t\r", rune(v[0])) {
		return "'" + v
	}
	return v
}
