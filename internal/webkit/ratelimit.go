package webkit

import (
	"math"
	"net"
	"net/http"
	"net/netip"
	"strconv"
	"strings"
	"sync"
	"time"
)

// RateLimitMessage is what a person reads when they were rate limited.
const RateLimitMessage = "Too many attempts from your device. Wait a minute, then try again."

// RateLimiter is a token bucket per key (by default the client's IP
// address; IPv6 clients by their /64 network): each key may do burst
// requests at once and rate more per second after that.
//
// It keeps at most MaxKeys buckets (default DefaultMaxKeys). Buckets that
// have filled up again are forgotten once a minute; when a new key finds
// the map full, the full buckets go first, then the least recently used,
// down to nine tenths of the cap, so that the cost of evicting is spread
// over the requests in between rather than paid on every one.
type RateLimiter struct {
	rate       float64
	burst      float64
	now        func() time.Time
	trustProxy ProxyTrust
	maxKeys    int

	mu        sync.Mutex
	buckets   map[string]*bucket
	lru       bucket // sentinel of a ring of the buckets, least recently used first
	lastSweep time.Time
	visited   int // buckets looked at while sweeping or evicting (for tests)
}

type bucket struct {
	key        string
	tokens     float64
	at         time.Time
	prev, next *bucket
}

// DefaultMaxKeys is how many clients a RateLimiter tracks at most.
const DefaultMaxKeys = 100_000

// LimitOption adjusts NewRateLimiter.
type LimitOption func(*RateLimiter)

// TrustProxy makes the limiter key clients by the address their reverse
// proxy reports rather than the connection's (see ProxyTrust.ClientIP).
// Only use it behind a proxy that sets the header: otherwise clients
// choose their own key.
func TrustProxy(t ProxyTrust) LimitOption {
	return func(l *RateLimiter) { l.trustProxy = t }
}

// MaxKeys caps the number of clients the limiter tracks (n < 1: the default).
func MaxKeys(n int) LimitOption {
	return func(l *RateLimiter) {
		if n >= 1 {
			l.maxKeys = n
		}
	}
}

// NewRateLimiter returns a limiter allowing burst requests at once and rate
// per second after that, per client. now is the clock (nil: time.Now).
func NewRateLimiter(rate float64, burst int, now func() time.Time, opts ...LimitOption) *RateLimiter {
	if now == nil {
		now = time.Now
	}
	if burst < 1 {
		burst = 1
	}
	l := &RateLimiter{rate: rate, burst: float64(burst), now: now, maxKeys: DefaultMaxKeys, buckets: map[string]*bucket{}}
	l.lru.prev, l.lru.next = &l.lru, &l.lru
	for _, o := range opts {
		o(l)
	}
	return l
}

// Allow takes a token from key's bucket. When none is left it reports false
// and how long until one is.
func (l *RateLimiter) Allow(key string) (bool, time.Duration) {
	now := l.now()
	l.mu.Lock()
	defer l.mu.Unlock()
	if now.Sub(l.lastSweep) >= time.Minute {
		l.lastSweep = now
		l.dropFull(now)
	}
	b := l.buckets[key]
	if b == nil {
		if len(l.buckets) >= l.maxKeys {
			l.evict(now)
		}
		b = &bucket{key: key, tokens: l.burst, at: now}
		l.buckets[key] = b
	} else {
		b.unlink()
	}
	b.prev, b.next = l.lru.prev, &l.lru // most recently used: at the back
	l.lru.prev.next = b
	l.lru.prev = b
	if el := now.Sub(b.at); el > 0 {
		b.tokens = math.Min(l.burst, b.tokens+el.Seconds()*l.rate)
	}
	b.at = now
	if b.tokens >= 1 {
		b.tokens--
		return true, 0
	}
	if l.rate <= 0 {
		return false, time.Hour
	}
	return false, time.Duration((1 - b.tokens) / l.rate * float64(time.Second))
}

// Len is the number of clients the limiter tracks now.
func (l *RateLimiter) Len() int {
	l.mu.Lock()
	defer l.mu.Unlock()
	return len(l.buckets)
}

func (b *bucket) unlink() {
	b.prev.next, b.next.prev = b.next, b.prev
	b.prev, b.next = nil, nil
}

func (l *RateLimiter) remove(b *bucket) {
	b.unlink()
	delete(l.buckets, b.key)
}

// dropFull forgets the buckets that have filled up again: a client coming
// back gets the same full bucket it would have had.
func (l *RateLimiter) dropFull(now time.Time) {
	for b := l.lru.next; b != &l.lru; {
		next := b.next
		l.visited++
		if b.tokens+now.Sub(b.at).Seconds()*l.rate >= l.burst {
			l.remove(b)
		}
		b = next
	}
}

