// Package e2e is Lobby's browser end-to-end suite: it drives a real headless
// Chromium (through chromedp) against Lobby served in-process with a SQLite
// store and the built-in Exchange Online emulator as its mail, exactly as
// `lobby serve --dev` wires them.
//
// The tests carry the build tag e2e, so `go test ./...` leaves them out; run
// them with `make e2e`. They look for Chromium at LOBBY_CHROMIUM, then at
// /usr/bin/chromium, then as `chromium` on PATH, and are skipped when there is
// none (a failure under CI=true). Screenshots go to a temporary directory, or
// to LOBBY_E2E_SHOTS when it names one.
//
// The package holds no code of its own outside its tests.
package e2e
