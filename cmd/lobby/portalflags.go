package main

import (
	"flag"
	"fmt"
	"strconv"
	"strings"
	"time"

	"github.com/lobbyhq/lobby/portal"
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
	SuccessWait      time.Duration
	PurgeAfter       time.Duration
	DeniedCooloff    time.Duration
	TrustProxy       bool
	ProxyHeader      string
	ProxyHops        int
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
	fs.DurationVar(&p.SuccessWait, "success-wait", wait, "how long the success page waits for the email to go out (LOBBY_SUCCESS_WAIT)")
	fs.DurationVar(&p.PurgeAfter, "purge-after", purge, "delete expired and denied guests, and old sent or dead mail, this long after they ended; negative keeps them (LOBBY_PURGE_AFTER)")
	fs.DurationVar(&p.DeniedCooloff, "denied-cooloff", cooloff, "how long after a denial the address may not register again; negative: until purged (LOBBY_DENIED_COOLOFF)")
	fs.BoolVar(&p.TrustProxy, "trust-proxy-headers", trust, "same as --proxy-header X-Forwarded-For (LOBBY_TRUST_PROXY_HEADERS)")
	fs.StringVar(&p.ProxyHeader, "proxy-header", env("PROXY_HEADER", ""), "header in which the reverse proxy puts the client's address, for rate limits and logs: X-Forwarded-For or X-Real-IP (or another single-address header); only behind a proxy that always sets it (LOBBY_PROXY_HEADER)")
	fs.IntVar(&p.ProxyHops, "trusted-proxy-hops", hops, "with X-Forwarded-For: how many proxies in front of Lobby append to it; the client is that many addresses from the right (LOBBY_TRUSTED_PROXY_HOPS)")
	return nil
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
		SuccessWait:      p.SuccessWait,
		PurgeAfter:       p.PurgeAfter,
		DeniedCooloff:    p.DeniedCooloff,
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