// evict makes room below the cap: full buckets first, then the least
// recently used, until the map is at nine tenths of the cap.
func (l *RateLimiter) evict(now time.Time) {
	l.dropFull(now)
	target := l.maxKeys - max(1, l.maxKeys/10)
	for len(l.buckets) > target && l.lru.next != &l.lru {
		l.visited++
		l.remove(l.lru.next)
	}
}

// Limit answers 429 Too Many Requests with Retry-After (in whole seconds)
// to a client whose bucket is empty, and passes other requests to next.
func (l *RateLimiter) Limit(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if ok, wait := l.Allow(l.ClientKey(r)); !ok {
			TooMany(w, r, wait)
			return
		}
		next.ServeHTTP(w, r)
	})
}

// ClientKey is the key Limit uses for r: its client IP address, or the /64
// network for IPv6.
func (l *RateLimiter) ClientKey(r *http.Request) string {
	ip := l.trustProxy.ClientIP(r)
	if a, err := netip.ParseAddr(ip); err == nil && a.Is6() && !a.Is4In6() {
		p, _ := a.Prefix(64)
		return p.String()
	}
	return ip
}

// TooMany answers 429 with a Retry-After of wait rounded up to seconds.
func TooMany(w http.ResponseWriter, r *http.Request, wait time.Duration) {
	secs := max(1, int(math.Ceil(wait.Seconds())))
	w.Header().Set("Retry-After", strconv.Itoa(secs))
	Error(w, r, http.StatusTooManyRequests, RateLimitMessage)
}

// XForwardedFor is the header that lists the addresses a request came
// through, each proxy appending the one it was reached from.
const XForwardedFor = "X-Forwarded-For"

// ProxyTrust says where a request's client address comes from. The zero
// value trusts no header: the connection's address counts.
//
// Behind a reverse proxy, Header names the header the proxy sets:
//
//   - "X-Forwarded-For" (nginx with $proxy_add_x_forwarded_for, Caddy,
//     Traefik, HAProxy's option forwardfor): a list to which every proxy
//     appends the address it was reached from. The client is the Hops-th
//     address from the right (Hops: the number of proxies in front of
//     Lobby that append to it, 1 when 0); what the client sent itself
//     stays to the left and is never read. With fewer addresses than Hops,
//     the leftmost counts.
//   - any other header (nginx's proxy_set_header X-Real-IP $remote_addr,
//     CF-Connecting-IP, ...): the proxy replaces it with the one address.
//     More than one such header line counts as none.
//
// No other header is read: a client cannot pick its own address through a
// header the proxy does not set. An entry that is not an address (or a
// missing header) falls back to the connection's address.
type ProxyTrust struct {
	Header string
	Hops   int
}

// ClientIP returns the client's IP address for r as t says (see
// ProxyTrust). Entries may carry a port ("198.51.100.7:4711",
// "[2001:db8::7]:4711"); IPv4-mapped IPv6 addresses are given as IPv4.
func (t ProxyTrust) ClientIP(r *http.Request) string {
	if t.Header != "" {
		if a, ok := t.forwarded(r); ok {
			return a.Unmap().String()
		}
	}
	host, _, err := net.SplitHostPort(r.RemoteAddr)
	if err != nil {
		host = r.RemoteAddr
	}
	if a, err := netip.ParseAddr(host); err == nil {
		return a.Unmap().String()
	}
	return host
}

// forwarded reads the address the proxy reported in t.Header.
func (t ProxyTrust) forwarded(r *http.Request) (netip.Addr, bool) {
	vals := r.Header.Values(t.Header)
	if len(vals) == 0 {
		return netip.Addr{}, false
	}
	if !strings.EqualFold(t.Header, XForwardedFor) {
		if len(vals) != 1 {
			return netip.Addr{}, false
		}
		return parseForwarded(vals[0])
	}
	// Header lines are one list, in order.
	entries := strings.Split(strings.Join(vals, ","), ",")
	i := len(entries) - max(1, t.Hops)
	return parseForwarded(entries[max(0, i)])
}

// parseForwarded reads one address a proxy reported: "203.0.113.9",
// "2001:db8::7", with a port "203.0.113.9:80" or "[2001:db8::7]:80", or
// bracketed without one "[2001:db8::7]".
func parseForwarded(s string) (netip.Addr, bool) {
	s = strings.TrimSpace(s)
	if a, err := netip.ParseAddr(s); err == nil {
		return a, true
	}
	if ap, err := netip.ParseAddrPort(s); err == nil {
		return ap.Addr(), true
	}
	if strings.HasPrefix(s, "[") && strings.HasSuffix(s, "]") {
		if a, err := netip.ParseAddr(s[1 : len(s)-1]); err == nil && a.Is6() {
			return a, true
		}
	}
	return netip.Addr{}, false
}
