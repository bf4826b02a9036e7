package storage

import (
	"strings"
	"unicode"
	"unicode/utf8"
)

// SearchSep starts every field of a SearchKey. It is made of control
// characters, which SearchKey and ParseSearch turn into spaces in the text
// they fold, so that no query matches across two fields and a short query
// can ask for the start of a field (SearchSep followed by the query).
const SearchSep = "\x1f\x1f"

// SearchMinSubstring is the shortest query matched anywhere in a field: the
// trigram indexes of both backends need three characters. A shorter query
// matches the start of a field.
const SearchMinSubstring = 3

// SearchKey is the text that both backends index for GuestFilter.Query:
// the username, the email address, the full name ("first last"), the last
// name, the company and the phone number, each folded as FoldKey folds and
// preceded by SearchSep. The stores compute it in Go on every insert, so
// that case folding is Unicode-aware (and the same) on both backends.
func SearchKey(g *Guest) string {
	var b strings.Builder
	for _, f := range []string{g.Username, g.Email, g.FirstName + " " + g.LastName, g.LastName, g.Company, g.Phone} {
		b.WriteString(SearchSep)
		b.WriteString(foldSearch(f))
	}
	return b.String()
}

// foldSearch folds s as FoldKey does, with control characters as spaces.
func foldSearch(s string) string {
	return FoldKey(strings.Map(func(r rune) rune {
		if unicode.IsControl(r) {
			return ' '
		}
		return r
	}, s))
}

// SearchKind is how a query is matched.
type SearchKind int

// Kinds of search.
const (
	SearchNone      SearchKind = iota // an empty query: no filter
	SearchEmail                       // a whole email address: that address, as email or username, exactly
	SearchSubstring                   // anywhere in a field (Text is the folded query)
	SearchPrefix                      // at the start of a field (Text is SearchSep and the folded query)
)

// Search is a parsed GuestFilter.Query.
type Search struct {
	Kind SearchKind
	// Text is what the search key must contain: for SearchEmail the folded
	// address, for SearchSubstring the folded query, for SearchPrefix
	// SearchSep and the folded query.
	Text string
}

// ParseSearch decides how GuestFilter.Query q is matched against a guest's
// username, email address, full name ("first last"), last name, company
// and phone number, all compared as FoldKey folds (Unicode case, NFC, with
// control characters as spaces):
//   - a whole email address (local@domain.tld) matches that address, as
//     email or username, exactly, through the unique indexes;
//   - three characters or more match anywhere inside one of the fields;
//   - one or two characters match the start of one of the fields (a
//     substring so short would match most guests and no index serves it).
//
// Both backends serve each kind with an index (see SearchKey).
func ParseSearch(q string) Search {
	f := foldSearch(q)
	switch {
	case f == "":
		return Search{}
	case isWholeEmail(f):
		return Search{Kind: SearchEmail, Text: f}
	case utf8.RuneCountInString(f) < SearchMinSubstring:
		return Search{Kind: SearchPrefix, Text: SearchSep + f}
	}
	return Search{Kind: SearchSubstring, Text: f}
}

// isWholeEmail reports whether s (folded) looks like a whole address:
// local@domain.tld, with no space.
func isWholeEmail(s string) bool {
	local, domain, ok := strings.Cut(s, "@")
	if !ok || local == "" || strings.ContainsAny(s, " \t") || strings.Contains(domain, "@") {
		return false
	}
	dot := strings.LastIndexByte(domain, '.')
	return dot > 0 && dot < len(domain)-1
}

// GuestListRun runs one SELECT of ListGuests: with recent, a search that
// looks only through the most recent guests of the list, in list order,
// instead of the search index. It returns the rows (up to one more than
// the page holds), the page size and the function that makes the next
// page's cursor from the last guest of the page.
type GuestListRun func(recent bool) (page *GuestPage, limit int, next func(*Guest) string, err error)

// ListGuestsPage is the ListGuests strategy both backends share: a query
// that many guests match fills its page from the first few guests in list
// order, cheaper than reading every hit of the index and sorting them; a
// page that does not fill there comes from the index. run is the backend's
// query runner; the page it returns is cut to the page size, with Next set
// when there are more.
func ListGuestsPage(f GuestFilter, run GuestListRun) (*GuestPage, error) {
	var (
		page  *GuestPage
		limit int
		next  func(*Guest) string
		err   error
	)
	if k := ParseSearch(f.Query).Kind; k == SearchSubstring || k == SearchPrefix {
		if page, limit, next, err = run(true); err == nil && len(page.Guests) <= limit {
			page = nil
		}
	}
	if page == nil && err == nil {
		page, limit, next, err = run(false)
	}
	if err != nil {
		return nil, err
	}
	if len(page.Guests) > limit {
		page.Guests = page.Guests[:limit]
		last := page.Guests[limit-1]
		page.Next = next(last)
	}
	return page, nil
}

// EscapeLike makes s literal in a LIKE pattern whose escape character is
// backslash (LIKE's default on Postgres; ESCAPE '\' on SQLite).
func EscapeLike(s string) string {
	return strings.NewReplacer(`\`, `\\`, `%`, `\%`, `_`, `\_`).Replace(s)
}
