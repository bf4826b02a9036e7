// Package sponsor is the sponsor side of Lobby: one sign-in page for
// sponsors and admins (throttled per account and per client), sign-out,
// changing one's own password, the list of guests (search, status filter,
// sort, pages; scoped to the guests a sponsor sponsors unless their group
// has ManageAll), a guest's page with its history, and creating guests:
// one (create.go), a batch with its printable sheet and CSV (batch.go), an
// import from a CSV file (import.go).
//
// It renders pages and reads requests; the guest rules (create, batch,
// approve, resend, extend, …) belong to the guest rules package and come
// in through Config.Guests. Handler expects its mount prefix stripped.
package sponsor
