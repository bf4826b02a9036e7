// Package portal is Lobby's guest side: the self-registration page with its
// acceptable-use terms and optional sponsor approval, the success page that
// waits briefly on the credentials email, guest sign-in and sign-out,
// "email me my credentials again", and the approval links. The rules
// behind them (usernames, passwords, guest types, validity, renewal,
// approval) are package guest's: the portal parses forms, keeps cookies
// and rate limits, and calls the guest.Service that Portal.Guests returns.
// RunJobs runs the guest lifecycle jobs (guest.Service.RunJobs): expiry
// notices, expiring guests, and purging guests long expired or denied.
//
// The register and resend pages do not tell which addresses are
// registered. Registering an address whose registration has run its course
// (expired, denied, pending past the approval window) renews it; one whose
// registration is live answers exactly as a new registration and emails
// the address's owner again. Resend answers at once and looks the address
// up in the background; Shutdown waits for that work.
//
// Guest sessions are signed cookies that the server does not keep. Signing
// out ends them all, on every device and copies included, by moving the
// guest's storage.Guest.SessionsValidAfter to now: Portal.Guest refuses a
// session issued at or before it, from the row it reads anyway.
//
// Portal.Handler is a plain http.Handler that expects its mount prefix
// stripped and links with relative URLs, so it works under any prefix.
// Links in emails use Config.BaseURL.
package portal
