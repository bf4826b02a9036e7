package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"os/signal"
	"strings"
	"syscall"
)

// version is set at build time with -ldflags "-X main.version=...".
var version = "dev"

const usage = `Lobby — guest access portal

Usage:
  lobby serve [--dev] [flags]        start the HTTP server
  lobby migrate [flags]              apply database migrations and exit
  lobby user add --username U --role sponsor|admin [--email E]
                                     create a staff user (prints a generated password once)
  lobby token add --user NAME [--name N] [--expires 90d]
                                     make a REST API token for a staff user (printed once);
                                     also: lobby token list [--user NAME], lobby token revoke --id ID
  lobby test-connection [flags]      check SMTP delivery step by step; sends nothing
  lobby send-test-email --to ADDR [--count N]
                                     send test emails through the retry pool and wait for the results
  lobby settings export [-o FILE]    write the settings as JSON, without secrets
  lobby settings import FILE         read settings exported before; stored secrets are kept
  lobby version                      print the version

Run "lobby COMMAND -h" for a command's flags. Every flag can also be set
with the LOBBY_* environment variable named in its help.
`

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	code := run(ctx, os.Args[1:], os.Stdout, os.Stderr)
	stop()
	os.Exit(code)
}

// run executes one command and returns the process exit status.
func run(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	if len(args) == 0 {
		fmt.Fprint(stderr, usage)
		return 2
	}
	var err error
	switch cmd, rest := args[0], args[1:]; cmd {
	case "serve":
		err = cmdServe(ctx, rest, stdout, stderr)
	case "migrate":
		err = cmdMigrate(ctx, rest, stdout, stderr)
	case "user":
		err = cmdUser(ctx, rest, stdout, stderr)
	case "token":
		err = cmdToken(ctx, rest, stdout, stderr)
	case "test-connection":
		err = cmdTestConnection(ctx, rest, stdout, stderr)
	case "send-test-email":
		err = cmdSendTestEmail(ctx, rest, stdout, stderr)
	case "settings":
		err = cmdSettings(ctx, rest, stdout, stderr)
	case "version", "--version", "-v":
		fmt.Fprintf(stdout, "lobby %s\n", version)
	case "help", "-h", "--help":
		fmt.Fprint(stdout, usage)
	default:
		fmt.Fprintf(stderr, "lobby: unknown command %q\n\n%s", cmd, usage)
		return 2
	}
	switch {
	case err == nil:
		return 0
	case errors.Is(err, flag.ErrHelp):
		return 0
	case errors.Is(err, errUsage):
		fmt.Fprintln(stderr, prefixed(err))
		return 2
	default:
		fmt.Fprintln(stderr, prefixed(err))
		return 1
	}
}

var errUsage = errors.New("usage")

// prefixed names the program before err, once: errors from package lobby
// already start with "lobby: ".
func prefixed(err error) string {
	msg := err.Error()
	if strings.HasPrefix(msg, "lobby: ") {
		return msg
	}
	return "lobby: " + msg
}
