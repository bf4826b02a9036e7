package portal

import (
	"strings"
	"testing"
	"time"

	"github.com/lobbyhq/lobby/storage"
)

func TestConfigErrorsNameEveryField(t *testing.T) {
	t.Parallel()
	_, err := New(Config{
		BaseURL: "guest.example.com",
		Policy: Policy{
			UsernamePolicy: "random", PasswordLength: 4, SuccessWait: -time.Second,
			Approvers: []string{"not an address"},
		},
		Limits:           Limits{Login: Limit{Burst: -1}},
		ProxyHeader:      "X Real IP",
		TrustedProxyHops: -1,
	})
	if err == nil {
		t.Fatal("a bad config was accepted")
	}
	for _, want := range []string{"Store is required", "SecretKey", "BaseURL", "UsernamePolicy", "PasswordLength",
		"SuccessWait", "Approvers[0]", "Limits.Login", "ProxyHeader", "TrustedProxyHops"} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("error does not name %s:\n%v", want, err)
		}
	}
}

func TestValidators(t *testing.T) {
	t.Parallel()
	for in, ok := range map[string]bool{
		"ada@example.com": true, "a.b+tag@sub.example.co.uk": true, "ADA@EXAMPLE.COM": true,
		"ada@localhost": false, "ada@@example.com": false, `"a b"@example.com`: false, "ada@exa_mple.com": false,
		".ada@example.com": false, "ada@-example.com": false, "ada@example.com\n": false, "Ada <ada@example.com>": false,
	} {
		got, msg := normalizeEmail(in)
		if (msg == "") != ok {
			t.Errorf("normalizeEmail(%q) = %q, %q", in, got, msg)
		}
		if ok && got != strings.ToLower(in) {
			t.Errorf("normalizeEmail(%q) = %q", in, got)
		}
	}
	for in, bad := range map[string]bool{"Ada": false, "Zoë O'Brien-Smith": false, "A\u202eB": true, "A\tB": true, "A\u2028B": true} {
		if got := checkName("Name", in, true, "missing") != ""; got != bad {
			t.Errorf("checkName(%q) bad = %v", in, got)
		}
	}
	if !domainIn("mail.corp.example", []string{"corp.example"}) || domainIn("evilcorp.example", []string{"corp.example"}) {
		t.Error("domainIn matches wrongly")
	}
	for _, d := range []struct {
		d    time.Duration
		want string
	}{{24 * time.Hour, "1 day"}, {7 * 24 * time.Hour, "7 days"}, {8 * time.Hour, "8 hours"}, {90 * time.Minute, "90 minutes"}} {
		if got := humanDuration(d.d); got != d.want {
			t.Errorf("humanDuration(%v) = %q", d.d, got)
		}
	}
}

func TestRandomStringIsUniform(t *testing.T) {
	t.Parallel()
	p := &Portal{cfg: Config{Policy: Policy{PasswordLength: 64}}}
	counts := map[rune]int{}
	for range 200 {
		pw, err := p.newPassword()
		if err != nil || len(pw) != 64 {
			t.Fatalf("newPassword = %q, %v", pw, err)
		}
		for _, r := range pw {
			counts[r]++
		}
	}
	if len(counts) != len(passwordAlphabet) {
		t.Fatalf("%d distinct characters, want %d", len(counts), len(passwordAlphabet))
	}
	// 12800 draws over 56 characters: about 229 each.
	for r, n := range counts {
		if !strings.ContainsRune(passwordAlphabet, r) || n < 150 || n > 320 {
			t.Errorf("character %q drawn %d times", r, n)
		}
	}
}

// The register limit lets a venue's guests share one NAT address: a burst
// of 30, then one every 10 seconds.
func TestDefaultLimits(t *testing.T) {
	t.Parallel()
	cfg, err := Config{Store: nopStore{}, SecretKey: make([]byte, 32), BaseURL: "https://guest.example.com/portal"}.withDefaults()
	if err != nil {
		t.Fatal(err)
	}
	for name, tc := range map[string]struct{ got, want Limit }{
		"Register":         {cfg.Limits.Register, Limit{Burst: 30, Every: 10 * time.Second}},
		"Login":            {cfg.Limits.Login, Limit{Burst: 10, Every: 6 * time.Second}},
		"Resend":           {cfg.Limits.Resend, Limit{Burst: 5, Every: time.Minute}},
		"ResendPerAddress": {cfg.Limits.ResendPerAddress, Limit{Burst: 3, Every: 20 * time.Minute}},
	} {
		if tc.got != tc.want {
			t.Errorf("Limits.%s = %+v, want %+v", name, tc.got, tc.want)
		}
	}
}

// nopStore stands in for a store where a test needs only a non-nil one.
type nopStore struct{ storage.Store }

func TestPurgeAfterDefault(t *testing.T) {
	t.Parallel()
	for in, want := range map[time.Duration]time.Duration{0: 30 * 24 * time.Hour, time.Hour: time.Hour, -1: -1} {
		cfg, err := Config{Store: nopStore{}, SecretKey: make([]byte, 32), BaseURL: "https://guest.example.com/portal",
			Policy: Policy{PurgeAfter: in}}.withDefaults()
		if err != nil || cfg.Policy.PurgeAfter != want {
			t.Errorf("PurgeAfter %v → %v, %v; want %v", in, cfg.Policy.PurgeAfter, err, want)
		}
	}
}

// TestConfigProxyHops: hops apply to X-Forwarded-For only, and the old
// TrustProxyHeaders counts as X-Forwarded-For.
func TestConfigProxyHops(t *testing.T) {
	t.Parallel()
	base := Config{BaseURL: "https://wifi.example.com/portal"}
	for _, tc := range []struct {
		header string
		trust  bool
		hops   int
		ok     bool
	}{
		{"X-Forwarded-For", false, 2, true},
		{"x-forwarded-for", false, 3, true},
		{"", true, 2, true},
		{"X-Real-IP", false, 1, true},
		{"X-Real-IP", false, 2, false},
		{"", false, 2, false},
		{"Forwarded", false, 0, false},
		{"X-Forwarded-For", false, 17, false},
	} {
		c := base
		c.ProxyHeader, c.TrustProxyHeaders, c.TrustedProxyHops = tc.header, tc.trust, tc.hops
		_, err := c.withDefaults()
		bad := err != nil && (strings.Contains(err.Error(), "ProxyHeader") || strings.Contains(err.Error(), "TrustedProxyHops"))
		if bad == tc.ok {
			t.Errorf("header %q, trust %v, hops %d: %v", tc.header, tc.trust, tc.hops, err)
		}
	}
}
