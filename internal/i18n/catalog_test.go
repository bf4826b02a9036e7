package i18n

import (
	"io/fs"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"testing"

	"github.com/BurntSushi/toml"

	"github.com/lobbyhq/lobby/web"
)

// readCatalog reads web/locales/LANG.toml as key → the texts of its forms
// (one for a plain message, one per plural form).
func readCatalog(t *testing.T, fsys fs.FS, lang string) map[string][]string {
	t.Helper()
	raw := map[string]any{}
	b, err := fs.ReadFile(fsys, lang+".toml")
	if err != nil {
		t.Fatal(err)
	}
	if err := toml.Unmarshal(b, &raw); err != nil {
		t.Fatalf("%s.toml: %v", lang, err)
	}
	out := map[string][]string{}
	for k, v := range raw {
		switch v := v.(type) {
		case string:
			out[k] = []string{v}
		case map[string]any:
			for _, form := range []string{"zero", "one", "two", "few", "many", "other"} {
				if s, ok := v[form].(string); ok {
					out[k] = append(out[k], s)
				}
			}
			if _, ok := v["other"]; !ok {
				t.Errorf("%s.toml: %s has plural forms but no \"other\"", lang, k)
			}
		default:
			t.Errorf("%s.toml: %s is a %T; want a string or plural forms", lang, k, v)
		}
	}
	return out
}

var placeholderRE = regexp.MustCompile(`\{\{[^}]*?\.(\w+)[^}]*\}\}`)

// placeholders lists the {{.Fields}} texts use, sorted, each once.
func placeholders(texts []string) []string {
	var out []string
	for _, s := range texts {
		for _, m := range placeholderRE.FindAllStringSubmatch(s, -1) {
			if !slices.Contains(out, m[1]) {
				out = append(out, m[1])
			}
		}
	}
	slices.Sort(out)
	return out
}

// checkCatalogs reports what is wrong with the catalogs of fsys against
// the English one: a missing key, an extra key, another set of
// placeholders, markup in one language and not in another.
func checkCatalogs(t *testing.T, fsys fs.FS) []string {
	en := readCatalog(t, fsys, English)
	var problems []string
	for _, lang := range Languages()[1:] {
		other := readCatalog(t, fsys, lang)
		for k, texts := range en {
			got, ok := other[k]
			if !ok {
				problems = append(problems, lang+".toml misses "+k)
				continue
			}
			if a, b := placeholders(texts), placeholders(got); !slices.Equal(a, b) {
				problems = append(problems, lang+".toml: "+k+" has placeholders "+strings.Join(b, ",")+"; en.toml has "+strings.Join(a, ","))
			}
			if a, b := strings.Count(strings.Join(texts, ""), "<a "), strings.Count(strings.Join(got[len(got)-1:], ""), "<a "); a/len(texts) != b {
				problems = append(problems, lang+".toml: "+k+" has a different number of links than en.toml")
			}
		}
		for k := range other {
			if _, ok := en[k]; !ok {
				problems = append(problems, lang+".toml has "+k+", which en.toml does not")
			}
		}
	}
	slices.Sort(problems)
	return problems
}

// TestCatalogsComplete: every language has every English key, no other,
// with the same placeholders.
func TestCatalogsComplete(t *testing.T) {
	t.Parallel()
	for _, p := range checkCatalogs(t, web.Locales()) {
		t.Error(p)
	}
	if _, err := New(); err != nil {
		t.Fatalf("the catalogs do not load: %v", err)
	}
}

// TestCatalogCheckFails: the check above finds a missing key, an extra
// key and a placeholder mismatch (so that it can fail).
func TestCatalogCheckFails(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	write := func(lang, body string) {
		if err := os.WriteFile(filepath.Join(dir, lang+".toml"), []byte(body), 0o600); err != nil {
			t.Fatal(err)
		}
	}
	write("en", "\"a\" = \"Hello {{.Name}}\"\n\"b\" = \"Bye\"\n")
	write("de", "\"a\" = \"Hallo {{.Nom}}\"\n")
	write("fr", "\"a\" = \"Bonjour {{.Name}}\"\n\"b\" = \"Salut\"\n\"c\" = \"En trop\"\n")
	write("es", "\"a\" = \"Hola {{.Name}}\"\n\"b\" = \"Adiós\"\n")
	got := strings.Join(checkCatalogs(t, os.DirFS(dir)), "\n")
	for _, want := range []string{"de.toml misses b", "de.toml: a has placeholders Nom; en.toml has Name", "fr.toml has c, which en.toml does not"} {
		if !strings.Contains(got, want) {
			t.Errorf("the check did not report %q; it reported:\n%s", want, got)
		}
	}
}

// keyRE finds what looks like a catalog key in a quoted string of Go code
// or of a template.
var keyRE = regexp.MustCompile(`"((?:layout|portal|email|language)\.[a-z0-9_.]+)"`)

// callRE finds a key passed to T, N, HTML, Message or a template's t.
var callRE = regexp.MustCompile(`(?:\.T|\.N|\.HTML|\.Message|\bt)[ (]"([a-z][a-z0-9_.]*)"`)

// TestCatalogKeysUsed: every key of en.toml is used by the code or a
// template (a string literal naming it), and every key they name exists.
// date.* and duration.* are built by this package.
func TestCatalogKeysUsed(t *testing.T) {
	t.Parallel()
	en := readCatalog(t, web.Locales(), English)
	used := map[string]bool{}
	root := filepath.Join("..", "..")
	err := filepath.WalkDir(root, func(path string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if d.IsDir() {
			if name := d.Name(); name != ".." && (strings.HasPrefix(name, ".") || name == "locales" || name == "node_modules") {
				return filepath.SkipDir
			}
			return nil
		}
		ext := filepath.Ext(path)
		if (ext != ".go" && ext != ".html" && ext != ".tmpl") || strings.HasSuffix(path, "_test.go") {
			return nil
		}
		b, err := os.ReadFile(path)
		if err != nil {
			return err
		}
		for _, m := range keyRE.FindAllStringSubmatch(string(b), -1) {
			used[m[1]] = true
		}
		for _, m := range callRE.FindAllStringSubmatch(string(b), -1) {
			if _, ok := en[m[1]]; !ok && !strings.HasSuffix(m[1], ".") {
				t.Errorf("%s asks for %s, which en.toml does not have", path, m[1])
			}
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	for k := range en {
		if strings.HasPrefix(k, "date.") || strings.HasPrefix(k, "duration.") {
			continue
		}
		if !used[k] {
			t.Errorf("en.toml has %s, which nothing uses: remove it from every catalog", k)
		}
	}
}
