package portal

import (
	"github.com/lobbyhq/lobby/guest"
	"github.com/lobbyhq/lobby/internal/i18n"
)

// problemKeys are the catalog keys of the guest rules' commonest messages
// about a registration form (package guest words them in English).
var problemKeys = map[string]string{
	"Enter your first name.":    "portal.invalid.first_name",
	"Enter your last name.":     "portal.invalid.last_name",
	"Enter your email address.": "portal.invalid.email",
	"Enter an email address in the correct format, like name@example.com.": "portal.invalid.email_format",
	"Enter your phone number.":                                                       "portal.invalid.phone",
	"Enter a phone number using digits, spaces and + ( ) - only.":                    "portal.invalid.phone_format",
	"Enter your company.":                                                            "portal.invalid.company",
	"Enter the name of the person you are visiting.":                                 "portal.invalid.visited",
	"Enter the email address of the person you are visiting.":                        "portal.invalid.visited_email",
	"Enter the email address of the person you are visiting, like name@example.com.": "portal.invalid.visited_email_format",
	"Enter the reason for your visit.":                                               "portal.invalid.reason",
}

// problemText is a guest rule's message about a form field in loc's
// language; a rarer message (a character or length rule) stays English.
func problemText(loc *i18n.Localizer, msg string) string {
	if k, ok := problemKeys[msg]; ok {
		return loc.T(k)
	}
	return msg
}

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
