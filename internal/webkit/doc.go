// Package webkit holds the small HTTP helpers that Lobby's guest, sponsor and
// admin sides share: signed session cookies rotated at sign-in, CSRF tokens
// for every form post, per-client rate limits answering 429 with Retry-After,
// request body limits, signed expiring tokens for links, security headers,
// html/template pages parsed once at start-up with a common layout, form
// fields with their error messages, and content-hashed static assets.
//
// Every component is built by a constructor from explicit settings; nothing
// here keeps package-level mutable state. Handlers built on webkit expect
// their mount prefix stripped and link with relative URLs, so they work
// under any prefix.
package webkit
