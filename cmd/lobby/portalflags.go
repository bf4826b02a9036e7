package main

import (
	"cmp"
	"flag"
	"fmt"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/lobbyhq/lobby/portal"
	"github.com/lobbyhq/lobby/storage"
)

// portalFlags are the guest portal's policy settings for lobby serve.
type portalFlags struct {
	SiteName         string
	Fields           string
	RequireApproval  bool
	Approvers        string
	AllowDomains     string
	BlockDomains     string
	RegistrationCode string
	UsernamePolicy   string
	PasswordLength   int
	ShowCredentials  bool
	NotifyExtension  bool
	SuccessWait      time.Duration
	PurgeAfter       time.Duration
	DeniedCooloff    time.Duration
	TrustProxy       bool
	ProxyHeader      string
	ProxyHops        int

	// Guest types: the default type's settings, and more types.
	DefaultGuestType string
	GuestValidity    string // "" when not given
	ExpiryNotice     string
	GuestMaxValidity string
	GuestTypes       guestTypeSpecs
}

// defaultFields shows every optional field at a front desk, none required.
const defaultFields = "phone,company,person_visited,reason"

func (p *portalFlags) register(fs *flag.FlagSet) error {
	boolEnv := func(name string) (bool, error) {
		v := env(name, "false")
		b, err := strconv.ParseBool(v)
		if err != nil {
			return false, fmt.Errorf("%w: LOBBY_%s=%q is not true or false", errUsage, name, v)
		}
		return b, nil
	}
	approval, err := boolEnv("REQUIRE_APPROVAL")
	if err != nil {
		return err
	}
	show, err := boolEnv("SHOW_CREDENTIALS")
	if err != nil {
		return err
	}
	extension, err := boolEnv("NOTIFY_EXTENSION")
	if err != nil {
		return err
	}
	trust, err := boolEnv("TRUST_PROXY_HEADERS")
	if err != nil {
		return err
	}
	wait, err := envDuration("SUCCESS_WAIT", portal.DefaultSuccessWait)
	if err != nil {
		return err
	}
	purge, err := envDuration("PURGE_AFTER", portal.DefaultPurgeAfter)
	if err != nil {
		return err
	}
	cooloff, err := envDuration("DENIED_COOLOFF", portal.DefaultDeniedCooloff)
	if err != nil {
		return err
	}
	hops := 1
	if v := env("TRUSTED_PROXY_HOPS", ""); v != "" {
		if hops, err = strconv.Atoi(v); err != nil {
			return fmt.Errorf("%w: LOBBY_TRUSTED_PROXY_HOPS=%q is not a number", errUsage, v)
		}
	}
	length := portal.DefaultPasswordLength
	if v := env("PASSWORD_LENGTH", ""); v != "" {
		if length, err = strconv.Atoi(v); err != nil {
			return fmt.Errorf("%w: LOBBY_PASSWORD_LENGTH=%q is not a number", errUsage, v)
		}
	}
	fs.StringVar(&p.SiteName, "site-name", env("SITE_NAME", portal.DefaultSiteName), "name shown on pages and in emails (LOBBY_SITE_NAME)")
	fs.StringVar(&p.Fields, "fields", env("FIELDS", defaultFields), "optional registration fields to show, comma-separated from phone, company, person_visited, reason; a trailing * makes one required (LOBBY_FIELDS)")
	fs.BoolVar(&p.RequireApproval, "require-approval", approval, "self-registered guests wait for a sponsor's approval (LOBBY_REQUIRE_APPROVAL)")
	fs.StringVar(&p.Approvers, "approvers", env("APPROVERS", ""), "comma-separated emails that get approval requests; default the person visited (LOBBY_APPROVERS)")
	fs.StringVar(&p.AllowDomains, "allow-domains", env("ALLOW_DOMAINS", ""), "only these email domains may register, comma-separated (LOBBY_ALLOW_DOMAINS)")
	fs.StringVar(&p.BlockDomains, "block-domains", env("BLOCK_DOMAINS", ""), "these email domains may not register, comma-separated (LOBBY_BLOCK_DOMAINS)")
	fs.StringVar(&p.RegistrationCode, "registration-code", env("REGISTRATION_CODE", ""), "code a guest must enter to register (LOBBY_REGISTRATION_CODE)")
	fs.StringVar(&p.UsernamePolicy, "username-policy", env("USERNAME_POLICY", "email"), "email or generated (LOBBY_USERNAME_POLICY)")
	fs.IntVar(&p.PasswordLength, "password-length", length, "length of generated guest passwords (LOBBY_PASSWORD_LENGTH)")
	fs.BoolVar(&p.ShowCredentials, "show-credentials", show, "also show the credentials on the success page (LOBBY_SHOW_CREDENTIALS)")
	fs.BoolVar(&p.NotifyExtension, "notify-extension", extension, "email a guest whose access a sponsor extended (LOBBY_NOTIFY_EXTENSION)")
	fs.DurationVar(&p.SuccessWait, "success-wait", wait, "how long the success page waits for the email to go out (LOBBY_SUCCESS_WAIT)")
	fs.DurationVar(&p.PurgeAfter, "purge-after", purge, "delete expired and denied guests, and old sent or dead mail, this long after they ended; negative keeps them (LOBBY_PURGE_AFTER)")
	fs.DurationVar(&p.DeniedCooloff, "denied-cooloff", cooloff, "how long after a denial the address may not register again; negative: until purged (LOBBY_DENIED_COOLOFF)")
	fs.BoolVar(&p.TrustProxy, "trust-proxy-headers", trust, "same as --proxy-header X-Forwarded-For (LOBBY_TRUST_PROXY_HEADERS)")
	fs.StringVar(&p.ProxyHeader, "proxy-header", env("PROXY_HEADER", ""), "header in which the reverse proxy puts the client's address, for rate limits and logs: X-Forwarded-For or X-Real-IP (or another single-address header); only behind a proxy that always sets it (LOBBY_PROXY_HEADER)")
	fs.IntVar(&p.ProxyHops, "trusted-proxy-hops", hops, "with X-Forwarded-For: how many proxies in front of Lobby append to it; the client is that many addresses from the right (LOBBY_TRUSTED_PROXY_HOPS)")
	fs.StringVar(&p.DefaultGuestType, "default-guest-type", env("DEFAULT_GUEST_TYPE", portal.DefaultGuestTypeName), "the guest type self-registered guests get (LOBBY_DEFAULT_GUEST_TYPE)")
	fs.StringVar(&p.GuestValidity, "guest-validity", env("GUEST_VALIDITY", ""), "how long a self-registered guest's access lasts, e.g. 24h or 3d; sets the default guest type at start-up (default 24h) (LOBBY_GUEST_VALIDITY)")
	fs.StringVar(&p.ExpiryNotice, "expiry-notice", env("EXPIRY_NOTICE", ""), "how long before their access ends guests of the default type are told, e.g. 2h, or off (default a quarter of the validity, at most 24h) (LOBBY_EXPIRY_NOTICE)")
	fs.StringVar(&p.GuestMaxValidity, "guest-max-validity", env("GUEST_MAX_VALIDITY", ""), "the longest a guest of the default type may stay, extensions included (default 7d, or the validity if longer) (LOBBY_GUEST_MAX_VALIDITY)")
	if v := env("GUEST_TYPES", ""); v != "" {
		for _, spec := range strings.FieldsFunc(v, func(r rune) bool { return r == ',' || r == ' ' }) {
			if err := p.GuestTypes.Set(spec); err != nil {
				return fmt.Errorf("%w: LOBBY_GUEST_TYPES: %w", errUsage, err)
			}
		}
	}
	fs.Var(&p.GuestTypes, "guest-type", "a guest type to create or update at start-up, as name:validity[:notice[:max]], e.g. contractor:30d:3d:90d; repeat for more (LOBBY_GUEST_TYPES, comma-separated)")
	return nil
}

