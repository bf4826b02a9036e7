package sponsor

import (
	"bytes"
	"encoding/csv"
	"errors"
	"fmt"
	"io"
	"mime"
	"net/http"
	"slices"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/lobbyhq/lobby/guest"
	"github.com/lobbyhq/lobby/internal/webkit"
	"github.com/lobbyhq/lobby/storage"
)

// Importing guests from a CSV file needs PermBatch (as storage documents
// it: "create a batch of random accounts, import a CSV") and, since every
// row is a guest.Service.Create, PermCreate too: a group that may not
// create guests one by one may not create them by the hundred either.
//
// Each row is created on its own (rows are independent: a bad row does not
// stop the others, and a row created stays created); the page reports
// every row.
const (
	importMaxBytes = 1 << 20 // the largest file
	importMaxRows  = 1000    // the most guest rows in one file
	// importMaxBody is the request's limit: the file and the form's other
	// fields with their multipart framing.
	importMaxBody = importMaxBytes + 64<<10
)

// importColumns are the columns a file may have; the first three are
// required. valid_until and validity are two ways to say how long.
var importColumns = []string{"first_name", "last_name", "email", "phone", "company", "reason", "guest_type", "valid_from", "valid_until", "validity"}

// importTooLarge is what a person reads when the file is too large.
var importTooLarge = fmt.Sprintf("The file is larger than %d MiB. Split it into files of at most %d rows and import them one after the other.",
	importMaxBytes>>20, importMaxRows)

// importLimits is POST /import's body limit (importMaxBody, its own
// message when over it) and CSRF field (multipartCSRF) around next, the
// CSRF check and the pages.
func (s *Sponsor) importLimits(next http.Handler) http.Handler {
	page := func(w http.ResponseWriter, r *http.Request, status int, msg string) {
		if status == http.StatusRequestEntityTooLarge {
			msg = importTooLarge
		}
		s.errorPage(w, r, status, msg)
	}
	return webkit.WithErrorPage(page, webkit.MaxBody(importMaxBody, s.multipartCSRF(next)))
}

// multipartCSRF reads a multipart form (the CSV upload) within its limit,
// so that the CSRF check finds its token field, which it otherwise reads
// only from URL-encoded forms: the token is handed on as the CSRF header,
// which the check compares with the cookie as it would the field.
func (s *Sponsor) multipartCSRF(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if mt, _, _ := mime.ParseMediaType(r.Header.Get("Content-Type")); mt == "multipart/form-data" {
			// All in memory: the body is limited to importMaxBody.
			if err := r.ParseMultipartForm(importMaxBody); err != nil {
				if webkit.IsTooLarge(err) {
					webkit.Error(w, r, http.StatusRequestEntityTooLarge, importTooLarge)
					return
				}
				s.errorPage(w, r, http.StatusBadRequest, "The upload could not be read. Go back, choose the file again and send it.")
				return
			}
			defer func() { _ = r.MultipartForm.RemoveAll() }()
			r.Header.Del(webkit.CSRFHeader)
			if tok := r.PostForm.Get(webkit.CSRFField); tok != "" {
				r.Header.Set(webkit.CSRFHeader, tok)
			}
		}
		next.ServeHTTP(w, r)
	})
}

func (s *Sponsor) importForm() *webkit.Form {
	return webkit.NewForm(
		&webkit.Field{Name: "file", Label: "CSV file", Type: "file", Required: true,
			Hint: fmt.Sprintf("A header row, then one guest a row, at most %d rows and %d MiB. Columns first_name, last_name and email are needed; phone, company, reason, guest_type, valid_from and valid_until (or validity, such as 2d) may follow, in any order.",
				importMaxRows, importMaxBytes>>20)},
		&webkit.Field{Name: "guest_type", Label: "Guest type", Type: "select", Required: true,
			Hint: "For the rows without a guest_type of their own."},
		&webkit.Field{Name: "send_email", Label: "Send each guest their credentials by email", Type: "checkbox",
			Hint: "Lobby emails every new guest their credentials."},
	)
}

