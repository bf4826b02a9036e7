// Command lobby runs the Lobby guest portal and its operator tools.
//
//	lobby serve [--dev]          start the HTTP server (and, with --dev, the built-in Exchange Online emulator)
//	lobby migrate                apply database migrations and exit
//	lobby user add               create a sponsor or admin
//	lobby test-connection        check SMTP delivery step by step, sending nothing
//	lobby send-test-email --to   send a test email through the retry pool and wait for its result
//	lobby version                print the version
//
// Every flag has a LOBBY_* environment variable; flags win.
package main
