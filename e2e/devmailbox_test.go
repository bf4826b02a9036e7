//go:build e2e

package e2e

import (
	"github.com/lobbyhq/lobby"
	"github.com/lobbyhq/lobby/notify/exchangetest"
)

// devMailbox shows the emulator's captured mail on /dev/mailbox, decoded by
// the emulator, as lobby serve --dev does.
func devMailbox(emu *exchangetest.Server) lobby.DevMailbox {
	return lobby.DevMailboxFunc(func() []lobby.DevMessage {
		msgs := emu.Messages()
		out := make([]lobby.DevMessage, 0, len(msgs))
		for _, m := range msgs {
			body, err := m.Body()
			if err == nil && !body.HasText {
				err = exchangetest.ErrNoTextPart
			}
			out = append(out, lobby.DevMessage{ReceivedAt: m.ReceivedAt, From: m.From, To: m.To, Subject: m.Subject,
				Text: body.Text, HasHTML: body.HasHTML, DecodeErr: err})
		}
		return out
	})
}