// importRow is one row of the report.
type importRow struct {
	Line    int    // the row's line in the file (the header is line 1)
	Who     string // the guest's name and email as the row gave them
	Created bool
	Message string // what to fix, when not created
	GuestID string // the created guest
	// HandOver: created, and not emailed: guest email is off.
	HandOver bool
}

// importReport is the outcome of an import.
type importReport struct {
	File            string
	Rows            []importRow
	Created, Failed int
	// NotEmailed counts the created guests who were emailed nothing
	// because guest email is off (guest.Result.HandOver).
	NotEmailed int
}

func (s *Sponsor) getImport(w http.ResponseWriter, r *http.Request, st *storage.Staff) {
	a, ok := s.allowed(w, r, st, storage.PermBatch, storage.PermCreate)
	if !ok {
		return
	}
	form := s.importForm()
	form.Field("send_email").Value = "yes"
	s.renderImport(w, r, st, a, http.StatusOK, form, nil)
}

func (s *Sponsor) renderImport(w http.ResponseWriter, r *http.Request, st *storage.Staff, a guest.Actor, status int, form *webkit.Form, rep *importReport) {
	types, err := s.usableTypes(r.Context(), a, form.Value("guest_type"))
	if err != nil {
		s.fail(w, r, "list guest types", err)
		return
	}
	v := s.view(r, "Import guests from a CSV file", st, "import", form, formData{Types: types, Report: rep})
	if rep != nil {
		v.Notice = fmt.Sprintf("%d created, %d failed.", rep.Created, rep.Failed)
	}
	s.page(w, r, status, "import", v)
}

func (s *Sponsor) postImport(w http.ResponseWriter, r *http.Request, st *storage.Staff) {
	a, ok := s.allowed(w, r, st, storage.PermBatch, storage.PermCreate)
	if !ok {
		return
	}
	form := s.importForm()
	form.Load(r.PostForm)
	if form.Value("send_email") == "" {
		// As on the create page: the guest rules email every guest they create.
		form.Fail("send_email", "Lobby sends new guests their credentials by email: tick this box to go on.")
	}
	var data []byte
	var name string
	if r.MultipartForm == nil {
		form.Fail("file", "Choose a CSV file to import.")
	} else if f, hdr, err := r.FormFile("file"); err != nil {
		form.Fail("file", "Choose a CSV file to import.")
	} else {
		name = hdr.Filename
		data, err = io.ReadAll(io.LimitReader(f, importMaxBytes+1))
		_ = f.Close()
		switch {
		case err != nil:
			form.Fail("file", "The file could not be read. Choose it again.")
		case len(data) > importMaxBytes:
			form.Fail("file", fmt.Sprintf("The file is larger than %d MiB. Split it into files of at most %d rows.", importMaxBytes>>20, importMaxRows))
		case len(bytes.TrimSpace(data)) == 0:
			form.Fail("file", "The file is empty. Choose a CSV file with a header row and one guest a row.")
		}
	}
	var rows [][]string
	var lines []int
	var cols map[string]int
	if form.Valid() {
		var msg string
		if cols, rows, lines, msg = readImport(data); msg != "" {
			form.Fail("file", msg)
		}
	}
	if !form.Valid() {
		s.renderImport(w, r, st, a, http.StatusUnprocessableEntity, form, nil)
		return
	}
	rep := &importReport{File: name}
	for i, rec := range rows {
		row := s.importRow(r, a, cols, rec, form.Value("guest_type"))
		row.Line = lines[i]
		if row.HandOver {
			rep.NotEmailed++
		}
		if row.Created {
			rep.Created++
		} else {
			rep.Failed++
		}
		rep.Rows = append(rep.Rows, row)
	}
	s.log.InfoContext(r.Context(), "sponsor: import", "staff_id", st.ID, "created", rep.Created, "failed", rep.Failed)
	s.renderImport(w, r, st, a, http.StatusOK, s.importFormAfter(form), rep)
}

