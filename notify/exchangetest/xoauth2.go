package exchangetest

import (
	"bytes"
	"slices"
	"time"

	"github.com/emersion/go-sasl"
	"github.com/emersion/go-smtp"
)

// xoauth2Server is the server side of SASL XOAUTH2 as Exchange Online runs it: the client
// sends base64("user=<mailbox>\x01auth=Bearer <token>\x01\x01"), usually as the initial
// response; a failure is a plain 535 (no JSON 334 challenge, unlike Google).
type xoauth2Server struct {
	s        *Server
	sess     *session
	prompted bool
}

func (x *xoauth2Server) Next(response []byte) ([]byte, bool, error) {
	if response == nil && !x.prompted { // "AUTH XOAUTH2" without an initial response
		x.prompted = true
		return []byte{}, false, nil
	}
	user, token, ok := parseXOAUTH2(response)
	if !ok {
		return nil, false, errTokenRejected
	}
	if err := x.s.faults.takeAuthFailure(); err != nil {
		x.s.log.Info("exchangetest: smtp auth failed (injected)", "user", user, "reply", err.Error())
		return nil, false, err
	}
	c, err := x.s.checkToken(user, token)
	if err != nil {
		x.s.log.Info("exchangetest: smtp auth failed", "user", user, "reply", err.Error())
		return nil, false, err
	}
	x.sess.grant = &grant{mailbox: user, clientID: c.AppID}
	x.s.conns.authenticated(x.sess, user, x.s.faults.connLimit.Load())
	x.s.log.Info("exchangetest: smtp auth succeeded", "user", user, "client_id", c.AppID)
	return nil, true, nil
}

// grant is what a successful AUTH leaves on the session.
type grant struct{ mailbox, clientID string }

func parseXOAUTH2(resp []byte) (user, token string, ok bool) {
	fields := bytes.Split(resp, []byte{1})
	if len(fields) != 4 || len(fields[2]) != 0 || len(fields[3]) != 0 {
		return "", "", false
	}
	u, okU := bytes.CutPrefix(fields[0], []byte("user="))
	t, okT := bytes.CutPrefix(fields[1], []byte("auth=Bearer "))
	if !okU || !okT || len(u) == 0 || len(t) == 0 {
		return "", "", false
	}
	return string(u), string(t), true
}

// checkToken applies Exchange's checks to a bearer token presented for mailbox: signature,
// audience, role, lifetime (and, with SetRejectExpiringTokens, the lifetime left), then the
// tenant, service principal and mailbox set-up.
func (s *Server) checkToken(mailbox, token string) (accessClaims, *smtp.SMTPError) {
	var c accessClaims
	if s.signer.verify(token, &c) != nil {
		return c, errTokenRejected
	}
	now := s.now()
	const skew = 5 * time.Minute
	switch {
	case c.Aud != resourceExchange && c.Aud != resourceExchangeLegacy,
		!slices.Contains(c.Roles, "SMTP.SendAsApp"),
		!now.Before(time.Unix(c.Exp, 0)),
		now.Add(skew).Before(time.Unix(c.Nbf, 0)):
		return c, errTokenRejected
	}
	if within := time.Duration(s.faults.expiringSoon.Load()); within > 0 && time.Unix(c.Exp, 0).Sub(now) < within {
		return c, errTokenExpiringSoon
	}
	return c, s.model.authorize(c, mailbox, s.faults.logonFailure.Load())
}

// loginServer is AUTH LOGIN (basic authentication): it asks for both halves, then refuses,
// as Exchange Online does once basic authentication is off.
type loginServer struct{ askedUser, askedPassword bool }

func (l *loginServer) Next(response []byte) ([]byte, bool, error) {
	switch {
	case l.askedPassword:
		return nil, false, errBasicAuthDisabled
	case response == nil && !l.askedUser:
		l.askedUser = true
		return []byte("Username:"), false, nil
	default:
		l.askedPassword = true
		return []byte("Password:"), false, nil
	}
}

var (
	_ sasl.Server = (*xoauth2Server)(nil)
	_ sasl.Server = (*loginServer)(nil)
)
