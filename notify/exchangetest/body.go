package exchangetest

import (
	"bytes"
	"encoding/base64"
	"errors"
	"fmt"
	"io"
	"mime"
	"mime/multipart"
	"mime/quotedprintable"
	"net/mail"
	"strings"
)

// maxBodyPart caps how much of one MIME part DecodeBody decodes.
const maxBodyPart = 1 << 20

// ErrNoTextPart is what TextBody returns for a message without a text/plain
// part.
var ErrNoTextPart = errors.New("exchangetest: the message has no text/plain part")

// Body is a captured message's content, decoded for reading.
type Body struct {
	// Text is the first text/plain part (searching nested multiparts),
	// decoded from quoted-printable or base64, with CRLF turned into LF.
	Text    string
	HasText bool
	// HTML is the first text/html part, decoded the same way.
	HTML    string
	HasHTML bool
}

// Body decodes the message's content (see DecodeBody).
func (m Message) Body() (Body, error) { return DecodeBody(m.Data) }

// TextBody returns the message's plain-text body (Body.Text), or an error
// that wraps ErrNoTextPart when it has none. Tests use it to read the mail
// Lobby sent.
func (m Message) TextBody() (string, error) { return TextBody(m.Data) }

// TextBody returns the plain-text body of a raw RFC 5322 message, or an
// error that wraps ErrNoTextPart when it has none.
func TextBody(raw []byte) (string, error) {
	b, err := DecodeBody(raw)
	if err != nil {
		return "", err
	}
	if !b.HasText {
		return "", ErrNoTextPart
	}
	return b.Text, nil
}

// DecodeBody reads the text and HTML bodies out of a raw RFC 5322 message: a
// single part or multipart/alternative, multipart/mixed and their nestings,
// each part in 7bit, 8bit, quoted-printable or base64. Parts of other types
// are skipped.
func DecodeBody(raw []byte) (Body, error) {
	msg, err := mail.ReadMessage(bytes.NewReader(raw))
	if err != nil {
		return Body{}, fmt.Errorf("exchangetest: read the message: %w", err)
	}
	var b Body
	if err := b.walk(msg.Header.Get("Content-Type"), msg.Header.Get("Content-Transfer-Encoding"), msg.Body); err != nil {
		return b, fmt.Errorf("exchangetest: decode the body: %w", err)
	}
	return b, nil
}

// walk decodes an entity with the given Content-Type and
// Content-Transfer-Encoding into b, keeping the first text/plain and the
// first text/html part.
func (b *Body) walk(contentType, encoding string, body io.Reader) error {
	if contentType == "" {
		contentType = "text/plain"
	}
	mediaType, params, err := mime.ParseMediaType(contentType)
	if err != nil {
		return fmt.Errorf("content type %q: %w", contentType, err)
	}
	switch {
	case strings.HasPrefix(mediaType, "multipart/"):
		mr := multipart.NewReader(body, params["boundary"])
		for !(b.HasText && b.HasHTML) {
			// NextRawPart: multipart.Reader.NextPart would decode
			// quoted-printable itself and drop the header; decode here once.
			p, err := mr.NextRawPart()
			if err == io.EOF {
				return nil
			}
			if err != nil {
				return fmt.Errorf("multipart: %w", err)
			}
			if err := b.walk(p.Header.Get("Content-Type"), p.Header.Get("Content-Transfer-Encoding"), p); err != nil {
				return err
			}
		}
		return nil
	case mediaType == "text/plain" && !b.HasText:
		text, err := decodePart(encoding, body)
		if err != nil {
			return fmt.Errorf("text part: %w", err)
		}
		b.Text, b.HasText = text, true
	case mediaType == "text/html" && !b.HasHTML:
		html, err := decodePart(encoding, body)
		if err != nil {
			return fmt.Errorf("html part: %w", err)
		}
		b.HTML, b.HasHTML = html, true
	}
	return nil
}

// decodePart reads one part, undoing its Content-Transfer-Encoding.
func decodePart(encoding string, r io.Reader) (string, error) {
	switch strings.ToLower(strings.TrimSpace(encoding)) {
	case "quoted-printable":
		r = quotedprintable.NewReader(r)
	case "base64":
		r = base64.NewDecoder(base64.StdEncoding, newlineStripper{r})
	}
	b, err := io.ReadAll(io.LimitReader(r, maxBodyPart))
	if err != nil {
		return "", err
	}
	return strings.ReplaceAll(string(b), "\r\n", "\n"), nil
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
