package webkit

import (
	"context"
	"errors"
	"io"
	"net/http"
	"strconv"
	"strings"
	"time"

	"github.com/lobbyhq/lobby/storage"
)

// ErrorPage writes an error page: status, and a message for a person that
// says what to do next.
type ErrorPage func(w http.ResponseWriter, r *http.Request, status int, message string)

type errorPageKey struct{}

// WithErrorPage makes the middlewares of this package (CSRF, MaxBody,
// RateLimiter) answer with page instead of plain text for requests that
// pass through it.
func WithErrorPage(page ErrorPage, next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		next.ServeHTTP(w, r.WithContext(context.WithValue(r.Context(), errorPageKey{}, page)))
	})
}

// Error answers r with status and message, through the ErrorPage installed
// by WithErrorPage, or as plain text without one. A 503 carries
// Retry-After (UnavailableRetryAfter) unless the caller set one.
func Error(w http.ResponseWriter, r *http.Request, status int, message string) {
	if status == http.StatusServiceUnavailable {
		SetRetryAfter(w)
	}
	if page, ok := r.Context().Value(errorPageKey{}).(ErrorPage); ok && page != nil {
		page(w, r, status, message)
		return
	}
	h := w.Header()
	h.Set("Content-Type", "text/plain; charset=utf-8")
	h.Set("X-Content-Type-Options", "nosniff")
	h.Set("Cache-Control", "no-store")
	w.WriteHeader(status)
	_, _ = w.Write([]byte(message + "\n"))
}

// UnavailableMessage is what a person reads when the database is briefly
// out of reach (StatusFor answers 503). It names no cause: that goes to the
// log.
const UnavailableMessage = "The service is briefly unavailable, and nothing was changed. Try again in a minute."

// UnavailableRetryAfter is the Retry-After of a 503: about how long a
// database restart or failover takes.
const UnavailableRetryAfter = time.Minute

// StatusFor returns the status that answers a request which failed with
// err: 503 Service Unavailable when the database is briefly out of reach
// (storage.IsUnavailable: refused or dropped connections, a restarting
// server, a pool without a free connection in time, SQLite busy beyond its
// timeout), else 500.
func StatusFor(err error) int {
	if storage.IsUnavailable(err) {
		return http.StatusServiceUnavailable
	}
	return http.StatusInternalServerError
}

// SetRetryAfter sets Retry-After to UnavailableRetryAfter on w, unless it
// has one.
func SetRetryAfter(w http.ResponseWriter) {
	if w.Header().Get("Retry-After") == "" {
		w.Header().Set("Retry-After", strconv.Itoa(int(UnavailableRetryAfter/time.Second)))
	}
}

// Fail answers a request that failed with err, which the caller has
// logged: 503 with Retry-After and UnavailableMessage when the database is
// briefly out of reach (StatusFor), else 500 with message. Neither answer
// shows err.
func Fail(w http.ResponseWriter, r *http.Request, err error, message string) {
	if status := StatusFor(err); status == http.StatusServiceUnavailable {
		Error(w, r, status, UnavailableMessage)
		return
	}
	Error(w, r, http.StatusInternalServerError, message)
}

// SeeOther redirects with 303 to location as given. Unlike http.Redirect it
// leaves a relative location relative, so that a handler mounted under a
// stripped prefix redirects within its mount.
func SeeOther(w http.ResponseWriter, location string) {
	w.Header().Set("Location", location)
	w.WriteHeader(http.StatusSeeOther)
}

// SecureHeaders sets the headers every page of Lobby carries: a strict
// Content-Security-Policy (own stylesheet, no scripts, no framing, forms
// post only to this site), no MIME sniffing, and no Referer, so that tokens
// in URLs do not leak to other sites.
func SecureHeaders(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		h := w.Header()
		h.Set("Content-Security-Policy", "default-src 'none'; style-src 'self'; img-src 'self'; form-action 'self'; frame-ancestors 'none'; base-uri 'none'")
		h.Set("X-Content-Type-Options", "nosniff")
		h.Set("X-Frame-Options", "DENY")
		h.Set("Referrer-Policy", "no-referrer")
		next.ServeHTTP(w, r)
	})
}