// guestTypeSpecs are the repeated --guest-type flags, parsed.
type guestTypeSpecs []storage.GuestType

func (s *guestTypeSpecs) String() string {
	if s == nil {
		return ""
	}
	var out []string
	for _, gt := range *s {
		out = append(out, gt.Name)
	}
	return strings.Join(out, ",")
}

// Set parses name:validity[:notice[:max]]: an empty or missing notice
// takes the default, "off" sends none; an empty or missing max is the
// validity.
func (s *guestTypeSpecs) Set(spec string) error {
	parts := strings.Split(strings.TrimSpace(spec), ":")
	if len(parts) < 2 || len(parts) > 4 {
		return fmt.Errorf("guest type %q: write name:validity[:notice[:max]], e.g. contractor:30d:3d:90d", spec)
	}
	for len(parts) < 4 {
		parts = append(parts, "")
	}
	gt := storage.GuestType{Name: parts[0]}
	if !guestTypeName.MatchString(gt.Name) {
		return fmt.Errorf("guest type %q: the name must be 1 to 64 lower-case letters, digits, - or _", spec)
	}
	for _, other := range *s {
		if other.Name == gt.Name {
			return fmt.Errorf("guest type %q is given twice", gt.Name)
		}
	}
	var err error
	if gt.DefaultDuration, err = parseDays(parts[1]); err != nil || parts[1] == "" {
		return fmt.Errorf("guest type %q: the validity %q is not a duration (use a value such as 8h or 3d)", gt.Name, parts[1])
	}
	if gt.ExpiryNotice, err = parseNotice(parts[2]); err != nil {
		return fmt.Errorf("guest type %q: the expiry notice %q is not a duration or off (use a value such as 2h or 1d)", gt.Name, parts[2])
	}
	if gt.MaxDuration, err = parseDays(parts[3]); err != nil {
		return fmt.Errorf("guest type %q: the maximum validity %q is not a duration (use a value such as 7d)", gt.Name, parts[3])
	}
	if gt.MaxDuration == 0 {
		gt.MaxDuration = gt.DefaultDuration
	}
	if err := checkGuestType(gt); err != nil {
		return fmt.Errorf("guest type %q: %w", gt.Name, err)
	}
	*s = append(*s, gt)
	return nil
}