// importFormAfter is a fresh form that keeps the choices made.
func (s *Sponsor) importFormAfter(prev *webkit.Form) *webkit.Form {
	f := s.importForm()
	f.Field("guest_type").Value = prev.Value("guest_type")
	f.Field("send_email").Value = prev.Value("send_email")
	return f
}

// readImport parses a file: its columns (by name, from the header row),
// its guest rows and their line numbers, or a message that says what is
// wrong with the file as a whole.
func readImport(data []byte) (cols map[string]int, rows [][]string, lines []int, msg string) {
	data = bytes.TrimPrefix(data, []byte("\xef\xbb\xbf")) // a spreadsheet's byte order mark
	if !utf8.Valid(data) || bytes.IndexByte(data, 0) >= 0 {
		return nil, nil, nil, "This is not a CSV text file (or not in UTF-8). Save the sheet as “CSV UTF-8” and choose that file."
	}
	cr := csv.NewReader(bytes.NewReader(data))
	cr.FieldsPerRecord = -1
	cr.TrimLeadingSpace = true
	header, err := cr.Read()
	if err != nil {
		return nil, nil, nil, "The file's first row could not be read as CSV: " + csvErr(err)
	}
	cols = map[string]int{}
	var unknown []string
	for i, h := range header {
		h = strings.ToLower(strings.TrimSpace(h))
		h = strings.ReplaceAll(h, " ", "_")
		switch {
		case h == "":
			continue
		case !slices.Contains(importColumns, h):
			unknown = append(unknown, h)
		case cols[h] != 0:
			return nil, nil, nil, fmt.Sprintf("The header names the column %s twice. Keep one.", h)
		default:
			cols[h] = i + 1 // 0 is "absent"
		}
	}
	var missing []string
	for _, c := range importColumns[:3] {
		if cols[c] == 0 {
			missing = append(missing, c)
		}
	}
	if len(missing) > 0 {
		return nil, nil, nil, fmt.Sprintf("The header row lacks the column%s %s. The first row must name the columns: first_name, last_name and email, then any of %s.",
			plural(len(missing)), strings.Join(missing, ", "), strings.Join(importColumns[3:], ", "))
	}
	if len(unknown) > 0 {
		return nil, nil, nil, fmt.Sprintf("The header has column%s Lobby does not know: %s. Rename or remove %s; the columns are %s.",
			plural(len(unknown)), strings.Join(unknown, ", "), map[bool]string{true: "it", false: "them"}[len(unknown) == 1], strings.Join(importColumns, ", "))
	}
	if cols["valid_until"] != 0 && cols["validity"] != 0 {
		return nil, nil, nil, "The header has both valid_until and validity. Keep one of them."
	}
	for {
		rec, err := cr.Read()
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			return nil, nil, nil, "The file is not valid CSV: " + csvErr(err)
		}
		if strings.TrimSpace(strings.Join(rec, "")) == "" {
			continue // an empty row, as spreadsheets leave at the end
		}
		if len(rows) == importMaxRows {
			return nil, nil, nil, fmt.Sprintf("The file has more than %d guest rows. Split it into smaller files and import them one after the other.", importMaxRows)
		}
		line, _ := cr.FieldPos(0)
		rows = append(rows, rec)
		lines = append(lines, line)
	}
	if len(rows) == 0 {
		return nil, nil, nil, "The file has a header row but no guests. Add one guest a row below it."
	}
	return cols, rows, lines, ""
}

// csvErr says what encoding/csv found, without its package prefix.
func csvErr(err error) string {
	var pe *csv.ParseError
	if errors.As(err, &pe) {
		return fmt.Sprintf("line %d: %v. Check the quotes on that line.", pe.Line, pe.Err)
	}
	return err.Error()
}

