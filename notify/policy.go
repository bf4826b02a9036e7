package notify

import "time"

// retryPolicy is the part of [DispatcherConfig] that decides what happens
// to a message after a failed try.
type retryPolicy struct {
	MaxAttempts int
	RetryFor    time.Duration
	BaseBackoff time.Duration
	MaxBackoff  time.Duration
}

// retryPolicy is the config's retry policy.
func (c DispatcherConfig) retryPolicy() retryPolicy {
	return retryPolicy{MaxAttempts: c.MaxAttempts, RetryFor: c.RetryFor, BaseBackoff: c.BaseBackoff, MaxBackoff: c.MaxBackoff}
}

// verdict is what becomes of a message after a failed try.
type verdict int

const (
	// verdictDefer: retried at decision.Next; the try was an attempt
	// (MarkMailDeferred).
	verdictDefer verdict = iota + 1
	// verdictPostpone: retried at decision.Next; the try was not an
	// attempt (PostponeMail): waiting for settings or for a restart must
	// not use up the message's attempts.
	verdictPostpone
	// verdictDead: given up on (MarkMailDead and an alarm).
	verdictDead
)

func (v verdict) String() string {
	switch v {
	case verdictDefer:
		return "defer"
	case verdictPostpone:
		return "postpone"
	case verdictDead:
		return "dead"
	}
	return "unknown"
}

// decision is the outcome of [decide].
type decision struct {
	Verdict verdict
	Next    time.Time // when to try again; zero for verdictDead
}

// failedTry is what the retry decision looks at: the message's attempts so
// far (the failed one included) and when it was created, the diagnosis of
// the failure, and whether the dispatcher's shutdown cut the send off.
type failedTry struct {
	Attempts    int
	Created     time.Time
	Diagnosis   Diagnosis
	Interrupted bool
}

// decide is the retry policy, a pure function of the failed try, the time
// now and a random number r in [0, 1) for the backoff jitter:
//   - a permanent failure dead-letters the message at once;
//   - a send cut off by shutdown is postponed to now (tried again after the
//     restart, or by another node);
//   - missing or unreadable SMTP settings postpone it by settingsRetryDelay,
//     however many attempts it had;
//   - any other temporary failure defers it by [Backoff] as long as it has
//     had fewer than MaxAttempts attempts OR is younger than RetryFor, and
//     dead-letters it once both are used up.
func decide(p retryPolicy, try failedTry, now time.Time, r float64) decision {
	if !try.Diagnosis.Temporary {
		return decision{Verdict: verdictDead}
	}
	noSettings := try.Diagnosis.Code == codeSMTPNotConfigured || try.Diagnosis.Code == codeSettingsUnavailable
	switch {
	case try.Interrupted:
		return decision{Verdict: verdictPostpone, Next: now}
	case noSettings:
		return decision{Verdict: verdictPostpone, Next: now.Add(settingsRetryDelay)}
	case try.Attempts < p.MaxAttempts || now.Sub(try.Created) < p.RetryFor:
		return decision{Verdict: verdictDefer, Next: now.Add(Backoff(try.Attempts, p.BaseBackoff, p.MaxBackoff, r))}
	}
	return decision{Verdict: verdictDead}
}

// settingsRetryDelay is how long a message waits for missing or unreadable
// SMTP settings between attempts, whatever its attempt count.
const settingsRetryDelay = time.Minute

// Codes of the failures to read the SMTP settings (see settingsDiagnosis).
const (
	codeSMTPNotConfigured   = "smtp_not_configured"
	codeSettingsUnavailable = "settings_unavailable"
)
