package cli

import (
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
)

// TestCIGuide runs every shell block of docs/ci.md, in order, against the
// test API server, with "kubectl waypoint" meaning our binary run as a
// kubectl plugin.
func TestCIGuide(t *testing.T) {
	doc, err := os.ReadFile(filepath.Join("..", "..", "docs", "ci.md"))
	if err != nil {
		t.Fatal(err)
	}
	blocks := regexp.MustCompile("(?s)```sh\n(.*?)```").FindAllStringSubmatch(string(doc), -1)
	if len(blocks) < 5 {
		t.Fatalf("found %d shell blocks in docs/ci.md", len(blocks))
	}

	bin := pluginBinDir(t)
	for i := 0; i < 3; i++ {
		env.Namespace(t, map[string]string{"team": "payments", "istio.io/dataplane-mode": "ambient"})
	}
	env.NamedNamespace(t, "payments-legacy", map[string]string{"team": "legacy", "istio.io/use-waypoint": "old-waypoint"})
	env.Namespace(t, map[string]string{"team": "legacy"})

	work := t.TempDir()
	path := bin + string(os.PathListSeparator) + filepath.Dir(env.KubectlPath) + string(os.PathListSeparator) + os.Getenv("PATH")
	for i, b := range blocks {
		script := b[1]
		cmd := exec.Command("bash", "-euo", "pipefail", "-c", script)
		cmd.Dir = work
		cmd.Env = append(os.Environ(), "PATH="+path, "KUBECONFIG="+env.Kubeconfig)
		out, err := cmd.CombinedOutput()
		if err != nil {
			t.Fatalf("block %d of docs/ci.md failed: %v\n%s\n--- output:\n%s", i+1, err, strings.TrimSpace(script), out)
		}
	}
}
