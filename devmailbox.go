package lobby

import (
	"html/template"
	"net"
	"net/http"
	"net/netip"
	"net/url"
	"slices"
	"strings"
	"time"
)

// DevMailbox is a development mail catcher whose captured mail the
// /dev/mailbox page lists (see Config.DevMailbox). lobby serve --dev
// passes the built-in Exchange Online emulator's mailbox.
type DevMailbox interface {
	// DevMessages returns the captured messages, in any order; the page
	// shows them newest first.
	DevMessages() []DevMessage
}

// DevMailboxFunc adapts a function to DevMailbox.
type DevMailboxFunc func() []DevMessage

// DevMessages calls f.
func (f DevMailboxFunc) DevMessages() []DevMessage { return f() }

// DevMessage is one captured message, decoded by the mail catcher.
type DevMessage struct {
	ReceivedAt time.Time
	From       string   // the envelope sender (MAIL FROM)
	To         []string // the envelope recipients (RCPT TO)
	Subject    string   // decoded
	Text       string   // the text/plain body, decoded
	HasHTML    bool     // whether the message has a text/html body too
	// DecodeErr, when not nil, says why the body could not be decoded;
	// the page shows it in place of Text.
	DecodeErr error
}

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
func (l *Lobby) devMailbox(box DevMailbox) http.Handler {
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
		msgs := box.DevMessages()
		entries := make([]mailboxEntry, 0, len(msgs))
		for _, m := range msgs {
			text := m.Text
			if m.DecodeErr != nil {
				text = "(the text body could not be decoded: " + m.DecodeErr.Error() + ")"
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
