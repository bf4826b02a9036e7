package main

import (
	"context"
	"flag"
	"fmt"
	"io"
	"time"

	"github.com/lobbyhq/lobby"
)

// cmdMigrate applies the embedded migrations. Opening the store migrates, so
// this is start-up without serving: useful before a rolling deploy.
func cmdMigrate(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	fs := flag.NewFlagSet("migrate", flag.ContinueOnError)
	var c common
	c.register(fs)
	if err := parse(fs, args); err != nil {
		return err
	}
	key, err := c.key(stderr)
	if err != nil {
		return err
	}
	start := time.Now()
	st, err := lobby.OpenStore(ctx, c.database(), key)
	if err != nil {
		return err
	}
	defer st.Close()
	fmt.Fprintf(stdout, "lobby: %s database is migrated (%s)\n", st.Backend(), time.Since(start).Round(time.Millisecond))
	return nil
}
