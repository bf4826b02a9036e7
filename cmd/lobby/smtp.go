package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"strconv"
	"time"

	"github.com/lobbyhq/lobby"
	"github.com/lobbyhq/lobby/notify"
	"github.com/lobbyhq/lobby/notify/exchangetest"
	"github.com/lobbyhq/lobby/notify/exchangetest/devmail"
	"github.com/lobbyhq/lobby/storage"
)

// smtpFlags are the SMTP settings the operator commands take. A value given
// as a flag wins over LOBBY_SMTP_*, which wins over the settings saved in
// the database (so a stored configuration can be checked as it is, or with
// one field changed).
type smtpFlags struct {
	common
	set          map[string]*string
	caFile       string
	useStored    bool
	dev          bool
	dialTimeout  time.Duration
	secretExpiry string
	save         bool
}

var smtpFields = []struct{ flag, env, help string }{
	{"smtp-host", "SMTP_HOST", "SMTP server, e.g. smtp.office365.com"},
	{"smtp-port", "SMTP_PORT", "SMTP port; default 587 (starttls) or 465 (tls)"},
	{"smtp-security", "SMTP_SECURITY", "starttls, tls or none"},
	{"smtp-from", "SMTP_FROM", "sender address (the mailbox)"},
	{"smtp-auth", "SMTP_AUTH", "none, password or exchange-online-oauth"},
	{"smtp-username", "SMTP_USERNAME", "login (password mode) or XOAUTH2 user; default the From address"},
	{"smtp-password", "SMTP_PASSWORD", "password (password mode); prefer the variable"},
	{"tenant-id", "SMTP_TENANT_ID", "Entra ID directory (tenant) ID"},
	{"client-id", "SMTP_CLIENT_ID", "Entra ID application (client) ID"},
	{"client-secret", "SMTP_CLIENT_SECRET", "the client secret VALUE; prefer the variable"},
	{"token-endpoint", "SMTP_TOKEN_ENDPOINT", "token endpoint base; default https://login.microsoftonline.com"},
	{"proxy", "SMTP_PROXY", "proxy URL for the token endpoint and SMTP (http://, socks5://)"},
}

func (f *smtpFlags) register(fs *flag.FlagSet) error {
	f.common.register(fs)
	f.set = map[string]*string{}
	for _, fld := range smtpFields {
		f.set[fld.flag] = fs.String(fld.flag, "", fld.help+" (LOBBY_"+fld.env+")")
	}
	fs.StringVar(&f.caFile, "ca-file", env("SMTP_CA_FILE", ""), "PEM file of extra trusted CA certificates (LOBBY_SMTP_CA_FILE)")
	fs.StringVar(&f.secretExpiry, "client-secret-expires", env("SMTP_CLIENT_SECRET_EXPIRES", ""), "client secret expiry date, YYYY-MM-DD (LOBBY_SMTP_CLIENT_SECRET_EXPIRES)")
	timeout, err := envDuration("SMTP_TIMEOUT", 0)
	if err != nil {
		return err
	}
	fs.DurationVar(&f.dialTimeout, "timeout", timeout, fmt.Sprintf("connection timeout; default %s (LOBBY_SMTP_TIMEOUT)", notify.DefaultConnTimeout))
	fs.BoolVar(&f.useStored, "stored", true, "start from the SMTP settings saved in the database, when there are any")
	fs.BoolVar(&f.dev, "dev", false, "use a built-in Exchange Online emulator instead (no cloud account needed)")
	return nil
}

// value returns the flag's value, else its LOBBY_ variable.
func (f *smtpFlags) value(name string) string {
	if v := *f.set[name]; v != "" {
		return v
	}
	for _, fld := range smtpFields {
		if fld.flag == name {
			return env(fld.env, "")
		}
	}
	return ""
}

// settings builds and validates the SMTP settings to use. With --dev it
// starts an emulator (returned, to be closed by the caller).
func (f *smtpFlags) settings(ctx context.Context, stderr io.Writer) (notify.Settings, *exchangetest.Server, error) {
	s, emu, err := f.build(ctx, stderr)
	if err == nil {
		if verr := s.Validate(); verr != nil {
			err = fmt.Errorf("the SMTP settings are incomplete: %w", verr)
		}
	}
	if err != nil && emu != nil {
		emu.Close()
		emu = nil
	}
	return s, emu, err
}

