package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"text/tabwriter"
	"time"

	"github.com/google/uuid"

	"github.com/lobbyhq/lobby"
	"github.com/lobbyhq/lobby/guest"
	"github.com/lobbyhq/lobby/storage"
)

const tokenUsage = "lobby token add --user NAME [--name N] [--expires 90d] | lobby token list [--user NAME] | lobby token revoke --id ID"

// cmdToken manages staff users' REST API tokens: "lobby token add|list|revoke".
func cmdToken(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	if len(args) == 0 {
		return fmt.Errorf("%w: %s", errUsage, tokenUsage)
	}
	fs := flag.NewFlagSet("token "+args[0], flag.ContinueOnError)
	var c common
	c.register(fs)
	user := fs.String("user", "", "the staff user the token acts as (add: required; list: only theirs)")
	name := fs.String("name", "command line", "what the token is for (add)")
	idFlag := fs.String("id", "", "the token's ID, from lobby token list (revoke)")
	expires := fs.String("expires", "", "how long the token works, such as 90d or 1w (add; default: until revoked)")
	switch args[0] {
	case "add", "list", "revoke":
	default:
		return fmt.Errorf("%w: unknown token command %q: %s", errUsage, args[0], tokenUsage)
	}
	if err := parse(fs, args[1:]); err != nil {
		return err
	}
	var revoke uuid.UUID
	switch {
	case args[0] == "add" && *user == "":
		return fmt.Errorf("%w: token add: --user is required", errUsage)
	case args[0] == "revoke":
		id, err := uuid.Parse(*idFlag)
		if err != nil {
			return fmt.Errorf("%w: token revoke: give the token's ID as --id (from lobby token list)", errUsage)
		}
		revoke = id
	}
	var ttl time.Duration
	if *expires != "" {
		d, err := guest.ParseDuration(*expires)
		if err != nil {
			return fmt.Errorf("%w: token add: --expires %q: write a number and a unit, such as 90d or 1w", errUsage, *expires)
		}
		ttl = d
	}
	key, err := c.key(stderr)
	if err != nil {
		return err
	}
	st, err := lobby.OpenStore(ctx, c.database(), key)
	if err != nil {
		return err
	}
	defer st.Close()
	var owner *storage.Staff
	if *user != "" {
		if owner, err = st.GetStaffByUsername(ctx, *user); errors.Is(err, storage.ErrNotFound) {
			return fmt.Errorf("token: there is no staff user %q; create one with lobby user add", *user)
		} else if err != nil {
			return fmt.Errorf("token: look up %q: %w", *user, err)
		}
	}
	switch args[0] {
	case "add":
		now := time.Now()
		var exp time.Time
		if ttl > 0 {
			exp = now.Add(ttl)
		}
		tok, rec, err := guest.NewAPIToken(ctx, st, guest.System(), owner, *name, exp, now)
		if err != nil {
			return err
		}
		until := "until revoked"
		if !exp.IsZero() {
			until = "until " + exp.UTC().Format(time.RFC3339)
		}
		fmt.Fprintf(stdout, "created API token %s for %q, working %s\ntoken (shown once): %s\n", rec.ID, owner.Username, until, tok)
	case "list":
		var id uuid.UUID
		if owner != nil {
			id = owner.ID
		}
		return listTokens(ctx, st, id, stdout)
	case "revoke":
		if err := guest.RevokeAPIToken(ctx, st, guest.System(), revoke); err != nil {
			return err
		}
		fmt.Fprintf(stdout, "revoked API token %s\n", revoke)
	}
	return nil
}

// listTokens prints the tokens of staff user id (uuid.Nil: everyone's).
func listTokens(ctx context.Context, st storage.Store, id uuid.UUID, stdout io.Writer) error {
	tokens, err := st.ListAPITokens(ctx, id)
	if err != nil {
		return fmt.Errorf("token list: %w", err)
	}
	staff, err := st.ListStaff(ctx)
	if err != nil {
		return fmt.Errorf("token list: %w", err)
	}
	names := map[uuid.UUID]string{}
	for _, s := range staff {
		names[s.ID] = s.Username
	}
	tw := tabwriter.NewWriter(stdout, 0, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "ID\tUSER\tNAME\tTOKEN\tCREATED\tEXPIRES\tLAST USED")
	stamp := func(t time.Time) string {
		if t.IsZero() {
			return "-"
		}
		return t.UTC().Format(time.RFC3339)
	}
	for _, t := range tokens {
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s…\t%s\t%s\t%s\n", t.ID, names[t.StaffID], t.Name, t.Hint, stamp(t.CreatedAt), stamp(t.ExpiresAt), stamp(t.LastUsedAt))
	}
	return tw.Flush()
}
