package lobby

import (
	"bytes"
	"encoding/base64"
	"errors"
	"fmt"
	"html/template"
	"io"
	"mime"
	"mime/multipart"
	"mime/quotedprintable"
	"net"
	"net/http"
	"net/mail"
	"net/netip"
	"net/url"
	"slices"
	"strings"
	"time"

	"github.com/lobbyhq/lobby/notify"
	"github.com/lobbyhq/lobby/notify/exchangetest"
)

// DevMailSettings returns SMTP settings that send through srv, the
// development emulator of Exchange Online, exactly as to the real service:
// STARTTLS on its submission port, SASL XOAUTH2 with a token from its
// Entra ID endpoint for its ready-made app registration, and its test CA
// trusted. Use it for development only (lobby serve --dev), as
// Config.MailSettings, so that nothing is written over the SMTP settings
// an admin saved in the database.
func DevMailSettings(srv *exchangetest.Server) notify.Settings {
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

// maxBodyPart caps how much of one MIME part the mailbox page decodes.
const maxBodyPart = 1 << 20

// mailboxEntry is one captured message as the page shows it.
type mailboxEntry struct {
	ReceivedAt time.Time
	From       string
	To         string
	Subject    string
	Text       string
}

var mailboxPage = template.Must(template.Must(pageLayout.Clone()).Parse(`{{define "title"}}Development mailbox{{end}}
{{define "content"}}
<h1>Development mailbox</h1>
<p>Mail that Lobby sent to the built-in Exchange Online emulator, newest first. It never leaves this machine.</p>
{{- with .Data}}
{{- range .}}
<section>
<h2>{{.Subject}}</h2>
<dl class="credentials">
<dt>Received</dt><dd>{{.ReceivedAt.Format "2006-01-02 15:04:05 MST"}}</dd>
<dt>From</dt><dd>{{.From}}</dd>
<dt>To</dt><dd>{{.To}}</dd>
</dl>
<pre>{{.Text}}</pre>
</section>
{{- end}}
{{- else}}
<p class="notice">No mail yet. Register as a guest to see the credentials email arrive here.</p>
{{- end}}
{{end}}`))

// devMailbox serves the page listing the emulator's captured mail, only to
// requests for a loopback host or the base URL's host (see devHostAllowed).
func (l *Lobby) devMailbox(srv *exchangetest.Server) http.Handler {
	baseHost := ""
	if u, err := url.Parse(l.cfg.BaseURL); err == nil {
		baseHost = u.Host
	}
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if !devHostAllowed(r.Host, baseHost) {
			l.logger.WarnContext(r.Context(), "lobby: dev mailbox: refused a request for another host", "host", r.Host)
			plain(w, http.StatusMisdirectedRequest, "The development mailbox answers only on localhost, 127.0.0.1 or [::1] "+
				"(or the host of the base URL). Open it through one of those.\n")
			return
		}
		msgs := srv.Messages()
		entries := make([]mailboxEntry, 0, len(msgs))
		for _, m := range msgs {
			text, err := textBody(m.Data)
			if err != nil {
				text = "(the text body could not be decoded: " + err.Error() + ")"
			}
			entries = append(entries, mailboxEntry{
				ReceivedAt: m.ReceivedAt,
				From:       m.From,
				To:         strings.Join(m.To, ", "),
				Subject:    m.Subject,
				Text:       text,
			})
		}
		slices.SortStableFunc(entries, func(a, b mailboxEntry) int { return b.ReceivedAt.Compare(a.ReceivedAt) })
		l.page(w, r, http.StatusOK, mailboxPage, entries)
	})
}

// devHostAllowed reports whether a request for host (the Host header) may
// see the development mailbox: localhost, an IPv4 loopback address or
// [::1], with or without a port, or exactly baseHost (the base URL's
// host and port). A page on another site that rebinds its own name to
// this machine's address sends its own name as the Host, and is refused.
func devHostAllowed(host, baseHost string) bool {
	if host == "" {
		return false
	}
	if baseHost != "" && strings.EqualFold(host, baseHost) {
		return true
	}
	name := host
	if h, _, err := net.SplitHostPort(host); err == nil {
		name = h
	} else if strings.HasPrefix(host, "[") && strings.HasSuffix(host, "]") {
		name = host[1 : len(host)-1]
	}
	if strings.EqualFold(name, "localhost") {
		return true
	}
	a, err := netip.ParseAddr(name)
	return err == nil && a.Zone() == "" && !a.Is4In6() && a.IsLoopback()
}

// textBody returns the plain-text body of a raw RFC 5322 message: the first
// text/plain part (searching nested multiparts), decoded from
// quoted-printable or base64. It is what the development mailbox page shows,
// and tests use it to read the mail Lobby sent.
func textBody(raw []byte) (string, error) {
	msg, err := mail.ReadMessage(bytes.NewReader(raw))
	if err != nil {
		return "", fmt.Errorf("lobby: mail: %w", err)
	}
	text, ok, err := textPart(msg.Header.Get("Content-Type"), msg.Header.Get("Content-Transfer-Encoding"), msg.Body)
	if err != nil {
		return "", fmt.Errorf("lobby: mail: %w", err)
	}
	if !ok {
		return "", errors.New("lobby: mail: the message has no text/plain part")
	}
	return text, nil
}

// textPart finds and decodes the first text/plain part of an entity with the
// given Content-Type and Content-Transfer-Encoding.
func textPart(contentType, encoding string, body io.Reader) (string, bool, error) {
	if contentType == "" {
		contentType = "text/plain"
	}
	mediaType, params, err := mime.ParseMediaType(contentType)
	if err != nil {
		return "", false, fmt.Errorf("content type %q: %w", contentType, err)
	}
	switch {
	case strings.HasPrefix(mediaType, "multipart/"):
		mr := multipart.NewReader(body, params["boundary"])
		for {
			// NextRawPart: multipart.Reader.NextPart would decode
			// quoted-printable itself and drop the header; decode here once.
			p, err := mr.NextRawPart()
			if err == io.EOF {
				return "", false, nil
			}
			if err != nil {
				return "", false, fmt.Errorf("multipart: %w", err)
			}
			text, ok, err := textPart(p.Header.Get("Content-Type"), p.Header.Get("Content-Transfer-Encoding"), p)
			if err != nil || ok {
				return text, ok, err
			}
		}
	case mediaType == "text/plain":
		b, err := io.ReadAll(io.LimitReader(decodeTransfer(encoding, body), maxBodyPart))
		if err != nil {
			return "", false, fmt.Errorf("text part: %w", err)
		}
		return strings.ReplaceAll(string(b), "\r\n", "\n"), true, nil
	default:
		return "", false, nil
	}
}

// decodeTransfer undoes a Content-Transfer-Encoding.
func decodeTransfer(encoding string, r io.Reader) io.Reader {
	switch strings.ToLower(strings.TrimSpace(encoding)) {
	case "quoted-printable":
		return quotedprintable.NewReader(r)
	case "base64":
		return base64.NewDecoder(base64.StdEncoding, newlineStripper{r})
	default:
		return r
	}
}

// newlineStripper drops CR and LF so base64 lines decode as one stream.
type newlineStripper struct{ r io.Reader }

func (n newlineStripper) Read(p []byte) (int, error) {
	for {
		k, err := n.r.Read(p)
		j := 0
		for _, c := range p[:k] {
			if c != '\r' && c != '\n' {
				p[j] = c
				j++
			}
		}
		if j > 0 || err != nil {
			return j, err
		}
	}
}
