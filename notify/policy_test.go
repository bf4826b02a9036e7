package notify

import (
	"testing"
	"time"
)

func TestDecide(t *testing.T) {
	t.Parallel()
	p := retryPolicy{MaxAttempts: 3, RetryFor: time.Hour, BaseBackoff: 5 * time.Second, MaxBackoff: time.Minute}
	now := time.Date(2026, 3, 2, 9, 0, 0, 0, time.UTC)
	busy := Diagnosis{Code: CodeServerBusy, Temporary: true}
	permanent := Diagnosis{Code: CodeSendAsDenied}
	canceled := Diagnosis{Code: CodeCanceled, Temporary: true}
	noSMTP := Diagnosis{Code: codeSMTPNotConfigured, Temporary: true}
	noRead := Diagnosis{Code: codeSettingsUnavailable, Temporary: true}
	young, old := now.Add(-time.Minute), now.Add(-2*time.Hour)

	for _, tc := range []struct {
		name string
		try  failedTry
		r    float64
		want decision
	}{
		{"permanent at the first attempt", failedTry{Attempts: 1, Created: young, Diagnosis: permanent}, 0.5,
			decision{Verdict: verdictDead}},
		{"permanent during shutdown stands", failedTry{Attempts: 1, Created: young, Diagnosis: permanent, Interrupted: true}, 0.5,
			decision{Verdict: verdictDead}},
		{"temporary, first attempt", failedTry{Attempts: 1, Created: young, Diagnosis: busy}, 0.5,
			decision{Verdict: verdictDefer, Next: now.Add(5 * time.Second)}},
		{"temporary, jitter low", failedTry{Attempts: 1, Created: young, Diagnosis: busy}, 0,
			decision{Verdict: verdictDefer, Next: now.Add(4 * time.Second)}},
		{"temporary, second attempt doubles", failedTry{Attempts: 2, Created: young, Diagnosis: busy}, 0.5,
			decision{Verdict: verdictDefer, Next: now.Add(10 * time.Second)}},
		{"temporary, backoff capped", failedTry{Attempts: 9, Created: young, Diagnosis: busy}, 0.5,
			decision{Verdict: verdictDefer, Next: now.Add(time.Minute)}},
		{"attempts used up but young: retried", failedTry{Attempts: 3, Created: young, Diagnosis: busy}, 0.5,
			decision{Verdict: verdictDefer, Next: now.Add(20 * time.Second)}},
		{"old but attempts left: retried", failedTry{Attempts: 2, Created: old, Diagnosis: busy}, 0.5,
			decision{Verdict: verdictDefer, Next: now.Add(10 * time.Second)}},
		{"attempts used up and old: dead", failedTry{Attempts: 3, Created: old, Diagnosis: busy}, 0.5,
			decision{Verdict: verdictDead}},
		{"exactly RetryFor old: dead", failedTry{Attempts: 3, Created: now.Add(-time.Hour), Diagnosis: busy}, 0.5,
			decision{Verdict: verdictDead}},
		{"interrupted by shutdown: postponed to now", failedTry{Attempts: 3, Created: old, Diagnosis: canceled, Interrupted: true}, 0.5,
			decision{Verdict: verdictPostpone, Next: now}},
		{"canceled but not by shutdown: an attempt", failedTry{Attempts: 1, Created: young, Diagnosis: canceled}, 0.5,
			decision{Verdict: verdictDefer, Next: now.Add(5 * time.Second)}},
		{"no SMTP settings: postponed, however old", failedTry{Attempts: 50, Created: old, Diagnosis: noSMTP}, 0.5,
			decision{Verdict: verdictPostpone, Next: now.Add(settingsRetryDelay)}},
		{"settings unreadable: postponed", failedTry{Attempts: 50, Created: old, Diagnosis: noRead}, 0.5,
			decision{Verdict: verdictPostpone, Next: now.Add(settingsRetryDelay)}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			got := decide(p, tc.try, now, tc.r)
			if got.Verdict != tc.want.Verdict || !got.Next.Equal(tc.want.Next) {
				t.Errorf("decide = %v at %v, want %v at %v", got.Verdict, got.Next, tc.want.Verdict, tc.want.Next)
			}
		})
	}
}
