package lobby

import (
	"os"
	"strings"
	"testing"
)

// TestDeployFilesInDocs: the copy-paste configurations in the forward-auth
// documentation are the shipped files that make integration runs, word for
// word.
func TestDeployFilesInDocs(t *testing.T) {
	t.Parallel()
	doc, err := os.ReadFile("docs/forward-auth.md")
	if err != nil {
		t.Fatal(err)
	}
	for _, f := range []string{"deploy/nginx/lobby-forward-auth.conf", "deploy/caddy/Caddyfile", "deploy/traefik/lobby-forward-auth.yml"} {
		conf, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		if !strings.Contains(string(doc), "\n"+string(conf)+"```") {
			t.Errorf("docs/forward-auth.md does not show %s as it is; copy the file into its code block", f)
		}
		if !strings.Contains(string(doc), "](../"+f+")") {
			t.Errorf("docs/forward-auth.md does not link %s", f)
		}
	}
}
