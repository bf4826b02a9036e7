package api

import (
	"errors"
	"net/http"
	"strconv"
	"strings"
	"time"

	_ "embed"
)

// ParseValidity reads a duration as the sponsor pages take it: whole
// numbers with a unit, as "8h", "2d", "1d12h", "90m", "1w". Empty is 0
// (the guest type's default).
func ParseValidity(v string) (time.Duration, error) {
	v = strings.ToLower(strings.ReplaceAll(v, " ", ""))
	if v == "" {
		return 0, nil
	}
	units := map[byte]time.Duration{'m': time.Minute, 'h': time.Hour, 'd': 24 * time.Hour, 'w': 7 * 24 * time.Hour}
	var total time.Duration
	for v != "" {
		i := 0
		for i < len(v) && v[i] >= '0' && v[i] <= '9' {
			i++
		}
		if i == 0 || i > 6 || i == len(v) || units[v[i]] == 0 {
			return 0, errors.New("api: bad duration: use whole numbers with m, h, d or w")
		}
		n, _ := strconv.Atoi(v[:i])
		total += time.Duration(n) * units[v[i]]
		v = v[i+1:]
	}
	if total <= 0 {
		return 0, errors.New("api: bad duration: it must be longer than nothing")
	}
	return total, nil
}

//go:embed openapi.json
var openAPI []byte

// OpenAPI is the API's OpenAPI document (JSON).
func OpenAPI() []byte { return append([]byte(nil), openAPI...) }

func serveOpenAPI(w http.ResponseWriter, r *http.Request) {
	h := w.Header()
	h.Set("Content-Type", "application/json")
	h.Set("Cache-Control", "no-cache")
	h.Set("X-Content-Type-Options", "nosniff")
	_, _ = w.Write(openAPI)
}
