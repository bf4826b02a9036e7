package radius

import (
	"cmp"
	"context"
	"crypto/sha256"
	"crypto/subtle"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"strconv"
	"strings"
	"time"

	"github.com/lobbyhq/lobby/guest"
)

// MinSecretLength is the shortest shared secret New takes.
const MinSecretLength = 16

// maxBody bounds a request body: a RADIUS packet is at most 4 KiB, and
// its JSON a few times that.
const maxBody = 64 << 10

// Guests are the guest rules the endpoint calls; *guest.Service has them.
type Guests interface {
	AuthenticateNetwork(ctx context.Context, username, password string, from guest.NetworkClient) (guest.NetworkAuth, error)
	RecordNetworkSession(ctx context.Context, rec guest.NetworkSession) error
}

// Config is what New needs.
type Config struct {
	Guests Guests // required
	// Secret is the shared secret FreeRADIUS sends as
	// "Authorization: Bearer <secret>"; at least MinSecretLength
	// characters. Required.
	Secret string
	Logger *slog.Logger // default: discard
}

// Handler serves rlm_rest's requests. It expects the prefix it is mounted
// under stripped, and serves
//
//	POST /authenticate  200 {"reply:Session-Timeout": seconds} to accept,
//	                    401 {"reply:Reply-Message": why} to reject
//	POST /accounting    204 once recorded
//
// 400 for a request without the attributes it needs, 401 without the
// right secret, 500 when the store fails (rlm_rest then fails, and
// FreeRADIUS rejects).
type Handler struct {
	guests Guests
	secret [sha256.Size]byte
	log    *slog.Logger
	mux    *http.ServeMux
}

// New checks cfg and returns the Handler.
func New(cfg Config) (*Handler, error) {
	var errs []error
	if cfg.Guests == nil {
		errs = append(errs, errors.New("radius: config: Guests is required"))
	}
	if len(cfg.Secret) < MinSecretLength {
		errs = append(errs, fmt.Errorf("radius: config: Secret must be at least %d characters (got %d); make one with: openssl rand -hex 32",
			MinSecretLength, len(cfg.Secret)))
	}
	if strings.ContainsAny(cfg.Secret, " \t\r\n\"'") {
		errs = append(errs, errors.New("radius: config: Secret must not contain spaces, line breaks or quotes (FreeRADIUS sends it in a header); make one with: openssl rand -hex 32"))
	}
	if err := errors.Join(errs...); err != nil {
		return nil, err
	}
	h := &Handler{guests: cfg.Guests, secret: sha256.Sum256([]byte(cfg.Secret)),
		log: cmp.Or(cfg.Logger, slog.New(slog.DiscardHandler)), mux: http.NewServeMux()}
	h.mux.HandleFunc("POST /authenticate", h.authenticate)
	h.mux.HandleFunc("POST /accounting", h.accounting)
	h.mux.HandleFunc("/", func(w http.ResponseWriter, r *http.Request) {
		reply(w, http.StatusNotFound, map[string]any{})
	})
	return h, nil
}

func (h *Handler) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	if !h.authorized(r) {
		h.log.WarnContext(r.Context(), "radius: request without the right secret; check the Authorization header FreeRADIUS sends (deploy/freeradius)",
			"remote", r.RemoteAddr, "path", r.URL.Path)
		w.Header().Set("WWW-Authenticate", `Bearer realm="lobby-radius"`)
		reply(w, http.StatusUnauthorized, map[string]any{})
		return
	}
	h.mux.ServeHTTP(w, r)
}

// authorized reports whether r carries the secret. Comparing the digests
// takes the same time whatever the length of what came.
func (h *Handler) authorized(r *http.Request) bool {
	scheme, token, ok := strings.Cut(r.Header.Get("Authorization"), " ")
	if !ok || !strings.EqualFold(scheme, "Bearer") {
		return false
	}
	got := sha256.Sum256([]byte(strings.TrimSpace(token)))
	return subtle.ConstantTimeCompare(got[:], h.secret[:]) == 1
}

func (h *Handler) authenticate(w http.ResponseWriter, r *http.Request) {
	ctx := r.Context()
	attrs, err := readAttributes(w, r)
	if err != nil {
		h.badRequest(w, r, err)
		return
	}
	user, pass := attrs.get("User-Name"), attrs.get("User-Password")
	if user == "" || pass == "" {
		h.badRequest(w, r, errors.New("no User-Name or User-Password: send the request's attributes (rlm_rest body = 'json') from an Auth-Type that has them (PAP)"))
		return
	}
	res, err := h.guests.AuthenticateNetwork(ctx, user, pass, attrs.client())
	if err != nil {
		h.log.ErrorContext(ctx, "radius: authenticate", "error", err.Error())
		reply(w, http.StatusInternalServerError, map[string]any{})
		return
	}
	if res.Outcome != guest.NetworkAccept {
		reply(w, http.StatusUnauthorized, map[string]any{"reply:Reply-Message": res.Outcome.Message()})
		return
	}
	reply(w, http.StatusOK, map[string]any{"reply:Session-Timeout": SessionTimeout(res.Remaining)})
}

