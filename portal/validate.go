package portal

import "github.com/lobbyhq/lobby/guest"

// The registration fields' checks are the guest rules' (package guest);
// these are their names here.

// Length limits of the registration fields, in characters.
const (
	maxName   = guest.MaxName
	maxEmail  = guest.MaxEmail
	maxPhone  = guest.MaxPhone
	maxOther  = guest.MaxOther
	maxReason = guest.MaxReason
	maxCode   = guest.MaxCode
)

func checkName(label, v string, required bool, missing string) string {
	return guest.CheckName(label, v, required, missing)
}

func checkText(label, v string, max int, required bool, missing string) string {
	return guest.CheckText(label, v, max, required, missing)
}

func checkVisited(v string, required bool) string { return guest.CheckVisited(v, required) }
func checkPhone(v string, required bool) string   { return guest.CheckPhone(v, required) }
func hasControl(s string) bool                    { return guest.HasControl(s) }
func hasFormat(s string) bool                     { return guest.HasFormat(s) }
func hasLink(s string) bool                       { return guest.HasLink(s) }
func normalizeEmail(v string) (string, string)    { return guest.NormalizeEmail(v) }
func isAlnum(r rune) bool                         { return guest.IsAlnum(r) }
func domainIn(domain string, ds []string) bool    { return guest.DomainIn(domain, ds) }
