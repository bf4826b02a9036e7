// Package admin is the admin side of Lobby: the pages an administrator uses
// to run Lobby without a shell. It owns the SMTP server settings (with the
// save gated by a passing Test Connection), the trusted CA certificates and
// Send Test Email; the other sections (alarms, mail log, guest types,
// portal, templates, staff, audit log, export and import) are added as pages
// on the same shell.
//
// It does not sign anyone in: the staff sign-in is the sponsor side's, and
// the host gives the signed-in user through [StaffSource]. Every page
// requires the admin role.
package admin
