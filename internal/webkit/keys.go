package webkit

import (
	"crypto/hmac"
	"crypto/sha256"
	"hash"
	"sync"
)

// DeriveKey derives an independent 32-byte key for one purpose from the
// secret key, so that a value signed for one use (a session cookie) is never
// accepted for another (an approval link).
func DeriveKey(secret []byte, purpose string) []byte {
	m := hmac.New(sha256.New, secret)
	m.Write([]byte("lobby/webkit/v1/"))
	m.Write([]byte(purpose))
	return m.Sum(nil)
}

// macState is an HMAC and a buffer for the length prefixes (which would
// otherwise be allocated at every Write through the interface).
type macState struct {
	h   hash.Hash
	len [4]byte
	buf []byte            // sumString's copy of its part
	out [sha256.Size]byte // sumString's MAC
}

func (st *macState) sum(dst []byte, parts [][]byte) []byte {
	for _, p := range parts {
		n := len(p)
		st.len = [4]byte{byte(n >> 24), byte(n >> 16), byte(n >> 8), byte(n)}
		st.h.Write(st.len[:])
		st.h.Write(p)
	}
	return st.h.Sum(dst)
}

// macer computes HMAC-SHA256 under one key of a list of parts, each
// length-prefixed so that no two different part lists give the same input.
// It reuses its HMAC states: a fresh
// HMAC-SHA256 costs three hash allocations and two key blocks hashed, and
// every request checks one or two MACs (CSRF cookie, session cookie).
type macer struct {
	key  []byte
	pool sync.Pool // of *macState keyed with key
}

func newMacer(key []byte) *macer {
	m := &macer{key: key}
	m.pool.New = func() any { return &macState{h: hmac.New(sha256.New, key)} }
	return m
}

// sum appends mac(key, parts...) to dst.
func (m *macer) sum(dst []byte, parts ...[]byte) []byte {
	st := m.pool.Get().(*macState)
	st.h.Reset()
	dst = st.sum(dst, parts)
	m.pool.Put(st)
	return dst
}

// maxMacBuf is the longest part sumString keeps its buffer for.
const maxMacBuf = 4 << 10

// sumString sets out to mac(key, s) without allocating: s goes to the HMAC
// through the pooled state's buffer (a slice passed to the hash's Write
// through its interface would be allocated at every call).
func (m *macer) sumString(out *[sha256.Size]byte, s string) {
	st := m.pool.Get().(*macState)
	st.h.Reset()
	st.buf = append(st.buf[:0], s...)
	parts := [1][]byte{st.buf}
	st.sum(st.out[:0], parts[:])
	*out = st.out
	if cap(st.buf) > maxMacBuf {
		st.buf = nil
	}
	m.pool.Put(st)
}

// verify reports whether sig is mac(key, parts...), in constant time.
func (m *macer) verify(sig []byte, parts ...[]byte) bool {
	var buf [sha256.Size]byte
	return hmac.Equal(sig, m.sum(buf[:0], parts...))
}
