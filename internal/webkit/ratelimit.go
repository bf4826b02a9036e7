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
type RateLimiter struct {
	rate       float64
	burst      float64
	now        func() time.Time
	trustProxy bool

	mu        sync.Mutex
	buckets   map[string]*bucket
	lastSweep time.Time
}

type bucket struct {
	tokens float64
	at     time.Time
}

// LimitOption adjusts NewRateLimiter.
type LimitOption func(*RateLimiter)

// TrustProxyHeaders makes the limiter key clients by the address their
// reverse proxy reports (the last X-Forwarded-For entry; X-Real-IP only
// when there is no X-Forwarded-For)
// rather than the connection's. Only use it behind a proxy that sets them:
// otherwise clients choose their own key.
func TrustProxyHeaders(trust bool) LimitOption {
	return func(l *RateLimiter) { l.trustProxy = trust }
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
	l := &RateLimiter{rate: rate, burst: float64(burst), now: now, buckets: map[string]*bucket{}}
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
	l.sweep(now)
	b := l.buckets[key]
	if b == nil {
		b = &bucket{tokens: l.burst, at: now}
		l.buckets[key] = b
	}
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

// sweep forgets buckets that have filled up again, at most once a minute,
// so that the map does not grow with every client ever seen.
func (l *RateLimiter) sweep(now time.Time) {
	if now.Sub(l.lastSweep) < time.Minute && len(l.buckets) < 100_000 {
		return
	}
	l.lastSweep = now
	for k, b := range l.buckets {
		if b.tokens+now.Sub(b.at).Seconds()*l.rate >= l.burst {
			delete(l.buckets, k)
		}
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
	ip := ClientIP(r, l.trustProxy)
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

// ClientIP returns the client's IP address: from the connection, or with
// trustProxy from the proxy's headers. When X-Forwarded-For is present its
// last entry (the one the nearest proxy added) decides, with or without a
// port ("198.51.100.7:4711", "[2001:db8::7]:4711"); an entry that is not an
// address falls back to the connection, never to X-Real-IP, which is only
// read when there is no X-Forwarded-For at all.
func ClientIP(r *http.Request, trustProxy bool) string {
	if trustProxy {
		if xff := r.Header.Values("X-Forwarded-For"); len(xff) > 0 {
			last := xff[len(xff)-1]
			if i := strings.LastIndexByte(last, ','); i >= 0 {
				last = last[i+1:]
			}
			if a, ok := parseForwarded(last); ok {
				return a.Unmap().String()
			}
		} else if a, ok := parseForwarded(r.Header.Get("X-Real-IP")); ok {
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
