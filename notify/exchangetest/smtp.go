package exchangetest

import (
	"bytes"
	"fmt"
	"io"
	"mime"
	"net"
	"net/mail"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/emersion/go-sasl"
	"github.com/emersion/go-smtp"
)

// The front-end server's names, as Exchange Online shows them in replies.
const (
	frontEndHost = "BL1PR13CA0123.outlook.office365.com"
	frontEndID   = "BL1PR13CA0123.namprd13.prod.outlook.com"
)

// Exchange Online's replies, word for word as reference/exchange-online-facts.md gives
// them. Replies go-smtp writes itself (greeting suffix, EHLO, the 250s, 235 on success)
// keep go-smtp's wording: only their codes are Exchange's.
var (
	errTokenRejected           = smtpError(535, 5, 7, 3, "Authentication unsuccessful ["+frontEndID+"]")
	errTenantSMTPAuthDisabled  = smtpError(535, 5, 7, 139, "Authentication unsuccessful, SmtpClientAuthentication is disabled for the Tenant. Visit https://aka.ms/smtp_auth_disabled for more information.")
	errMailboxSMTPAuthDisabled = smtpError(535, 5, 7, 139, "Authentication unsuccessful, SmtpClientAuthentication is disabled for the Mailbox.")
	errBasicAuthDisabled       = smtpError(535, 5, 7, 139, "Authentication unsuccessful, basic authentication is disabled.")
	errUnknownMechanism        = smtpError(504, 5, 7, 4, "Unrecognized authentication type")
	errNotAuthenticated        = smtpError(530, 5, 7, 57, "Client not authenticated to send mail.")
	errMailboxLogonFailure     = smtpError(430, 4, 2, 0, "STOREDRV; mailbox logon failure;")
	errTokenExpiringSoon       = smtpError(501, 5, 5, 127, "Invalid XOAUTH2 auth data - Token will expire soon")
	errConcurrentLimit         = smtpError(432, 4, 3, 2, "Concurrent connections limit exceeded. Visit https://aka.ms/concurrent_sending for more information. [Hostname="+frontEndID+"]")
)

func smtpError(code, class, subject, detail int, text string) *smtp.SMTPError {
	return &smtp.SMTPError{Code: code, EnhancedCode: smtp.EnhancedCode{class, subject, detail}, Message: text}
}

func errSendAsDenied(mailbox, from string) *smtp.SMTPError {
	return smtpError(554, 5, 2, 252, fmt.Sprintf("SendAsDenied; %s not allowed to send as %s; "+
		"STOREDRV.Submission.Exception:SendAsDeniedException.MapiExceptionSendAsDenied; "+
		"Failed to process message due to a permanent exception with message [BeginDiagnosticData]Cannot submit message. [Hostname=%s]",
		mailbox, from, frontEndID))
}

func (s *Server) newSMTPServer() *smtp.Server {
	srv := smtp.NewServer(smtp.BackendFunc(func(*smtp.Conn) (smtp.Session, error) {
		return &session{s: s}, nil
	}))
	// go-smtp writes "220 <Domain> ESMTP Service Ready".
	srv.Domain = frontEndHost + " Microsoft ESMTP MAIL Service ready"
	srv.TLSConfig = s.ca.serverTLS() // offers STARTTLS, and AUTH only once TLS is up
	srv.MaxLineLength = 64 << 10     // AUTH XOAUTH2 lines carry 2-3 KB tokens, more in real life
	srv.MaxMessageBytes = 157286400  // Exchange Online's SIZE
	srv.ReadTimeout = 10 * time.Minute
	srv.ErrorLog = smtpLog{s}
	return srv
}

// session is one SMTP session (reset by EHLO after STARTTLS). go-smtp calls it from the
// connection's goroutine only.
type session struct {
	s        *Server
	grant    *grant // set by a successful AUTH
	admitted bool   // counted against the mailbox's connection limit
	from     string
	to       []string
}

func (ss *session) AuthMechanisms() []string { return []string{sasl.Login, "XOAUTH2"} }

func (ss *session) Auth(mech string) (sasl.Server, error) {
	ss.s.stats.authAttempts.Add(1)
	switch mech {
	case "XOAUTH2":
		return &xoauth2Server{s: ss.s, sess: ss}, nil
	case sasl.Login:
		return &loginServer{}, nil
	}
	return nil, errUnknownMechanism
}

func (ss *session) Mail(from string, _ *smtp.MailOptions) error {
	if ss.grant == nil {
		return errNotAuthenticated
	}
	if !ss.s.conns.admit(ss, ss.s.faults.connLimit.Load()) {
		ss.s.stats.limitRefusals.Add(1)
		if r := ss.s.faults.limitRefusal.Load(); r != nil {
			return r
		}
		return errConcurrentLimit
	}
	if err := ss.s.faults.takeMailFailure(); err != nil {
		return err
	}
	ss.from = from
	return nil
}

func (ss *session) Rcpt(to string, _ *smtp.RcptOptions) error {
	ss.to = append(ss.to, to)
	return nil
}

func (ss *session) Data(r io.Reader) error {
	data, err := io.ReadAll(r)
	if err != nil {
		return err
	}
	if d := ss.s.faults.acceptDelay(); d > 0 {
		time.Sleep(d) // Exchange accepting the message (SetDataLatency)
	}
	return ss.s.deliver(*ss.grant, ss.from, ss.to, data)
}

