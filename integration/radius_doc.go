// Package integration runs Lobby behind the real programs it integrates
// with, from Debian's packages: FreeRADIUS (radius_*_test.go), nginx and
// Caddy. The tests carry the build tag integration, so `go test ./...`
// leaves them out; run them with `make integration`. A test whose program
// is missing is skipped with the package to install, and fails under
// CI=true (.ci/run installs them).
//
// The package holds no code of its own outside its tests.
package integration
