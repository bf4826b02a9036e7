package notify

import (
	"errors"
	"fmt"
	"slices"

	"github.com/wneessen/go-mail"
	"github.com/wneessen/go-mail/smtp"
)

// ErrInsecureAuth is the refusal to send a password or an access token over
// a connection that is not encrypted.
var ErrInsecureAuth = errors.New("notify: smtp: refusing to send credentials over an unencrypted connection")

// ErrStartTLSUnavailable means the server did not offer STARTTLS although the
// settings require it.
var ErrStartTLSUnavailable = errors.New("notify: smtp: the server does not offer STARTTLS")

// refuseInsecure stops before dialing when credentials would travel in clear.
func refuseInsecure(s Settings) error {
	if s.Security == SecurityNone && s.AuthMode != AuthNone {
		return fmt.Errorf("%w: security is %q and auth is %q; choose STARTTLS or TLS", ErrInsecureAuth, s.Security, s.AuthMode)
	}
	return nil
}

// xoauth2Auth is SASL XOAUTH2 (the mechanism go-mail calls
// mail.SMTPAuthXOAUTH2), chosen explicitly, that also refuses to start on a
// connection without TLS, as net/smtp's PlainAuth does for passwords.
type xoauth2Auth struct {
	user, token string
}

func (a *xoauth2Auth) Start(si *smtp.ServerInfo) (string, []byte, error) {
	if !si.TLS {
		return "", nil, ErrInsecureAuth
	}
	if !slices.Contains(si.Auth, string(mail.SMTPAuthXOAUTH2)) {
		return "", nil, fmt.Errorf("notify: smtp: the server does not offer AUTH XOAUTH2 (it offers %v): %w", si.Auth, mail.ErrXOauth2AuthNotSupported)
	}
	return smtp.XOAuth2Auth(a.user, a.token).Start(si)
}

func (a *xoauth2Auth) Next(fromServer []byte, more bool) ([]byte, error) {
	if more {
		// A 334 challenge carries an error report (Google's JSON); answer
		// empty so the server sends its final failure reply.
		return []byte{}, nil
	}
	return nil, nil
}

// passwordAuth picks PLAIN when offered, else LOGIN, and only over TLS.
type passwordAuth struct {
	user, pass string
	inner      smtp.Auth
}

func (a *passwordAuth) Start(si *smtp.ServerInfo) (string, []byte, error) {
	if !si.TLS {
		return "", nil, ErrInsecureAuth
	}
	switch {
	case slices.Contains(si.Auth, "PLAIN"):
		a.inner = smtp.PlainAuth("", a.user, a.pass, si.Name, false)
	case slices.Contains(si.Auth, "LOGIN"):
		a.inner = smtp.LoginAuth(a.user, a.pass, si.Name, false)
	default:
		return "", nil, fmt.Errorf("notify: smtp: the server offers neither AUTH PLAIN nor LOGIN (it offers %v)", si.Auth)
	}
	return a.inner.Start(si)
}

func (a *passwordAuth) Next(fromServer []byte, more bool) ([]byte, error) {
	return a.inner.Next(fromServer, more)
}
