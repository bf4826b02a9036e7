package portal

import (
	"regexp"
	"strings"

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
	"Enter a phone number, not an IP address.":                                       "portal.invalid.phone_ip",
	"We could not find that host; check the address or ask at the front desk.":       "portal.invalid.no_host",
}

// problemLabels are the field names the guest rules start their messages
// with ("First name must …"), and their catalog keys.
var problemLabels = map[string]string{
	"First name": "portal.field.first_name", "Last name": "portal.field.last_name", "Email address": "portal.field.email",
	"Phone number": "portal.field.phone", "Company": "portal.field.company", "Reason": "portal.label.reason",
	"Person you are visiting": "portal.field.visited",
}

// problemSuffixes are the rest of the messages that start with a field's
// name, and their catalog keys (with {{.Label}}).
var problemSuffixes = map[string]string{
	" contains characters we cannot read. Type it again.":                                                "portal.invalid.unreadable",
	" must be on one line, without control characters.":                                                  "portal.invalid.control",
	" contains invisible formatting characters. Type it again rather than pasting it.":                   "portal.invalid.format_chars",
	" can only have letters, spaces and - . ' (no digits or other symbols).":                             "portal.invalid.name_chars",
	" must have letters in it.":                                                                          "portal.invalid.name_letters",
	" must not be a web address or a domain name (such as example.com).":                                 "portal.invalid.name_link",
	" must not start with = + - or @ (spreadsheets read those as formulas). Remove the first character.": "portal.invalid.formula",
	" contains characters that are not allowed (< or >).":                                                "portal.invalid.angle",
	" must not contain an @ or an email address.":                                                        "portal.invalid.visited_at",
	" must not contain a web address, a domain name such as example.com, or an IP address.":              "portal.invalid.visited_link",
}

var (
	tooLongRE       = regexp.MustCompile(`^(.+) must be (\d+) characters or fewer\.$`)
	domainBlockedRE = regexp.MustCompile(`^Addresses at (\S+) cannot register here\. Use another email address\.$`)
	domainAllowedRE = regexp.MustCompile(`^Use an email address at (.+)\.$`)
)

// problemText is a guest rule's message about a form field in loc's
// language. The guest rules word their messages in English; these are
// recognised by their words, and a message not recognised (a new rule)
// stays English (a test lists every message the rules give).
func problemText(loc *i18n.Localizer, msg string) string {
	if k, ok := problemKeys[msg]; ok {
		return loc.T(k)
	}
	if m := tooLongRE.FindStringSubmatch(msg); m != nil && problemLabels[m[1]] != "" {
		return loc.T("portal.invalid.too_long", "Label", loc.T(problemLabels[m[1]]), "Max", m[2])
	}
	if m := domainBlockedRE.FindStringSubmatch(msg); m != nil {
		return loc.T("portal.invalid.domain_blocked", "Domain", m[1])
	}
	if m := domainAllowedRE.FindStringSubmatch(msg); m != nil {
		return loc.T("portal.invalid.domain_allowed", "Domains", m[1])
	}
	for label, lk := range problemLabels {
		if rest, ok := strings.CutPrefix(msg, label); ok {
			if k, ok := problemSuffixes[rest]; ok {
				return loc.T(k, "Label", loc.T(lk))
			}
		}
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
