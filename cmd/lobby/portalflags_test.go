package main

import (
	"errors"
	"flag"
	"strings"
	"testing"
	"time"

	"github.com/lobbyhq/lobby/portal"
	"github.com/lobbyhq/lobby/storage"
)

// portalPolicy parses args as lobby serve's portal flags would.
func portalPolicy(args ...string) (portal.Policy, error) {
	fs := flag.NewFlagSet("serve", flag.ContinueOnError)
	var p portalFlags
	if err := p.register(fs); err != nil {
		return portal.Policy{}, err
	}
	if err := parse(fs, args); err != nil {
		return portal.Policy{}, err
	}
	return p.policy()
}

func TestGuestTypeFlags(t *testing.T) {
	// Not parallel: it sets LOBBY_GUEST_TYPES for one case.
	pol, err := portalPolicy()
	if err != nil || len(pol.GuestTypes) != 0 || pol.DefaultGuestType != portal.DefaultGuestTypeName {
		t.Fatalf("no flags: %+v, %v; want no guest types written and the default type %q", pol.GuestTypes, err, portal.DefaultGuestTypeName)
	}

	pol, err = portalPolicy("--guest-validity", "24h", "--expiry-notice", "2h", "--guest-max-validity", "3d")
	want := storage.GuestType{Name: "daily", Description: "Self-registered guests", DefaultDuration: 24 * time.Hour,
		ExpiryNotice: 2 * time.Hour, MaxDuration: 72 * time.Hour}
	if err != nil || len(pol.GuestTypes) != 1 || pol.GuestTypes[0] != want {
		t.Fatalf("default type flags: %+v, %v; want %+v", pol.GuestTypes, err, want)
	}
	// Only the notice: the rest at the defaults.
	pol, err = portalPolicy("--expiry-notice", "off")
	if err != nil || len(pol.GuestTypes) != 1 || pol.GuestTypes[0].ExpiryNotice != -1 ||
		pol.GuestTypes[0].DefaultDuration != portal.DefaultGuestValidity || pol.GuestTypes[0].MaxDuration != portal.DefaultGuestMaxValidity {
		t.Fatalf("--expiry-notice off: %+v, %v", pol.GuestTypes, err)
	}
	// A validity beyond the default maximum raises the maximum with it.
	if pol, err = portalPolicy("--guest-validity", "10d"); err != nil || pol.GuestTypes[0].MaxDuration != 10*24*time.Hour {
		t.Fatalf("--guest-validity 10d: %+v, %v", pol.GuestTypes, err)
	}

	pol, err = portalPolicy("--guest-type", "contractor:30d:3d:90d", "--guest-type", "visitor:8h", "--guest-type", "quiet:2d:off",
		"--default-guest-type", "visitor")
	if err != nil {
		t.Fatal(err)
	}
	wantTypes := []storage.GuestType{
		{Name: "contractor", DefaultDuration: 30 * 24 * time.Hour, ExpiryNotice: 3 * 24 * time.Hour, MaxDuration: 90 * 24 * time.Hour},
		{Name: "visitor", DefaultDuration: 8 * time.Hour, MaxDuration: 8 * time.Hour},
		{Name: "quiet", DefaultDuration: 48 * time.Hour, ExpiryNotice: -1, MaxDuration: 48 * time.Hour},
	}
	if len(pol.GuestTypes) != len(wantTypes) || pol.DefaultGuestType != "visitor" {
		t.Fatalf("--guest-type: %+v (default %q)", pol.GuestTypes, pol.DefaultGuestType)
	}
	for i := range wantTypes {
		if pol.GuestTypes[i] != wantTypes[i] {
			t.Errorf("--guest-type %d = %+v, want %+v", i, pol.GuestTypes[i], wantTypes[i])
		}
	}

	t.Setenv("LOBBY_GUEST_TYPES", "a:1d, b:12h:1h")
	if pol, err = portalPolicy(); err != nil || len(pol.GuestTypes) != 2 || pol.GuestTypes[1].ExpiryNotice != time.Hour {
		t.Fatalf("LOBBY_GUEST_TYPES: %+v, %v", pol.GuestTypes, err)
	}
}

func TestGuestTypeFlagErrors(t *testing.T) {
	t.Parallel()
	for _, c := range []struct {
		args []string
		want string
	}{
		{[]string{"--guest-validity", "soon"}, `--guest-validity "soon": use a positive duration`},
		{[]string{"--guest-validity", "0"}, `--guest-validity "0": use a positive duration`},
		{[]string{"--expiry-notice", "2 hours"}, `--expiry-notice "2 hours": use a duration such as 2h`},
		{[]string{"--expiry-notice", "24h"}, "the expiry notice 24h0m0s must be shorter than the validity 24h0m0s"},
		{[]string{"--guest-validity", "8d", "--guest-max-validity", "3d"}, "the maximum validity 72h0m0s is shorter than the validity 192h0m0s"},
		{[]string{"--guest-type", "contractor"}, "write name:validity[:notice[:max]]"},
		{[]string{"--guest-type", "Contractor:1d"}, "the name must be 1 to 64 lower-case letters"},
		{[]string{"--guest-type", "c:1d:1h:2d:3d"}, "write name:validity[:notice[:max]]"},
		{[]string{"--guest-type", "c:a week"}, `the validity "a week" is not a duration`},
		{[]string{"--guest-type", "c:1d:2x"}, `the expiry notice "2x" is not a duration or off`},
		{[]string{"--guest-type", "c:1d:1h:1h"}, "the maximum validity 1h0m0s is shorter than the validity 24h0m0s"},
		{[]string{"--guest-type", "c:1d", "--guest-type", "c:2d"}, `guest type "c" is given twice`},
		{[]string{"--guest-type", "daily:1d", "--expiry-notice", "1h"}, `the default guest type "daily" is given both by --guest-type and by`},
		{[]string{"--default-guest-type", "Day Guests"}, `--default-guest-type "Day Guests"`},
	} {
		_, err := portalPolicy(c.args...)
		if err == nil || !errors.Is(err, errUsage) || !strings.Contains(err.Error(), c.want) {
			t.Errorf("%q: err = %v; want a usage error saying %q", c.args, err, c.want)
		}
	}
}
