package admin

import (
	"errors"
	"net/http"

	"github.com/google/uuid"

	"github.com/lobbyhq/lobby/guest"
	"github.com/lobbyhq/lobby/internal/webkit"
	"github.com/lobbyhq/lobby/storage"
)

// apiTokenRow is one token on the admin's list (never the token itself).
type apiTokenRow struct {
	ID, UserID, User, State, Name, Hint, Created, Expires, LastUsed string
	Works                                                           bool
}

// getAPITokens lists every staff user's API tokens.
func (a *Admin) getAPITokens(w http.ResponseWriter, r *http.Request, st *storage.Staff) {
	ctx := r.Context()
	tokens, err := a.store.ListAPITokens(ctx, uuid.Nil)
	if err != nil {
		a.fail(w, r, st, "list API tokens", err)
		return
	}
	staff, err := a.store.ListStaff(ctx)
	if err != nil {
		a.fail(w, r, st, "list API tokens", err)
		return
	}
	byID := map[uuid.UUID]*storage.Staff{}
	for _, s := range staff {
		byID[s.ID] = s
	}
	now := a.now()
	rows := []apiTokenRow{}
	for _, t := range tokens {
		row := apiTokenRow{ID: t.ID.String(), Name: t.Name, Hint: t.Hint, Created: a.formatTime(t.CreatedAt),
			Expires: a.formatTime(t.ExpiresAt), LastUsed: a.formatTime(t.LastUsedAt), Works: true}
		if u := byID[t.StaffID]; u != nil {
			row.UserID, row.User = u.ID.String(), u.Username
			if u.Disabled {
				row.State, row.Works = "disabled: the token does not work", false
			}
		}
		if t.Expired(now) {
			row.State, row.Works = "expired", false
		}
		rows = append(rows, row)
	}
	v := a.view(r, "API tokens", st, "staff", nil, rows)
	v.Notice = a.takeFlash(w, r, st, "api-tokens")
	a.page(w, r, http.StatusOK, "apitokens", v)
}

// postAPITokenRevoke revokes any staff user's token.
func (a *Admin) postAPITokenRevoke(w http.ResponseWriter, r *http.Request, st *storage.Staff) {
	id, err := uuid.Parse(r.PathValue("id"))
	if err != nil {
		a.notFound(w, r, st)
		return
	}
	err = guest.RevokeAPIToken(r.Context(), a.store, guest.Actor{Staff: st}, id)
	switch {
	case errors.Is(err, storage.ErrNotFound):
		a.setFlash(w, r, st, "api-tokens", "That token was revoked already.")
	case err != nil:
		a.fail(w, r, st, "revoke API token", err)
		return
	default:
		a.setFlash(w, r, st, "api-tokens", "Token revoked: it no longer works.")
	}
	webkit.SeeOther(w, webkit.RelRoot(r.URL.Path)+"api-tokens")
}