func (ss *session) Reset() { ss.from, ss.to = "", nil }

func (ss *session) Logout() error {
	ss.s.conns.leave(ss)
	return nil
}

// mailboxConns counts the authenticated connections per mailbox, and of them those
// admitted under the connection limit.
type mailboxConns struct {
	mu       sync.Mutex
	authed   map[string]int
	admitted map[string]int
}

// authenticated counts a session that has just authenticated as mailbox, and admits it
// when the limit allows.
func (m *mailboxConns) authenticated(ss *session, mailbox string, limit int64) {
	m.mu.Lock()
	defer m.mu.Unlock()
	if m.authed == nil {
		m.authed, m.admitted = make(map[string]int), make(map[string]int)
	}
	m.authed[mailbox]++
	m.admitLocked(ss, mailbox, limit)
}

func (m *mailboxConns) admitLocked(ss *session, mailbox string, limit int64) {
	if !ss.admitted && (limit <= 0 || int64(m.admitted[mailbox]) < limit) {
		ss.admitted = true
		m.admitted[mailbox]++
	}
}

// admit reports whether the session may send: it is admitted already, or now is.
func (m *mailboxConns) admit(ss *session, limit int64) bool {
	if limit <= 0 {
		return true
	}
	m.mu.Lock()
	defer m.mu.Unlock()
	m.admitLocked(ss, ss.grant.mailbox, limit)
	return ss.admitted
}

// leave uncounts a session that ends.
func (m *mailboxConns) leave(ss *session) {
	if ss.grant == nil {
		return
	}
	m.mu.Lock()
	defer m.mu.Unlock()
	m.authed[ss.grant.mailbox]--
	if ss.admitted {
		m.admitted[ss.grant.mailbox]--
		ss.admitted = false
	}
}

// open is the number of authenticated connections of mailbox open now.
func (m *mailboxConns) open(mailbox string) int {
	m.mu.Lock()
	defer m.mu.Unlock()
	return m.authed[mailbox]
}

// deliver runs Exchange's checks after the end of DATA and captures the message.
func (s *Server) deliver(g grant, from string, to []string, data []byte) error {
	if s.faults.logonFailure.Load() {
		return errMailboxLogonFailure
	}
	headerFrom, subject := readHeader(data)
	for _, sender := range []string{from, headerFrom} {
		if sender != "" && !s.model.maySendAs(g.clientID, g.mailbox, sender) {
			return errSendAsDenied(g.mailbox, sender)
		}
	}
	m := Message{
		ID:         newGUID(),
		From:       from,
		To:         to,
		Data:       data,
		Subject:    subject,
		ReceivedAt: s.now(),
		AuthUser:   g.mailbox,
	}
	s.inbox.add(m)
	s.log.Info("exchangetest: message accepted", "id", m.ID, "from", from, "rcpt", len(to), "bytes", len(data))
	return nil
}

// readHeader returns the From address and the decoded Subject of a message, or empty
// strings for what it cannot read.
func readHeader(data []byte) (from, subject string) {
	msg, err := mail.ReadMessage(bytes.NewReader(data))
	if err != nil {
		return "", ""
	}
	if a, err := mail.ParseAddress(msg.Header.Get("From")); err == nil {
		from = a.Address
	}
	subject = msg.Header.Get("Subject")
	if dec, err := new(mime.WordDecoder).DecodeHeader(subject); err == nil {
		subject = dec
	}
	return from, subject
}

// smtpListener counts accepted connections, drops those DropConnections asked for, and
// wraps the rest so that SetSMTPLatency can slow them.
type smtpListener struct {
	net.Listener
	s *Server
}

func (l smtpListener) Accept() (net.Conn, error) {
	for {
		c, err := l.Listener.Accept()
		if err != nil {
			return nil, err
		}
		l.s.stats.smtpConnections.Add(1)
		if l.s.faults.takeDrop() {
			c.Close()
			continue
		}
		sc := &slowConn{Conn: c, delay: &l.s.faults.smtpLatency}
		sc.replyDue.Store(true) // the greeting (or TLS handshake) is a reply too
		return sc, nil
	}
}

// slowConn waits the SMTP latency before the first write after each read: once per reply
// (a multi-line EHLO reply or a pipelined batch is delayed once), and once per TLS
// handshake flight. It sits under TLS, so it works the same on both ports.
type slowConn struct {
	net.Conn
	delay    *atomic.Int64
	replyDue atomic.Bool
}

func (c *slowConn) Read(p []byte) (int, error) {
	n, err := c.Conn.Read(p)
	if n > 0 {
		c.replyDue.Store(true)
	}
	return n, err
}

func (c *slowConn) Write(p []byte) (int, error) {
	if c.replyDue.Swap(false) {
		if d := time.Duration(c.delay.Load()); d > 0 {
			time.Sleep(d)
		}
	}
	return c.Conn.Write(p)
}

// smtpLog sends go-smtp's internal errors (mostly clients hanging up) to the debug log.
type smtpLog struct{ s *Server }

func (l smtpLog) Printf(format string, v ...any) {
	l.s.log.Debug("exchangetest: smtp: " + strings.TrimSpace(fmt.Sprintf(format, v...)))
}

func (l smtpLog) Println(v ...any) {
	l.s.log.Debug("exchangetest: smtp: " + strings.TrimSpace(fmt.Sprintln(v...)))
}
