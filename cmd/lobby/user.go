package main

import (
	"context"
	"crypto/rand"
	"errors"
	"flag"
	"fmt"
	"io"
	"strings"

	"github.com/lobbyhq/lobby"
	"github.com/lobbyhq/lobby/internal/passhash"
	"github.com/lobbyhq/lobby/storage"
)

// cmdUser manages staff users: "lobby user add".
func cmdUser(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	if len(args) == 0 || args[0] != "add" {
		return fmt.Errorf("%w: lobby user add --username U --role sponsor|admin [--email E] [--name N] [--group G]", errUsage)
	}
	fs := flag.NewFlagSet("user add", flag.ContinueOnError)
	var c common
	c.register(fs)
	username := fs.String("username", "", "sign-in name (required)")
	role := fs.String("role", "sponsor", "sponsor or admin")
	email := fs.String("email", "", "email address")
	name := fs.String("name", "", "display name")
	group := fs.String("group", "", "sponsor group (default: "+storage.DefaultSponsorGroup+")")
	if err := parse(fs, args[1:]); err != nil {
		return err
	}
	if *username == "" {
		return fmt.Errorf("%w: user add: --username is required", errUsage)
	}
	r := storage.Role(*role)
	if r != storage.RoleSponsor && r != storage.RoleAdmin {
		return fmt.Errorf("%w: user add: --role must be sponsor or admin, not %q", errUsage, *role)
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
	password, err := addStaff(ctx, st, *username, *email, *name, r, *group)
	if err != nil {
		return err
	}
	fmt.Fprintf(stdout, "created %s %q\npassword (shown once): %s\n", r, *username, password)
	return nil
}

// addStaff creates a staff user with a generated password and returns it.
func addStaff(ctx context.Context, st storage.Store, username, email, name string, role storage.Role, group string) (string, error) {
	if group != "" {
		if _, err := st.GetSponsorGroup(ctx, group); errors.Is(err, storage.ErrNotFound) {
			return "", fmt.Errorf("%w: user add: there is no sponsor group %q (the default group is %q)", errUsage, group, storage.DefaultSponsorGroup)
		} else if err != nil {
			return "", fmt.Errorf("look up sponsor group: %w", err)
		}
	}
	password := rand.Text() // 26 base32 characters, 130 bits
	hash, err := passhash.Hash(password)
	if err != nil {
		return "", fmt.Errorf("hash password: %w", err)
	}
	s := &storage.Staff{
		Username:     strings.ToLower(username),
		Email:        email,
		DisplayName:  name,
		Role:         role,
		PasswordHash: hash,
		Group:        group,
	}
	if err := st.CreateStaff(ctx, s); err != nil {
		if errors.Is(err, storage.ErrConflict) {
			return "", fmt.Errorf("a staff user named %q already exists", username)
		}
		return "", fmt.Errorf("create staff user: %w", err)
	}
	return password, nil
}
