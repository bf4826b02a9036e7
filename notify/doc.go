// Package notify gets an email out.
//
// It owns the SMTP server settings ([Settings]) and their validation, the
// Microsoft Exchange Online token source with its cache ([TokenCache]: Entra ID
// client-credentials grant, one cached token per settings version, refreshed a
// margin before expiry, fetched once however many senders ask), the SMTP
// transport ([Transport]: go-mail, SASL XOAUTH2 or a password over STARTTLS or
// implicit TLS, extra trusted CA certificates, an optional proxy, a pool of
// reused connections), the connection test the admin page runs before it saves
// settings ([TestConnection]), and the diagnosis that turns any delivery error
// into a code, a plain message and a hint ([Diagnose]).
//
// The retry pool with its futures, the outbox and the notification templates
// live in this package too, in their own files. The pool ([Dispatcher]) is
// split by concern: dispatcher.go (config, Track, Submit, Run, Shutdown),
// registry.go (the unresolved Futures and how each is followed), worker.go
// (lease by ID, attempt), poller.go (due messages for ready workers, status of
// followed messages), outcome.go (recording sent, deferred or dead) and
// policy.go (the retry/dead-letter decision as a pure function).
//
// Secrets (the client secret, the SMTP password and access tokens) never appear
// in logs, error strings or diagnoses: [Settings] prints and logs itself
// redacted, and tokens are only ever written to the SMTP connection, and only
// once it is encrypted.
//
// The package knows nothing about guests; notify/exchangetest is a loopback
// emulator of the Entra ID token endpoint and Exchange Online SMTP submission
// for tests and for development.
package notify
