package webkit

import (
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"io/fs"
	"mime"
	"net/http"
	"path"
	"strings"
	"time"
)

// Assets serves static files (the stylesheet) with content-hash URLs: a URL
// carries ?v=<hash of the content>, and a request with the current hash is
// cacheable for a year, so a new release is fetched at once.
type Assets struct {
	files map[string]asset
}

type asset struct {
	body  []byte
	hash  string
	ctype string
}

// NewAssets reads every file of fsys once.
func NewAssets(fsys fs.FS) (*Assets, error) {
	a := &Assets{files: map[string]asset{}}
	err := fs.WalkDir(fsys, ".", func(p string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() || strings.HasPrefix(path.Base(p), ".") {
			return err
		}
		body, err := fs.ReadFile(fsys, p)
		if err != nil {
			return err
		}
		sum := sha256.Sum256(body)
		ct := mime.TypeByExtension(path.Ext(p))
		if ct == "" {
			ct = "application/octet-stream"
		}
		a.files[p] = asset{body: body, hash: hex.EncodeToString(sum[:6]), ctype: ct}
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("webkit: static assets: %w", err)
	}
	return a, nil
}

// URL returns name with its content hash, e.g. "lobby.css?v=3fa2…", to be
// joined with where the assets are served; "" when there is no such file.
func (a *Assets) URL(name string) string {
	f, ok := a.files[name]
	if !ok {
		return ""
	}
	return name + "?v=" + f.hash
}

// ServeHTTP serves the file named by r's path (the mount prefix stripped).
func (a *Assets) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	f, ok := a.files[strings.TrimPrefix(r.URL.Path, "/")]
	if !ok {
		Error(w, r, http.StatusNotFound, "There is no file at this address.")
		return
	}
	h := w.Header()
	h.Set("Content-Type", f.ctype)
	h.Set("X-Content-Type-Options", "nosniff")
	h.Set("ETag", `"`+f.hash+`"`)
	if r.URL.Query().Get("v") == f.hash {
		h.Set("Cache-Control", "public, max-age=31536000, immutable")
	} else {
		h.Set("Cache-Control", "no-cache")
	}
	http.ServeContent(w, r, "", time.Time{}, bytes.NewReader(f.body))
}
