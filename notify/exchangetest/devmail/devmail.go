// Package devmail points Lobby's mail at the development emulator of
// Exchange Online (notify/exchangetest). It is for development and tests
// only (lobby serve --dev); production code never imports it.
//
// It is a package of its own because the emulator does not import notify:
// notify's own tests use the emulator.
package devmail

import (
	"github.com/lobbyhq/lobby/notify"
	"github.com/lobbyhq/lobby/notify/exchangetest"
)

// Settings returns SMTP settings that send through srv exactly as to the
// real service: STARTTLS on its submission port, SASL XOAUTH2 with a token
// from its Entra ID endpoint for its ready-made app registration, and its
// test CA trusted. Give them to Lobby as Config.MailSettings, so that
// nothing is written over the SMTP settings an admin saved in the database.
func Settings(srv *exchangetest.Server) notify.Settings {
	return notify.Settings{
		Host:              srv.SMTPHost(),
		Port:              srv.SMTPPort(),
		Security:          notify.SecurityStartTLS,
		From:              srv.Mailbox(),
		AuthMode:          notify.AuthExchangeOnline,
		TenantID:          srv.Tenant(),
		ClientID:          srv.ClientID(),
		ClientSecret:      srv.ClientSecret(),
		TokenEndpointBase: srv.TokenEndpointBase(),
		TrustedCAPEM:      string(srv.CACertPEM()),
		Version:           1,
	}.WithDefaults()
}
