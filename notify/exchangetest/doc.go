// Package exchangetest is a loopback emulator of the two Microsoft services Lobby sends
// mail through, in the spirit of net/http/httptest: the Entra ID v2 token endpoint
// (client-credentials grant) and Exchange Online SMTP submission with SASL XOAUTH2.
// Tests use it through NewServer; `lobby serve --dev` uses Start. It is never on a
// production path.
//
// It owns: a test CA and a certificate for 127.0.0.1, ::1 and localhost (optionally a second
// CA for the token endpoint alone, Options.SeparateTokenCA); the token
// endpoint, POST {TokenEndpointBase}/{tenant}/oauth2/v2.0/token, which answers with
// RS256-signed access tokens or Entra-shaped AADSTS errors (90002, 900023, 700016,
// 7000215, 7000222, 70011, and a few more); SMTP with STARTTLS (SMTPPort) and with
// implicit TLS (SMTPTLSPort) that checks tokens the way Exchange does (signature,
// audience, expiry, tenant, service principal, FullAccess, SMTP AUTH switches, SendAs);
// a model of tenants, app registrations and mailboxes with mutators; fault injection
// (the token endpoint down or slow, dropped connections, refused AUTH or MAIL FROM, and
// Exchange's limit of concurrent connections per mailbox with its 432 4.3.2 refusal);
// counters; and a captured mailbox.
//
// Start seeds a correctly configured set-up (Tenant, ClientID, ClientSecret, Mailbox), so
//
//	srv := exchangetest.NewServer(t, exchangetest.Options{})
//	// token: POST srv.TokenEndpointBase()+"/"+srv.Tenant()+"/oauth2/v2.0/token"
//	//        client_id=srv.ClientID(), client_secret=srv.ClientSecret(),
//	//        grant_type=client_credentials, scope=https://outlook.office365.com/.default
//	// SMTP:  srv.SMTPHost():srv.SMTPPort(), STARTTLS trusting srv.CertPool(),
//	//        AUTH XOAUTH2 as srv.Mailbox(), From: srv.Mailbox()
//	msgs, err := srv.WaitForMessages(ctx, 1)
//
// and each mutator breaks one piece of it the way an administrator can.
//
// Replies follow reference/exchange-online-facts.md word for word where Exchange's
// checks decide them. Replies that go-smtp writes itself keep go-smtp's wording with the
// right code: the greeting ends in go-smtp's "ESMTP Service Ready", AUTH success is
// "235 2.0.0 Authentication succeeded" (Exchange: "235 2.7.0 Authentication successful"),
// and AUTH before STARTTLS gets "523 5.7.10 TLS is required". Clients must not depend on
// the wording anyway: Microsoft says it may change.
package exchangetest
