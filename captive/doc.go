// Package captive owns Lobby's captive-portal API (RFC 8908): the JSON
// document that tells a client's operating system whether the network
// still holds it captive, where the guest portal is, and how long its
// access lasts.
//
// The API identifies the client by its guest session cookie when it sends
// one. Operating systems fetch the API without the browser's cookies, so
// otherwise it goes by the client's address: API remembers, per process
// and bounded in number, the latest guest sign-in from each address
// (SignedIn), and answers for that guest while the gate still admits them
// on that session. A client it cannot tie to an admitted guest is captive.
//
// RFC 8908 requires the API's URI to be HTTPS; the network announces it
// with DHCP option 114 or the IPv6 RA option of RFC 8910 (see
// docs/captive-portal.md).
package captive
