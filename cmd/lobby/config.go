package main

import (
	"cmp"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/lobbyhq/lobby"
	"github.com/lobbyhq/lobby/storage"
)

// common holds the settings every command that opens the store shares.
type common struct {
	DatabaseURL string
	DataDir     string
	SecretKey   string
	LogLevel    string
	LogFormat   string
}

const defaultDataDir = "lobby-data"

// env returns the value of LOBBY_<name>, or def.
func env(name, def string) string {
	if v, ok := os.LookupEnv("LOBBY_" + name); ok && v != "" {
		return v
	}
	return def
}

// envDuration returns LOBBY_<name> as a duration, or def when it is unset.
// A value that does not parse is an error: silently running with the
// default would hide the operator's mistake.
func envDuration(name string, def time.Duration) (time.Duration, error) {
	v := env(name, "")
	if v == "" {
		return def, nil
	}
	d, err := time.ParseDuration(v)
	if err != nil {
		return 0, fmt.Errorf("%w: LOBBY_%s=%q is not a duration (use a value such as 30s or 2m)", errUsage, name, v)
	}
	return d, nil
}

func (c *common) register(fs *flag.FlagSet) {
	fs.StringVar(&c.DataDir, "data-dir", env("DATA_DIR", defaultDataDir), "directory for the SQLite file and the generated secret key (LOBBY_DATA_DIR)")
	fs.StringVar(&c.DatabaseURL, "database-url", env("DATABASE_URL", ""), "postgres://… URL, or a SQLite file path; default DATA_DIR/lobby.db (LOBBY_DATABASE_URL)")
	fs.StringVar(&c.SecretKey, "secret-key", "", "32-byte key, base64 or hex, that seals secrets at rest (LOBBY_SECRET_KEY; prefer the variable)")
	fs.StringVar(&c.LogLevel, "log-level", env("LOG_LEVEL", "info"), "debug, info, warn or error (LOBBY_LOG_LEVEL)")
	fs.StringVar(&c.LogFormat, "log-format", env("LOG_FORMAT", "text"), "text or json (LOBBY_LOG_FORMAT)")
}

// database returns the database URL, defaulting to the SQLite file.
func (c *common) database() string {
	if c.DatabaseURL != "" {
		return c.DatabaseURL
	}
	return filepath.Join(c.DataDir, "lobby.db")
}

func isPostgres(url string) bool {
	return strings.HasPrefix(url, "postgres://") || strings.HasPrefix(url, "postgresql://")
}

// key returns the secret key. Order: the flag, LOBBY_SECRET_KEY, then (SQLite
// only) DATA_DIR/secret.key, generated with mode 0600 on first run. With
// Postgres the key must be given: a generated one on one node would not open
// another node's secrets.
func (c *common) key(stderr io.Writer) ([]byte, error) {
	if v := cmp.Or(c.SecretKey, os.Getenv("LOBBY_SECRET_KEY")); v != "" {
		k, err := storage.ParseKey(v)
		if err != nil {
			return nil, fmt.Errorf("LOBBY_SECRET_KEY: %w", err)
		}
		return k, nil
	}
	if isPostgres(c.database()) {
		return nil, errors.New("LOBBY_SECRET_KEY is required with Postgres (every node needs the same key); " +
			"generate one with: openssl rand -base64 32")
	}
	path := filepath.Join(c.DataDir, "secret.key")
	key, created, err := lobby.LoadOrCreateKey(path)
	if err != nil {
		return nil, err
	}
	if created {
		fmt.Fprintf(stderr, "lobby: generated a new secret key in %s (mode 0600); back it up with the database\n", path)
	}
	return key, nil
}

func (c *common) logger(w io.Writer) (*slog.Logger, error) {
	var lvl slog.Level
	if err := lvl.UnmarshalText([]byte(c.LogLevel)); err != nil {
		return nil, fmt.Errorf("%w: --log-level %q: use debug, info, warn or error", errUsage, c.LogLevel)
	}
	opts := &slog.HandlerOptions{Level: lvl}
	switch c.LogFormat {
	case "text":
		return slog.New(slog.NewTextHandler(w, opts)), nil
	case "json":
		return slog.New(slog.NewJSONHandler(w, opts)), nil
	}
	return nil, fmt.Errorf("%w: --log-format %q: use text or json", errUsage, c.LogFormat)
}

// parse parses args with fs, turning flag errors into usage errors.
func parse(fs *flag.FlagSet, args []string) error {
	fs.SetOutput(io.Discard)
	if err := fs.Parse(args); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			fs.SetOutput(os.Stdout)
			fs.PrintDefaults()
			return err
		}
		return fmt.Errorf("%w: %s %v", errUsage, fs.Name(), err)
	}
	if fs.NArg() > 0 {
		return fmt.Errorf("%w: %s: unexpected argument %q", errUsage, fs.Name(), fs.Arg(0))
	}
	return nil
}
