// Package api is Lobby's JSON REST API, /api/v1: what sponsors do on the
// sponsor pages (list and search guests, read one, create one or a batch,
// send credentials again, reset a password, extend, suspend and reinstate,
// delete, approve and deny), for scripts and other systems.
//
// Every request carries a staff user's API token (Authorization: Bearer
// lobby_…), made on the sponsor portal's "API tokens" page or with "lobby
// token add". The token acts as its staff user with their sponsor group's
// permissions as they are at the time of the request, through the same
// guest rules (package guest) as the pages, and every change is audited
// with the staff user as actor, "via API". Errors are RFC 9457 problem
// details (application/problem+json). Each token has its own rate limit.
// The OpenAPI document is served at /api/v1/openapi.json.
//
// The package owns no rules of its own: handlers read the request, call
// package guest and write JSON.
package api
