package portal

import (
	"fmt"
	"net/http"
	"strconv"
)

// brandCache sets how a brand response may be cached: for good when the
// URL names the version it holds (a save gives the pages a new URL), else
// briefly.
func brandCache(w http.ResponseWriter, r *http.Request, version int64) {
	if r.URL.Query().Get("v") == strconv.FormatInt(version, 10) {
		w.Header().Set("Cache-Control", "public, max-age=31536000, immutable")
		return
	}
	w.Header().Set("Cache-Control", "public, max-age=60")
}

// theme serves the stylesheet with the settings' accent colour, which the
// pages link after lobby.css (the CSP allows no inline styles). The dark
// colour scheme keeps its own accent: one chosen for white pages rarely
// reads on dark ones.
func (p *Portal) theme(w http.ResponseWriter, r *http.Request) {
	ps := p.settings(r.Context())
	w.Header().Set("Content-Type", "text/css; charset=utf-8")
	brandCache(w, r, ps.Version)
	if ps.Accent == "" {
		return
	}
	// Accent is checked as #rrggbb when saved.
	fmt.Fprintf(w, "@media not all and (prefers-color-scheme: dark) {\n  :root { --accent: %s; --accent-fg: #fff; }\n}\n", ps.Accent)
}

// logo serves the settings' logo.
func (p *Portal) logo(w http.ResponseWriter, r *http.Request) {
	ps := p.settings(r.Context())
	if ps.LogoType == "" {
		http.NotFound(w, r)
		return
	}
	w.Header().Set("Content-Type", ps.LogoType)
	w.Header().Set("X-Content-Type-Options", "nosniff")
	brandCache(w, r, ps.Version)
	_, _ = w.Write(ps.Logo)
}