var guestTypeName = regexp.MustCompile(`^[a-z0-9][a-z0-9_-]{0,63}$`)

// checkGuestType checks that gt's durations fit together.
func checkGuestType(gt storage.GuestType) error {
	switch {
	case gt.DefaultDuration <= 0:
		return fmt.Errorf("the validity must be positive (got %s)", gt.DefaultDuration)
	case gt.MaxDuration < gt.DefaultDuration:
		return fmt.Errorf("the maximum validity %s is shorter than the validity %s", gt.MaxDuration, gt.DefaultDuration)
	case gt.ExpiryNotice >= gt.DefaultDuration:
		return fmt.Errorf("the expiry notice %s must be shorter than the validity %s, or no guest would get it", gt.ExpiryNotice, gt.DefaultDuration)
	}
	return nil
}

// parseDays parses a Go duration or a whole number of days ("3d"); "" is 0.
func parseDays(s string) (time.Duration, error) {
	s = strings.TrimSpace(s)
	if s == "" {
		return 0, nil
	}
	if n, ok := strings.CutSuffix(s, "d"); ok {
		days, err := strconv.Atoi(n)
		if err != nil || days < 0 || days > 3650 {
			return 0, fmt.Errorf("%q is not a number of days", s)
		}
		return time.Duration(days) * 24 * time.Hour, nil
	}
	d, err := time.ParseDuration(s)
	if err != nil || d < 0 {
		return 0, fmt.Errorf("%q is not a duration", s)
	}
	return d, nil
}

// parseNotice is parseDays, with "off" (no notice) as -1.
func parseNotice(s string) (time.Duration, error) {
	if strings.EqualFold(strings.TrimSpace(s), "off") {
		return -1, nil
	}
	return parseDays(s)
}