// build gathers the SMTP settings from --dev, the database, LOBBY_SMTP_*
// variables and flags, in rising order of precedence.
func (f *smtpFlags) build(ctx context.Context, stderr io.Writer) (notify.Settings, *exchangetest.Server, error) {
	if f.dev {
		emu, err := exchangetest.Start(exchangetest.Options{})
		if err != nil {
			return notify.Settings{}, nil, fmt.Errorf("start the emulator: %w", err)
		}
		return devmail.Settings(emu), emu, nil
	}
	var s notify.Settings
	if f.useStored && f.databaseExists() {
		stored, err := f.loadStored(ctx, stderr)
		switch {
		case err == nil:
			s = stored
		case errors.Is(err, storage.ErrNotFound):
		default:
			return s, nil, err
		}
	}
	str := func(name string, dst *string) {
		if v := f.value(name); v != "" {
			*dst = v
		}
	}
	str("smtp-host", &s.Host)
	str("smtp-from", &s.From)
	str("smtp-username", &s.Username)
	str("smtp-password", &s.Password)
	str("tenant-id", &s.TenantID)
	str("client-id", &s.ClientID)
	str("client-secret", &s.ClientSecret)
	str("token-endpoint", &s.TokenEndpointBase)
	str("proxy", &s.ProxyURL)
	if v := f.value("smtp-security"); v != "" {
		s.Security = notify.Security(v)
	}
	if v := f.value("smtp-auth"); v != "" {
		s.AuthMode = notify.AuthMode(v)
	}
	if v := f.value("smtp-port"); v != "" {
		p, err := strconv.Atoi(v)
		if err != nil {
			return s, nil, fmt.Errorf("%w: --smtp-port %q is not a number", errUsage, v)
		}
		s.Port = p
	}
	if f.dialTimeout > 0 {
		s.ConnTimeout = f.dialTimeout
	}
	if f.secretExpiry != "" {
		t, err := time.Parse(time.DateOnly, f.secretExpiry)
		if err != nil {
			return s, nil, fmt.Errorf("%w: --client-secret-expires %q: use YYYY-MM-DD", errUsage, f.secretExpiry)
		}
		s.ClientSecretExpires = t
	}
	if f.caFile != "" {
		pem, err := os.ReadFile(f.caFile)
		if err != nil {
			return s, nil, fmt.Errorf("read --ca-file: %w", err)
		}
		s.TrustedCAPEM = string(pem)
	}
	if s.Host == "" {
		return s, nil, fmt.Errorf("%w: no SMTP settings: give --smtp-host and the others "+
			"(or LOBBY_SMTP_* variables), then save them with test-connection --save; or try the built-in emulator with --dev", errUsage)
	}
	return s.WithDefaults(), nil, nil
}

// databaseExists avoids creating an empty SQLite file just to look for settings.
func (f *smtpFlags) databaseExists() bool {
	if isPostgres(f.database()) {
		return true
	}
	_, err := os.Stat(f.database())
	return err == nil
}

func (f *smtpFlags) loadStored(ctx context.Context, stderr io.Writer) (notify.Settings, error) {
	key, err := f.key(stderr)
	if err != nil {
		return notify.Settings{}, err
	}
	st, err := lobby.OpenStore(ctx, f.database(), key)
	if err != nil {
		return notify.Settings{}, err
	}
	defer st.Close()
	return notify.LoadSettings(ctx, st)
}

func cmdTestConnection(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	fs := flag.NewFlagSet("test-connection", flag.ContinueOnError)
	var f smtpFlags
	if err := f.register(fs); err != nil {
		return err
	}
	fs.BoolVar(&f.save, "save", false, "save the settings to the database when, and only when, the test passes")
	if err := parse(fs, args); err != nil {
		return err
	}
	s, emu, err := f.settings(ctx, stderr)
	if err != nil {
		return err
	}
	if emu != nil {
		defer emu.Close()
	}
	fmt.Fprintf(stdout, "Testing %s (%s, auth %s); no mail is sent.\n\n", s.Addr(), s.Security, s.AuthMode)
	report := notify.TestConnection(ctx, s)
	fmt.Fprint(stdout, report.String())
	if !report.OK() {
		if f.save {
			fmt.Fprintln(stdout, "Nothing was saved: settings are saved only after a successful test.")
		}
		return errors.New("connection test failed")
	}
	if f.save {
		return f.saveSettings(ctx, s, stdout, stderr)
	}
	return nil
}

// saveSettings stores s as the next version of the SMTP settings.
func (f *smtpFlags) saveSettings(ctx context.Context, s notify.Settings, stdout, stderr io.Writer) error {
	if f.dev {
		return fmt.Errorf("%w: --save with --dev: the emulator's settings change on every start; nothing to save", errUsage)
	}
	key, err := f.key(stderr)
	if err != nil {
		return err
	}
	st, err := lobby.OpenStore(ctx, f.database(), key)
	if err != nil {
		return err
	}
	defer st.Close()
	expect := int64(0)
	if cur, err := notify.LoadSettings(ctx, st); err == nil {
		expect = cur.Version
	} else if !errors.Is(err, storage.ErrNotFound) {
		return err
	}
	saved, err := notify.SaveSettingsBy(ctx, st, s, expect, "cli:test-connection")
	if err != nil {
		return fmt.Errorf("save the SMTP settings: %w", err)
	}
	fmt.Fprintf(stdout, "Saved as version %d of the SMTP settings.\n", saved.Version)
	return nil
}