func plural(n int) string {
	if n == 1 {
		return ""
	}
	return "s"
}

// importRow creates the guest of one row through the guest rules.
func (s *Sponsor) importRow(r *http.Request, a guest.Actor, cols map[string]int, rec []string, defaultType string) importRow {
	get := func(c string) string {
		if i := cols[c]; i > 0 && i <= len(rec) {
			return strings.TrimSpace(rec[i-1])
		}
		return ""
	}
	n := guest.NewGuest{
		FirstName: get("first_name"), LastName: get("last_name"), Email: get("email"),
		Phone: get("phone"), Company: get("company"), Reason: get("reason"),
		GuestType: cmpStr(get("guest_type"), defaultType),
	}
	row := importRow{Who: strings.TrimSpace(n.FirstName + " " + n.LastName)}
	if n.Email != "" {
		row.Who = strings.TrimSpace(row.Who + " <" + n.Email + ">")
	}
	var problems []string
	var err error
	if n.ValidFrom, err = s.parseImportTime(get("valid_from")); err != nil {
		problems = append(problems, "valid_from: write the start as 2026-03-02 09:00 (or 2026-03-02T09:00:00Z).")
	}
	if until := get("valid_until"); until != "" && err == nil {
		end, err := s.parseImportTime(until)
		start := n.ValidFrom
		if start.IsZero() {
			start = s.now()
		}
		switch {
		case err != nil:
			problems = append(problems, "valid_until: write the end as 2026-03-04 18:00 (or 2026-03-04T18:00:00Z).")
		case !end.After(start):
			problems = append(problems, "valid_until: make the end later than the start.")
		default:
			n.Validity = end.Sub(storage.Truncate(start))
		}
	}
	if n.Validity == 0 {
		if n.Validity, err = parseValidity(get("validity")); err != nil {
			problems = append(problems, "validity: write how long as a number and a unit, such as 8h, 2d or 1d12h.")
		}
	}
	if len(problems) == 0 {
		res, err := s.cfg.Guests.Create(r.Context(), a, n)
		switch {
		case err == nil:
			row.Created, row.GuestID, row.HandOver = true, res.Guest.ID.String(), res.HandOver
			return row
		case errors.Is(err, guest.ErrInvalid):
			for _, fe := range guest.FieldErrors(err) {
				problems = append(problems, fe.Field+": "+fe.Message)
			}
		case errors.Is(err, guest.ErrForbidden):
			msg, prefix := err.Error(), guest.ErrForbidden.Error()+": "
			if i := strings.LastIndex(msg, prefix); i >= 0 {
				msg = msg[i+len(prefix):]
			}
			problems = append(problems, upperFirst(msg)+".")
		default:
			s.log.ErrorContext(r.Context(), "sponsor: import a row", "error", err.Error())
			problems = append(problems, "This row could not be saved just now; import a file with this row again in a minute.")
		}
	}
	row.Message = strings.Join(problems, " ")
	return row
}

func cmpStr(a, b string) string {
	if a != "" {
		return a
	}
	return b
}

// parseImportTime reads a time from a file: RFC 3339, or a date and time
// (or a date alone, at midnight) in Config.TimeZone; empty is zero.
func (s *Sponsor) parseImportTime(v string) (time.Time, error) {
	if v == "" {
		return time.Time{}, nil
	}
	if t, err := time.Parse(time.RFC3339, v); err == nil {
		return t, nil
	}
	var err error
	for _, layout := range []string{"2006-01-02 15:04", "2006-01-02T15:04", "2006-01-02 15:04:05", "2006-01-02T15:04:05", "2006-01-02"} {
		var t time.Time
		if t, err = time.ParseInLocation(layout, v, s.cfg.TimeZone); err == nil {
			return t, nil
		}
	}
	return time.Time{}, err
}