// HSTSValue is the Strict-Transport-Security that StrictTransport sends:
// a year, this host only (a host application decides for its subdomains).
const HSTSValue = "max-age=31536000"

// StrictTransport sets Strict-Transport-Security on every answer, so that
// a browser that once reached the site over HTTPS never falls back to
// plain HTTP, where a network attacker could read or plant cookies. Use
// it only where the site's external URL is https.
func StrictTransport(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Strict-Transport-Security", HSTSValue)
		next.ServeHTTP(w, r)
	})
}

// IsHTTPS reports whether an external URL is https.
func IsHTTPS(url string) bool { return len(url) >= 6 && strings.EqualFold(url[:6], "https:") }

// MaxBody limits request bodies to n bytes. A request that declares a larger
// body is refused with 413; one that sends more than it declared fails when
// the handler reads past n (ParseForm then returns an *http.MaxBytesError,
// which IsTooLarge recognises, and the handler answers 413).
//
// Either way the rest of the body is first read and thrown away, up to
// DrainBytes and for at most DrainTime, and the connection is closed after
// the answer. Many clients send the whole body before they read an answer:
// if the server stopped reading and closed the connection, they would get
// a reset instead of the 413 page. A client that asked to be told before it
// sends (Expect: 100-continue) is told at once and sends nothing.
func MaxBody(n int64, next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.ContentLength > n {
			if !strings.EqualFold(r.Header.Get("Expect"), "100-continue") {
				drain(w, r.Body)
			}
			w.Header().Set("Connection", "close")
			Error(w, r, http.StatusRequestEntityTooLarge, TooLargeMessage)
			return
		}
		r.Body = &limitedBody{w: w, body: r.Body, left: n, limit: n}
		next.ServeHTTP(w, r)
	})
}

// DrainBytes and DrainTime bound how much of an oversized body MaxBody
// reads, and for how long, before it answers 413.
const (
	DrainBytes = 1 << 20
	DrainTime  = 5 * time.Second
)

// drain reads and discards body, up to DrainBytes and for at most DrainTime.
func drain(w http.ResponseWriter, body io.Reader) {
	rc := http.NewResponseController(w)
	_ = rc.SetReadDeadline(time.Now().Add(DrainTime)) // not every ResponseWriter can
	_, _ = io.CopyN(io.Discard, body, DrainBytes)
	_ = rc.SetReadDeadline(time.Time{})
}

// limitedBody is http.MaxBytesReader that drains the rest of the body
// (see drain) when it is read past its limit, and asks for the connection
// to be closed after the answer.
type limitedBody struct {
	w     http.ResponseWriter
	body  io.ReadCloser
	left  int64 // bytes still allowed
	limit int64
	err   error // sticky, once over the limit or failed
}

func (l *limitedBody) Read(p []byte) (int, error) {
	if l.err != nil {
		return 0, l.err
	}
	if len(p) == 0 {
		return 0, nil
	}
	// Read one byte more than allowed, to tell "exactly the limit" from
	// "over it".
	if int64(len(p)) > l.left+1 {
		p = p[:l.left+1]
	}
	k, err := l.body.Read(p)
	if int64(k) <= l.left {
		l.left -= int64(k)
		l.err = err
		return k, err
	}
	k = int(l.left)
	l.left = 0
	l.err = &http.MaxBytesError{Limit: l.limit}
	drain(l.w, l.body)
	l.w.Header().Set("Connection", "close")
	return k, l.err
}

func (l *limitedBody) Close() error { return l.body.Close() }

// TooLargeMessage is what a person reads when a form was too large.
const TooLargeMessage = "What you sent is too large. Go back, shorten what you typed and send the form again."

// IsTooLarge reports whether err comes from reading past a MaxBody limit.
func IsTooLarge(err error) bool {
	var mbe *http.MaxBytesError
	return errors.As(err, &mbe)
}
