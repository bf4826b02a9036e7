package notify

import (
	"context"
	"fmt"
	"time"

	"github.com/lobbyhq/lobby/storage"
)

// AlarmSecretExpiry is the key of the client-secret expiry alarm.
const AlarmSecretExpiry = "smtp.client_secret_expiry"

// Thresholds of the client-secret expiry alarm.
const (
	secretExpiryWarning  = 30 * 24 * time.Hour // warning at 30 days or less
	secretExpiryCritical = 7 * 24 * time.Hour  // critical at 7 days or less, and once expired
)

// Levels of the client-secret expiry alarm: the alarm keeps its key and
// moves through them, each emailed to the admins once (see [Alarms]).
const (
	SecretLevel30      = "30" // 30 days or less left: warning
	SecretLevel15      = "15" // 15 days or less: warning
	SecretLevel7       = "7"  // 7 days or less: critical
	SecretLevel1       = "1"  // a day or less: critical
	SecretLevelExpired = "expired"
)

// secretLevel is the level of a secret with left to go.
func secretLevel(left time.Duration) string {
	const day = 24 * time.Hour
	switch {
	case left <= 0:
		return SecretLevelExpired
	case left <= day:
		return SecretLevel1
	case left <= 7*day:
		return SecretLevel7
	case left <= 15*day:
		return SecretLevel15
	}
	return SecretLevel30
}

// secretRenewSteps says how to renew the secret; it is the detail of every
// expiry alarm.
const secretRenewSteps = "Lobby sends email through Exchange Online with this client secret; once it has expired, " +
	"no email goes out (guest credentials, approval requests, expiry notices). To renew it: in the Microsoft Entra admin " +
	"center open App registrations, select the app (client ID %s), Certificates & secrets, and create a new client secret. " +
	"Copy its Value (not the Secret ID: the Value is shown only once). Then in Lobby's SMTP settings paste the Value " +
	"into Client secret, enter the new expiry date, click Test Connection, and Save."

// CheckSecretExpiry raises or clears the alarm [AlarmSecretExpiry] for the
// Exchange Online client secret of s: a warning when it expires in 30 days or
// less, critical at 7 days or less and once expired; cleared when the expiry
// is further away, not set, or the settings do not use Exchange Online. Run it
// daily and after saving the settings. It emails no one: [Alarms.CheckSecretExpiry]
// does the same and emails the admins at each level.
func CheckSecretExpiry(ctx context.Context, st storage.Store, s Settings, now time.Time) error {
	a, raise := SecretExpiryAlarm(s, now)
	if !raise {
		if err := st.ClearAlarm(ctx, AlarmSecretExpiry); err != nil {
			return fmt.Errorf("notify: secret expiry: clear alarm: %w", err)
		}
		return nil
	}
	if err := st.RaiseAlarm(ctx, a); err != nil {
		return fmt.Errorf("notify: secret expiry: raise alarm: %w", err)
	}
	return nil
}

// SecretExpiryAlarm is the client-secret expiry alarm for s at now, and
// whether there is one: at 30 days or less before the expiry, with its
// level (SecretLevel30 to SecretLevelExpired) and a severity of warning at
// 30 and 15, critical at 7, 1 and once expired.
func SecretExpiryAlarm(s Settings, now time.Time) (storage.Alarm, bool) {
	exp := s.ClientSecretExpires
	if s.AuthMode != AuthExchangeOnline || exp.IsZero() {
		return storage.Alarm{}, false
	}
	left := exp.Sub(now)
	if left > secretExpiryWarning {
		return storage.Alarm{}, false
	}
	on := exp.UTC().Format("2 January 2006 15:04 MST")
	a := storage.Alarm{
		Key:      AlarmSecretExpiry,
		Severity: storage.SeverityWarning,
		Detail:   fmt.Sprintf(secretRenewSteps, s.ClientID),
		Level:    secretLevel(left),
	}
	days := int(left / (24 * time.Hour))
	switch {
	case left <= 0:
		a.Severity = storage.SeverityCritical
		ago := int(-left / (24 * time.Hour))
		if ago == 0 {
			a.Title = "The SMTP client secret expired today (" + on + "): email cannot be sent until you renew it"
		} else {
			a.Title = fmt.Sprintf("The SMTP client secret expired %s ago (%s): email cannot be sent until you renew it", plural(ago, "day"), on)
		}
	case days == 0:
		a.Severity = storage.SeverityCritical
		a.Title = "The SMTP client secret expires within a day (" + on + "): renew it now"
	default:
		if left <= secretExpiryCritical {
			a.Severity = storage.SeverityCritical
		}
		a.Title = fmt.Sprintf("The SMTP client secret expires in %s (%s): renew it", plural(days, "day"), on)
	}
	return a, true
}

// plural is "1 day", "2 days".
func plural(n int, unit string) string {
	if n == 1 {
		return "1 " + unit
	}
	return fmt.Sprintf("%d %ss", n, unit)
}
