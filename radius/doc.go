// Package radius owns Lobby's RADIUS integration: the HTTP endpoint that
// FreeRADIUS's rlm_rest module calls so that a wireless controller running
// web authentication can check a guest's portal credentials with RADIUS
// (PAP), and record the guest's network sessions (accounting).
//
// FreeRADIUS speaks RADIUS to the controller; for each Access-Request with
// a User-Password it POSTs the request's attributes as rlm_rest's JSON to
// /authenticate, and answers Access-Accept on 200 (with the
// Session-Timeout set to the guest's remaining validity) or Access-Reject
// on 401. Accounting-Requests go to /accounting. The rules themselves
// (who may sign in, what is logged and audited) are package guest's.
//
// Only FreeRADIUS may call the endpoint: every request carries the shared
// secret as "Authorization: Bearer <secret>", compared in constant time.
// The secret travels in the clear over plain HTTP, as do the guests'
// passwords: keep the endpoint on loopback (FreeRADIUS on the same host) or
// behind TLS. The files under deploy/freeradius and docs/freeradius.md set
// FreeRADIUS up.
package radius
