// Package portal is Lobby's guest side: the self-registration page with its
// acceptable-use terms and optional sponsor approval, the success page that
// waits briefly on the credentials email, guest sign-in and sign-out,
// "email me my credentials again", and the guest account rules (usernames,
// passwords, guest types, validity). RunJobs runs the guest lifecycle jobs:
// expiry notices and expiring guests.
//
// Portal.Handler is a plain http.Handler that expects its mount prefix
// stripped and links with relative URLs, so it works under any prefix.
// Links in emails use Config.BaseURL.
package portal
