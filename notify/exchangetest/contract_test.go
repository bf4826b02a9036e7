package exchangetest_test

import (
	"context"
	"crypto/x509"
	"testing"
	"time"

	"github.com/lobbyhq/lobby/notify/exchangetest"
)

// The API package notify is written against at the same time. Changing a signature here
// breaks that package: this file fails to compile first.
type S = *exchangetest.Server

var (
	_ func(exchangetest.Options) (S, error)                         = exchangetest.Start
	_ func(testing.TB, exchangetest.Options) S                      = exchangetest.NewServer
	_ func(S) error                                                 = S.Close
	_ func(S) string                                                = S.TokenEndpointBase
	_ func(S) string                                                = S.SMTPHost
	_ func(S) int                                                   = S.SMTPPort
	_ func(S) int                                                   = S.SMTPTLSPort
	_ func(S) []byte                                                = S.CACertPEM
	_ func(S) *x509.CertPool                                        = S.CertPool
	_ func(S) string                                                = S.Tenant
	_ func(S) string                                                = S.ClientID
	_ func(S) string                                                = S.ClientSecret
	_ func(S) string                                                = S.SecretID
	_ func(S) string                                                = S.Mailbox
	_ func(S, string, string)                                       = S.AddTenant
	_ func(S, string, string, string)                               = S.AddApp
	_ func(S, string)                                               = S.ExpireSecret
	_ func(S, string, bool)                                         = S.SetServicePrincipal
	_ func(S, string, string, bool)                                 = S.SetMailboxPermission
	_ func(S, string, string, bool)                                 = S.SetSendAs
	_ func(S, string)                                               = S.AddMailbox
	_ func(S, bool)                                                 = S.SetTenantSMTPAuth
	_ func(S, string, bool)                                         = S.SetMailboxSMTPAuth
	_ func(S, bool)                                                 = S.SetTokenEndpointDown
	_ func(S, time.Duration)                                        = S.SetTokenLatency
	_ func(S, time.Duration)                                        = S.SetSMTPLatency
	_ func(S, time.Duration, time.Duration)                         = S.SetDataLatency
	_ func(S, int)                                                  = S.DropConnections
	_ func(S, int, int, string, string)                             = S.FailNextMail
	_ func(S, bool)                                                 = S.SetMailboxLogonFailure
	_ func(S) int64                                                 = S.TokenRequests
	_ func(S) int64                                                 = S.TokensIssued
	_ func(S) int64                                                 = S.SMTPConnections
	_ func(S) int64                                                 = S.AuthAttempts
	_ func(S) []exchangetest.Message                                = S.Messages
	_ func(S, context.Context, int) ([]exchangetest.Message, error) = S.WaitForMessages
	_ func(S)                                                       = S.ResetMailbox

	_ = exchangetest.Options{TokenLifetime: time.Second, Logger: nil, Now: time.Now}
	_ = exchangetest.Message{ID: "", From: "", To: []string{}, Data: []byte{}, Subject: "", ReceivedAt: time.Time{}, AuthUser: ""}
)

func TestCloseTwice(t *testing.T) {
	t.Parallel()
	srv, err := exchangetest.Start(exchangetest.Options{})
	if err != nil {
		t.Fatal(err)
	}
	if err := srv.Close(); err != nil {
		t.Errorf("first Close: %v", err)
	}
	if err := srv.Close(); err != nil {
		t.Errorf("second Close: %v", err)
	}
	if _, err := exchangetest.Start(exchangetest.Options{TokenLifetime: -time.Second}); err == nil {
		t.Error("Start accepted a negative TokenLifetime")
	}
}