// SessionTimeout is the Session-Timeout, in whole seconds, for access
// that lasts d: at least 1, and at most what the 32-bit attribute holds.
func SessionTimeout(d time.Duration) int64 {
	s := int64(d / time.Second)
	return min(max(s, 1), 1<<32-1)
}

func (h *Handler) accounting(w http.ResponseWriter, r *http.Request) {
	ctx := r.Context()
	attrs, err := readAttributes(w, r)
	if err != nil {
		h.badRequest(w, r, err)
		return
	}
	rec := guest.NetworkSession{
		Username:       attrs.get("User-Name"),
		Status:         attrs.get("Acct-Status-Type"),
		SessionID:      attrs.get("Acct-Session-Id"),
		From:           attrs.client(),
		Duration:       time.Duration(attrs.uint("Acct-Session-Time")) * time.Second,
		InputOctets:    attrs.uint("Acct-Input-Gigawords")<<32 + attrs.uint("Acct-Input-Octets"),
		OutputOctets:   attrs.uint("Acct-Output-Gigawords")<<32 + attrs.uint("Acct-Output-Octets"),
		TerminateCause: attrs.get("Acct-Terminate-Cause"),
	}
	if rec.Status == "" {
		h.badRequest(w, r, errors.New("no Acct-Status-Type"))
		return
	}
	if err := h.guests.RecordNetworkSession(ctx, rec); err != nil {
		h.log.ErrorContext(ctx, "radius: accounting", "error", err.Error())
		reply(w, http.StatusInternalServerError, map[string]any{})
		return
	}
	w.WriteHeader(http.StatusNoContent)
}

func (h *Handler) badRequest(w http.ResponseWriter, r *http.Request, err error) {
	h.log.WarnContext(r.Context(), "radius: bad request from FreeRADIUS", "path", r.URL.Path, "error", err.Error())
	reply(w, http.StatusBadRequest, map[string]any{})
}

// reply writes v as JSON, which rlm_rest decodes into attributes ("list:Name": value).
func reply(w http.ResponseWriter, status int, v map[string]any) {
	h := w.Header()
	h.Set("Content-Type", "application/json")
	h.Set("Cache-Control", "no-store")
	w.WriteHeader(status)
	_ = json.NewEncoder(w).Encode(v)
}

// attributes are the RADIUS attributes of a request, as rlm_rest sends them
// with body = 'json': {"User-Name": {"type": "string", "value": ["ada"]}, ...}.
type attributes map[string][]string

// readAttributes decodes r's body.
func readAttributes(w http.ResponseWriter, r *http.Request) (attributes, error) {
	var raw map[string]json.RawMessage
	if err := json.NewDecoder(http.MaxBytesReader(w, r.Body, maxBody)).Decode(&raw); err != nil {
		return nil, fmt.Errorf("read the attributes (rlm_rest body = 'json'): %w", err)
	}
	out := make(attributes, len(raw))
	for name, v := range raw {
		var a struct {
			Value []json.RawMessage `json:"value"`
		}
		if err := json.Unmarshal(v, &a); err != nil {
			// A bare value: "User-Name": "ada".
			a.Value = []json.RawMessage{v}
		}
		for _, item := range a.Value {
			var s string
			if err := json.Unmarshal(item, &s); err != nil {
				s = string(item) // a number
			}
			out[name] = append(out[name], s)
		}
	}
	return out, nil
}

// get returns the first value of the attribute name, or "".
func (a attributes) get(name string) string {
	if v := a[name]; len(v) > 0 {
		return v[0]
	}
	return ""
}

// uint returns the attribute name as a number, 0 when absent or not one.
func (a attributes) uint(name string) uint64 {
	n, _ := strconv.ParseUint(a.get(name), 10, 64)
	return n
}

// client is where the request came from.
func (a attributes) client() guest.NetworkClient {
	return guest.NetworkClient{NAS: cmp.Or(a.get("NAS-Identifier"), a.get("NAS-IP-Address"), a.get("NAS-IPv6-Address")), Station: a.get("Calling-Station-Id")}
}
