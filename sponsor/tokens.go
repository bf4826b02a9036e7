package sponsor

import (
	"errors"
	"net/http"
	"strings"
	"time"

	"github.com/google/uuid"

	"github.com/lobbyhq/lobby/guest"
	"github.com/lobbyhq/lobby/internal/webkit"
	"github.com/lobbyhq/lobby/storage"
)

// A staff user's REST API tokens: they make and revoke their own here.
// The rules (who may, the token's form, the audit entries) are the guest
// package's; the token is shown once, on the page that answers the post.

// flashTokens names the tokens page for flashes.
const flashTokens = "tokens"

// tokenRow is one token in the list (never the token itself).
type tokenRow struct {
	ID, Name, Hint, Created, Expires, LastUsed string
}

// newToken is a token just made, shown once.
type newToken struct{ Name, Token string }

// tokensData is the tokens page's own data.
type tokensData struct {
	Tokens []tokenRow
	New    *newToken
	APIURL string
}

func tokenForm() *webkit.Form {
	return webkit.NewForm(
		&webkit.Field{Name: "name", Label: "Name", Type: "text", Required: true, MaxLen: guest.MaxAPITokenName,
			Hint: "What uses the token, such as “visitor kiosk”."},
		&webkit.Field{Name: "expires", Label: "Expires after", Type: "text", MaxLen: 20,
			Hint: "Such as 30d, 12w or 1w; leave empty for a token that works until you revoke it."},
	)
}

func (s *Sponsor) getTokens(w http.ResponseWriter, r *http.Request, st *storage.Staff) {
	s.showTokens(w, r, st, http.StatusOK, tokenForm(), nil)
}

// showTokens renders the tokens page with form and, once, a new token.
func (s *Sponsor) showTokens(w http.ResponseWriter, r *http.Request, st *storage.Staff, status int, form *webkit.Form, made *newToken) {
	list, err := s.store.ListAPITokens(r.Context(), st.ID)
	if err != nil {
		s.fail(w, r, "list API tokens", err)
		return
	}
	d := tokensData{New: made, APIURL: strings.TrimSuffix(strings.TrimRight(s.cfg.BaseURL, "/"), "/sponsor") + "/api/v1"}
	for _, t := range list {
		d.Tokens = append(d.Tokens, tokenRow{ID: t.ID.String(), Name: t.Name, Hint: t.Hint, Created: s.formatTime(t.CreatedAt),
			Expires: s.formatTime(t.ExpiresAt), LastUsed: s.formatTime(t.LastUsedAt)})
	}
	v := s.view(r, "API tokens", st, "tokens", form, d)
	if made == nil {
		v.Notice = s.takeFlash(w, r, st, flashTokens)
	}
	s.page(w, r, status, "tokens", v)
}

func (s *Sponsor) postTokens(w http.ResponseWriter, r *http.Request, st *storage.Staff) {
	form := tokenForm()
	form.Load(r.PostForm)
	now := s.now()
	ttl, err := parseValidity(form.Value("expires"))
	if err != nil {
		form.Fail("expires", "Write how long as a number and a unit, such as 30d or 12w, or leave it empty.")
	}
	if form.Value("name") == "" {
		form.Fail("name", "Name the token after what uses it, such as “visitor kiosk”.")
	}
	if !form.Valid() {
		s.showTokens(w, r, st, http.StatusUnprocessableEntity, form, nil)
		return
	}
	var expires time.Time
	if ttl > 0 {
		expires = now.Add(ttl)
	}
	token, rec, err := guest.NewAPIToken(r.Context(), s.store, guest.Actor{Staff: st}, st, form.Value("name"), expires, now)
	switch {
	case errors.Is(err, guest.ErrInvalid):
		for _, fe := range guest.FieldErrors(err) {
			form.Fail(fe.Field, fe.Message)
		}
		s.showTokens(w, r, st, http.StatusUnprocessableEntity, form, nil)
		return
	case errors.Is(err, guest.ErrForbidden):
		s.forbidden(w, r, err)
		return
	case err != nil:
		s.fail(w, r, "make API token", err)
		return
	}
	s.log.InfoContext(r.Context(), "sponsor: API token made", "staff_id", st.ID, "token_id", rec.ID)
	// The token is on this page only: no redirect, nothing cached.
	s.showTokens(w, r, st, http.StatusOK, tokenForm(), &newToken{Name: rec.Name, Token: token})
}

func (s *Sponsor) postRevokeToken(w http.ResponseWriter, r *http.Request, st *storage.Staff) {
	id, err := uuid.Parse(r.PathValue("id"))
	if err != nil {
		s.notFound(w, r)
		return
	}
	err = guest.RevokeAPIToken(r.Context(), s.store, guest.Actor{Staff: st}, id)
	switch {
	case errors.Is(err, storage.ErrNotFound):
		s.setFlash(w, r, st, flashTokens, "That token was revoked already.")
	case errors.Is(err, guest.ErrForbidden):
		s.forbidden(w, r, err)
		return
	case err != nil:
		s.fail(w, r, "revoke API token", err)
		return
	default:
		s.setFlash(w, r, st, flashTokens, "Token revoked: it no longer works.")
	}
	webkit.SeeOther(w, webkit.RelRoot(r.URL.Path)+"tokens")
}
