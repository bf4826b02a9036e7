package storage

import (
	"fmt"
	"strings"

	"golang.org/x/text/unicode/norm"
)

// FoldKey is the form in which usernames and email addresses are compared
// and kept unique on both backends: trimmed, lower-cased by Unicode rules
// (SQLite's lower() folds ASCII only) and in Unicode normal form C, so that
// "Émile", "émile" and "E\u0301mile" are one name. The stores fold in Go, on
// every write and lookup, and keep the folded form in the unique column.
func FoldKey(s string) string {
	return norm.NFC.String(strings.ToLower(strings.TrimSpace(s)))
}

// FoldRow is one stored value and the key stored for it, as a migration to
// FoldKey reads them: a username and its username_key, or an email address
// (its own key).
type FoldRow struct {
	ID    string
	Value string
	Key   string
}

// PlanFold is the plan of a migration to FoldKey for one unique column
// (what names it in errors, e.g. "guests.username"): the rows whose stored
// key is not FoldKey of their value, with Key set to the folded one. Values
// that were distinct under the old comparison but fold to one key cannot all
// stay: the error names them (names and addresses, not secrets) and says
// what to do.
func PlanFold(what string, rows []FoldRow) ([]FoldRow, error) {
	byKey := map[string]FoldRow{}
	var changed []FoldRow
	var clashes []string
	for _, r := range rows {
		want := FoldKey(r.Value)
		if want == "" {
			continue // an empty email is no address; a username is never empty
		}
		if other, ok := byKey[want]; ok {
			clashes = append(clashes, fmt.Sprintf("%q (id %s) and %q (id %s)", other.Value, other.ID, r.Value, r.ID))
		}
		byKey[want] = r
		if r.Key != want {
			changed = append(changed, FoldRow{ID: r.ID, Value: r.Value, Key: want})
		}
	}
	if len(clashes) > 0 {
		return nil, fmt.Errorf("storage: migrate: %s: %s are one once case and accents are compared as Lobby now does; "+
			"change or delete one of each pair in the database and start Lobby again", what, strings.Join(clashes, ", "))
	}
	return changed, nil
}
