package cli

import (
	"flag"
	"os"
	"path/filepath"
	"testing"
)

var update = flag.Bool("update", false, "rewrite the golden files under testdata/ from the current output")

// goldenDir is the repository's testdata folder, shared with the integration
// tests that feed the golden files to a real API server.
var goldenDir = filepath.Join("..", "..", "testdata")

// run executes the tool in-process with args and returns stdout, stderr and
// the exit code.
func run(t testing.TB, tty bool, args ...string) (stdout, stderr string, code int) {
	t.Helper()
	streams, out, errOut := TestStreams(tty)
	f := NewFactory(streams, "kubectl-waypoint")
	code = Execute(f, args)
	return out.String(), errOut.String(), code
}

// golden compares got with testdata/<command>/<name>, or rewrites it with -update.
func golden(t *testing.T, command, name, got string) {
	t.Helper()
	path := filepath.Join(goldenDir, command, name)
	if *update {
		if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(path, []byte(got), 0o644); err != nil {
			t.Fatal(err)
		}
		return
	}
	want, err := os.ReadFile(path)
	if err != nil {
		t.Fatalf("reading golden file (run go test ./pkg/cli -update to create it): %v", err)
	}
	if got != string(want) {
		t.Errorf("output differs from %s (rerun with -update if the change is intended)\n--- got:\n%s\n--- want:\n%s", path, got, want)
	}
}
