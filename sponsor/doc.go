// Package sponsor is the sponsor side of Lobby: one sign-in page for
// sponsors and admins (throttled per account and per client), sign-out,
// changing one's own password, the list of guests (search, status filter,
// sort, pages; scoped to the guests a sponsor sponsors unless their group
// has ManageAll) and a guest's page with its history.
//
// It renders pages and reads requests; the guest rules (approve, resend,
// extend, …) belong to the guest rules package and are wired in through
// Config as they arrive. Handler expects its mount prefix stripped.
package sponsor
