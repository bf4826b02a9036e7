package api

import (
	"net/http"
	"slices"
	"strings"
	"testing"

	"github.com/getkin/kin-openapi/openapi3"

	"github.com/lobbyhq/lobby/guest"
)

// TestOpenAPIValid: the embedded document is a valid OpenAPI 3 document
// (checked by kin-openapi, its references resolved, its examples and
// defaults against their schemas).
func TestOpenAPIValid(t *testing.T) {
	t.Parallel()
	loader := openapi3.NewLoader()
	doc, err := loader.LoadFromData(OpenAPI())
	if err != nil {
		t.Fatalf("load the OpenAPI document: %v", err)
	}
	if err := doc.Validate(loader.Context); err != nil {
		t.Fatalf("the OpenAPI document is not valid: %v", err)
	}
}

// TestOpenAPIMatchesRoutes: every route the API's mux registers is in the
// document with its method, and every operation of the document is a
// route; every operation but the document itself answers 401 without a
// token, as its security says.
func TestOpenAPIMatchesRoutes(t *testing.T) {
	t.Parallel()
	doc, err := openapi3.NewLoader().LoadFromData(OpenAPI())
	if err != nil {
		t.Fatal(err)
	}
	var inDoc []string
	public := map[string]bool{}
	for path, item := range doc.Paths.Map() {
		for method, op := range item.Operations() {
			key := method + " " + path
			inDoc = append(inDoc, key)
			public[key] = op.Security != nil && len(*op.Security) == 0
		}
	}
	a, err := New(Config{Guests: &guest.Service{}})
	if err != nil {
		t.Fatal(err)
	}
	var routed []string
	for _, rt := range a.routes() {
		key := rt.method + " " + rt.path
		routed = append(routed, key)
		if public[key] != rt.public {
			t.Errorf("%s: public %v in the mux, %v in the document", key, rt.public, public[key])
		}
	}
	slices.Sort(inDoc)
	slices.Sort(routed)
	for _, k := range routed {
		if !slices.Contains(inDoc, k) {
			t.Errorf("route %s is not in the OpenAPI document", k)
		}
	}
	for _, k := range inDoc {
		if !slices.Contains(routed, k) {
			t.Errorf("the OpenAPI document has %s, which the API does not serve", k)
		}
	}
	if len(routed) != len(inDoc) {
		t.Errorf("%d routes, %d operations", len(routed), len(inDoc))
	}
}

// TestOpenAPIServed: GET /openapi.json serves the document without a
// token; every other operation of the document wants one.
func TestOpenAPIServed(t *testing.T) {
	t.Parallel()
	b := setup(t, "sqlite", options{})
	r := b.call(t, "", "GET", "/openapi.json", nil)
	if r.status != http.StatusOK || r.header.Get("Content-Type") != "application/json" || string(r.body) != string(OpenAPI()) {
		t.Fatalf("GET /openapi.json: %d %s", r.status, r.header.Get("Content-Type"))
	}
	doc, err := openapi3.NewLoader().LoadFromData(r.body)
	if err != nil {
		t.Fatal(err)
	}
	for path, item := range doc.Paths.Map() {
		for method := range item.Operations() {
			if path == "/openapi.json" {
				continue
			}
			p := strings.ReplaceAll(path, "{id}", "6f1c2a8e-8a55-4a9e-9d6e-2b8f5b0c9d11")
			if r := b.call(t, "", method, p, nil); r.status != http.StatusUnauthorized {
				t.Errorf("%s %s without a token: %d, want 401", method, path, r.status)
			}
		}
	}
}
