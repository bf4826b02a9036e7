package main

import (
	"errors"
	"flag"
	"io"
	"slices"
	"testing"
	"time"

	"github.com/lobbyhq/lobby"
)

func TestAlarmFlags(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		args       []string
		recipients []string
		after      time.Duration
		usage      bool
	}{
		{nil, nil, lobby.DefaultDeliveryAlarmAfter, false},
		{[]string{"--alarm-recipients", " noc@corp.example, it@corp.example ,", "--delivery-alarm-after", "5m"},
			[]string{"noc@corp.example", "it@corp.example"}, 5 * time.Minute, false},
		{[]string{"--delivery-alarm-after", "0s"}, nil, 0, true},
	} {
		fs := flag.NewFlagSet("serve", flag.ContinueOnError)
		fs.SetOutput(io.Discard)
		var f alarmFlags
		if err := f.register(fs); err != nil {
			t.Fatal(err)
		}
		if err := fs.Parse(tc.args); err != nil {
			t.Fatal(err)
		}
		var cfg lobby.Config
		err := f.apply(&cfg)
		if tc.usage {
			if !errors.Is(err, errUsage) {
				t.Errorf("%v: err = %v, want a usage error", tc.args, err)
			}
			continue
		}
		if err != nil || !slices.Equal(cfg.AlarmRecipients, tc.recipients) || cfg.DeliveryAlarmAfter != tc.after {
			t.Errorf("%v: recipients %q, after %s, err %v; want %q, %s", tc.args, cfg.AlarmRecipients, cfg.DeliveryAlarmAfter, err,
				tc.recipients, tc.after)
		}
	}
}
