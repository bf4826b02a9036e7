package main

import (
	"context"
	"flag"
	"fmt"
	"io"
	"os"
	"strings"
	"time"

	"github.com/lobbyhq/lobby"
	"github.com/lobbyhq/lobby/storage"
)

const settingsUsage = "lobby settings export [-o FILE] | lobby settings import FILE"

// cmdSettings exports and imports the settings as JSON, without secrets:
// "lobby settings export [-o FILE]" and "lobby settings import FILE".
func cmdSettings(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	if len(args) == 0 {
		return fmt.Errorf("%w: %s", errUsage, settingsUsage)
	}
	switch args[0] {
	case "export":
		return settingsExport(ctx, args[1:], stdout, stderr)
	case "import":
		return settingsImport(ctx, args[1:], stdout, stderr)
	}
	return fmt.Errorf("%w: unknown settings command %q: %s", errUsage, args[0], settingsUsage)
}

func settingsExport(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	fs := flag.NewFlagSet("settings export", flag.ContinueOnError)
	var c common
	c.register(fs)
	out := fs.String("o", "", "write the settings to this file (created with mode 0600) instead of standard output")
	if err := parse(fs, args); err != nil {
		return err
	}
	st, err := openSettingsStore(ctx, &c, stderr)
	if err != nil {
		return err
	}
	defer st.Close()
	data, err := lobby.ExportSettings(ctx, st, time.Now())
	if err != nil {
		return err
	}
	if *out == "" {
		_, err = stdout.Write(data)
		return err
	}
	if err := os.WriteFile(*out, data, 0o600); err != nil {
		return fmt.Errorf("settings export: %w", err)
	}
	fmt.Fprintf(stderr, "settings exported to %s (without secrets: set the client secret and passwords again after an import into a new installation)\n", *out)
	return nil
}

func settingsImport(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	fs := flag.NewFlagSet("settings import", flag.ContinueOnError)
	var c common
	c.register(fs)
	// FILE comes right after "import", or last (not as the value of a
	// flag: every flag here takes a value).
	var file string
	switch n := len(args); {
	case n > 0 && !strings.HasPrefix(args[0], "-"):
		file, args = args[0], args[1:]
	case n > 0 && !strings.HasPrefix(args[n-1], "-") &&
		(n == 1 || !strings.HasPrefix(args[n-2], "-") || strings.Contains(args[n-2], "=")):
		file, args = args[n-1], args[:n-1]
	}
	if err := parse(fs, args); err != nil {
		return err
	}
	if file == "" {
		return fmt.Errorf("%w: settings import: give the file to import: %s", errUsage, settingsUsage)
	}
	data, err := os.ReadFile(file)
	if err != nil {
		return fmt.Errorf("settings import: %w", err)
	}
	st, err := openSettingsStore(ctx, &c, stderr)
	if err != nil {
		return err
	}
	defer st.Close()
	const actor = "system:cli"
	rep, err := lobby.ImportSettings(ctx, st, data, actor)
	if err != nil {
		return err
	}
	detail := fmt.Sprintf("settings %v, %d guest types, %d sponsor groups; secrets kept %v, ignored %v",
		rep.Settings, rep.GuestTypes, rep.SponsorGroups, rep.SecretsKept, rep.SecretsIgnored)
	if err := st.Audit(ctx, storage.AuditEntry{Actor: actor, Action: "settings.import", Subject: file, Detail: detail}); err != nil {
		return fmt.Errorf("settings import: the settings were imported, but the audit entry was not written: %w", err)
	}
	fmt.Fprintf(stdout, "imported: %s\n", detail)
	if len(rep.SecretsIgnored) > 0 {
		fmt.Fprintln(stdout, "The file had secret fields; they were not imported. Set secrets on their settings page.")
	}
	if len(rep.Settings) > 0 {
		fmt.Fprintln(stdout, "Run lobby test-connection (or Test Connection on the SMTP settings page) to check the imported SMTP settings.")
	}
	return nil
}

// openSettingsStore opens the store the common flags name.
func openSettingsStore(ctx context.Context, c *common, stderr io.Writer) (storage.Store, error) {
	key, err := c.key(stderr)
	if err != nil {
		return nil, err
	}
	return lobby.OpenStore(ctx, c.database(), key)
}
