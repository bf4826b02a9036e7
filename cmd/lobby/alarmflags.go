package main

import (
	"flag"
	"fmt"
	"strings"
	"time"

	"github.com/lobbyhq/lobby"
)

// alarmFlags are lobby serve's alarm settings.
type alarmFlags struct {
	Recipients string
	After      time.Duration
}

func (f *alarmFlags) register(fs *flag.FlagSet) error {
	after, err := envDuration("DELIVERY_ALARM_AFTER", lobby.DefaultDeliveryAlarmAfter)
	if err != nil {
		return err
	}
	fs.StringVar(&f.Recipients, "alarm-recipients", env("ALARM_RECIPIENTS", ""),
		"comma-separated addresses that get every alarm email, besides the admins with an email address (LOBBY_ALARM_RECIPIENTS)")
	fs.DurationVar(&f.After, "delivery-alarm-after", after,
		"raise the delivery alarm when no email has gone out for this long while messages wait (LOBBY_DELIVERY_ALARM_AFTER)")
	return nil
}

// apply sets the alarm fields of cfg.
func (f *alarmFlags) apply(cfg *lobby.Config) error {
	for _, r := range strings.Split(f.Recipients, ",") {
		if r = strings.TrimSpace(r); r != "" {
			cfg.AlarmRecipients = append(cfg.AlarmRecipients, r)
		}
	}
	if f.After <= 0 {
		return fmt.Errorf("%w: --delivery-alarm-after must be positive, not %s", errUsage, f.After)
	}
	cfg.DeliveryAlarmAfter = f.After
	return nil
}
