// Package guest owns the guest rules: who may do what to a guest, and what
// each action changes, sends and records. It knows nothing of HTTP: every
// caller (the guest portal, the sponsor pages, the admin pages, an API)
// calls a [Service] with a context and an [Actor] and gets an outcome or a
// typed error ([ErrForbidden], [ErrInvalid], [ErrState], [ErrNotFound],
// [ErrConflict]) whose message says what to do next.
//
// Every change is one transaction with the email it sends (queued in the
// outbox, handed to the [Mailer] after the commit) and an audit entry, and
// applies only if the guest is still as it was read, so that two people
// acting at once get ErrConflict rather than a lost update.
package guest