// defaultGuestType is the default guest type the --guest-validity,
// --expiry-notice and --guest-max-validity flags describe, or nil when none
// of them is given.
func (p *portalFlags) defaultGuestType() (*storage.GuestType, error) {
	if p.GuestValidity == "" && p.ExpiryNotice == "" && p.GuestMaxValidity == "" {
		return nil, nil
	}
	gt := &storage.GuestType{Name: cmp.Or(p.DefaultGuestType, portal.DefaultGuestTypeName), Description: "Self-registered guests",
		DefaultDuration: portal.DefaultGuestValidity, MaxDuration: portal.DefaultGuestMaxValidity}
	var err error
	if p.GuestValidity != "" {
		if gt.DefaultDuration, err = parseDays(p.GuestValidity); err != nil || gt.DefaultDuration == 0 {
			return nil, fmt.Errorf("%w: --guest-validity %q: use a positive duration such as 24h or 3d", errUsage, p.GuestValidity)
		}
		gt.MaxDuration = max(gt.MaxDuration, gt.DefaultDuration)
	}
	if gt.ExpiryNotice, err = parseNotice(p.ExpiryNotice); err != nil {
		return nil, fmt.Errorf("%w: --expiry-notice %q: use a duration such as 2h or 1d, or off", errUsage, p.ExpiryNotice)
	}
	if p.GuestMaxValidity != "" {
		if gt.MaxDuration, err = parseDays(p.GuestMaxValidity); err != nil || gt.MaxDuration == 0 {
			return nil, fmt.Errorf("%w: --guest-max-validity %q: use a positive duration such as 72h or 7d", errUsage, p.GuestMaxValidity)
		}
	}
	if err := checkGuestType(*gt); err != nil {
		return nil, fmt.Errorf("%w: --guest-validity, --expiry-notice, --guest-max-validity: %w", errUsage, err)
	}
	return gt, nil
}

// policy turns the flags into the portal's policy.
func (p *portalFlags) policy() (portal.Policy, error) {
	pol := portal.Policy{
		SiteName:         p.SiteName,
		RequireApproval:  p.RequireApproval,
		Approvers:        list(p.Approvers),
		AllowDomains:     list(p.AllowDomains),
		BlockDomains:     list(p.BlockDomains),
		RegistrationCode: p.RegistrationCode,
		UsernamePolicy:   p.UsernamePolicy,
		PasswordLength:   p.PasswordLength,
		ShowCredentials:  p.ShowCredentials,
		NotifyExtension:  p.NotifyExtension,
		SuccessWait:      p.SuccessWait,
		PurgeAfter:       p.PurgeAfter,
		DeniedCooloff:    p.DeniedCooloff,
		DefaultGuestType: p.DefaultGuestType,
		GuestTypes:       append([]storage.GuestType(nil), p.GuestTypes...),
	}
	if p.DefaultGuestType != "" && !guestTypeName.MatchString(p.DefaultGuestType) {
		return pol, fmt.Errorf("%w: --default-guest-type %q: use 1 to 64 lower-case letters, digits, - or _", errUsage, p.DefaultGuestType)
	}
	def, err := p.defaultGuestType()
	if err != nil {
		return pol, err
	}
	if def != nil {
		if slices.ContainsFunc(pol.GuestTypes, func(gt storage.GuestType) bool { return gt.Name == def.Name }) {
			return pol, fmt.Errorf("%w: the default guest type %q is given both by --guest-type and by --guest-validity, --expiry-notice or --guest-max-validity; use one", errUsage, def.Name)
		}
		pol.GuestTypes = append(pol.GuestTypes, *def)
	}
	for _, f := range list(p.Fields) {
		name, required := strings.CutSuffix(f, "*")
		rule := portal.FieldRule{Show: true, Required: required}
		switch name {
		case "phone":
			pol.Fields.Phone = rule
		case "company":
			pol.Fields.Company = rule
		case "person_visited":
			pol.Fields.PersonVisited = rule
		case "reason":
			pol.Fields.Reason = rule
		default:
			return pol, fmt.Errorf("%w: --fields: unknown field %q (use phone, company, person_visited, reason)", errUsage, name)
		}
	}
	return pol, nil
}

// list splits a comma-separated value, dropping blanks.
func list(s string) []string {
	var out []string
	for _, v := range strings.Split(s, ",") {
		if v = strings.TrimSpace(v); v != "" {
			out = append(out, v)
		}
	}
	return out
}
