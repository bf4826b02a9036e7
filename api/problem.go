package api

import (
	"encoding/json"
	"errors"
	"net/http"
	"strings"

	"github.com/lobbyhq/lobby/guest"
)

// problemBase is where the problem types are documented (docs/api.md,
// "Errors"); a type is this plus its name.
const problemBase = "https://github.com/lobbyhq/lobby/blob/main/docs/api.md#problem-"

// Problem is an RFC 9457 problem details object.
type Problem struct {
	Type   string `json:"type"`
	Title  string `json:"title"`
	Status int    `json:"status"`
	Detail string `json:"detail,omitempty"`
	// Errors are the fields that failed validation (422).
	Errors []FieldError `json:"errors,omitempty"`
}

// FieldError is one bad field of a request body.
type FieldError struct {
	Field  string `json:"field"`
	Detail string `json:"detail"`
}

// problem kinds: type suffix and title.
var (
	probUnauthorized = Problem{Type: problemBase + "unauthorized", Title: "Missing or invalid API token", Status: http.StatusUnauthorized}
	probForbidden    = Problem{Type: problemBase + "forbidden", Title: "Not allowed", Status: http.StatusForbidden}
	probNotFound     = Problem{Type: problemBase + "not-found", Title: "Not found", Status: http.StatusNotFound}
	probBadRequest   = Problem{Type: problemBase + "bad-request", Title: "Bad request", Status: http.StatusBadRequest}
	probInvalid      = Problem{Type: problemBase + "validation", Title: "Invalid input", Status: http.StatusUnprocessableEntity}
	probState        = Problem{Type: problemBase + "wrong-state", Title: "That cannot be done now", Status: http.StatusConflict}
	probConflict     = Problem{Type: problemBase + "conflict", Title: "The guest changed meanwhile", Status: http.StatusConflict}
	probRateLimited  = Problem{Type: problemBase + "rate-limited", Title: "Too many requests", Status: http.StatusTooManyRequests}
	probTooLarge     = Problem{Type: problemBase + "too-large", Title: "Request body too large", Status: http.StatusRequestEntityTooLarge}
	probMediaType    = Problem{Type: problemBase + "unsupported-media-type", Title: "Send JSON", Status: http.StatusUnsupportedMediaType}
	probMethod       = Problem{Type: problemBase + "method-not-allowed", Title: "Method not allowed", Status: http.StatusMethodNotAllowed}
	probInternal     = Problem{Type: problemBase + "internal", Title: "Internal error", Status: http.StatusInternalServerError}
)

// with is p with detail.
func (p Problem) with(detail string) Problem {
	p.Detail = detail
	return p
}

// writeProblem writes p as application/problem+json.
func writeProblem(w http.ResponseWriter, p Problem) {
	h := w.Header()
	h.Set("Content-Type", "application/problem+json")
	h.Set("Cache-Control", "no-store")
	h.Set("X-Content-Type-Options", "nosniff")
	w.WriteHeader(p.Status)
	_ = json.NewEncoder(w).Encode(p)
}

// reason is err's message after sentinel's: the part a person reads,
// capitalised and ending with a full stop.
func reason(err, sentinel error) string {
	msg := err.Error()
	if i := strings.LastIndex(msg, sentinel.Error()+": "); i >= 0 {
		msg = msg[i+len(sentinel.Error())+2:]
	}
	if msg == "" {
		return msg
	}
	msg = strings.ToUpper(msg[:1]) + msg[1:]
	if !strings.HasSuffix(msg, ".") {
		msg += "."
	}
	return msg
}

// ruleProblem is the problem for an error of the guest rules; ok is false
// for an error that is none of theirs (a 500).
func ruleProblem(err error) (Problem, bool) {
	var se *guest.StateError
	switch {
	case errors.Is(err, guest.ErrForbidden):
		return probForbidden.with(reason(err, guest.ErrForbidden) + " Nothing was changed."), true
	case errors.Is(err, guest.ErrInvalid):
		p := probInvalid.with("Some fields are wrong; nothing was changed. See errors.")
		for _, fe := range guest.FieldErrors(err) {
			p.Errors = append(p.Errors, FieldError{Field: fe.Field, Detail: fe.Message})
		}
		return p, true
	case errors.As(err, &se):
		return probState.with(strings.TrimSuffix(se.Message, ".") + ". Nothing was changed."), true
	case errors.Is(err, guest.ErrNotFound):
		return probNotFound.with("There is no such guest: they may have been deleted."), true
	case errors.Is(err, guest.ErrConflict):
		return probConflict.with("Someone else changed this guest while you were acting, so nothing was done. Read the guest again and retry."), true
	}
	return Problem{}, false
}
