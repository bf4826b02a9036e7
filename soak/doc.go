// Package soak is Lobby's fault suite. Its tests build the lobby binary, run
// `lobby serve` as child processes on loopback ports, register guests over
// HTTP through the real portal, and break things for real while they do:
// SIGKILL mid-burst, the SMTP server gone, the token endpoint down across a
// token's refresh point, the database restarted, one of two replicas killed.
// The Exchange Online emulator runs in the test process, so deliveries are
// counted outside the processes that are killed.
//
// Each run prints one table: per scenario, the registrations accepted (the
// portal answered the success redirect), delivered, lost (accepted, never
// delivered by the drain deadline) and duplicated (extra copies: delivery is
// at least once). A test fails when anything accepted was lost.
//
// `make test` runs a short subset (TestFaultsShort, under a minute);
// `make soak` runs the whole suite (go test -tags soak), about six minutes on
// two cores, most of it waiting out the lease of mail a killed process held.
// LOBBY_SOAK_BINARY names a lobby binary to put through the suite instead of
// one built from this checkout. There is no code here outside the tests.
package soak
