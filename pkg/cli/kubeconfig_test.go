package cli

import (
	"bytes"
	"errors"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
)

// TestUnitKubeconfigProblems: without a kubeconfig the error names the address
// tried and where a kubeconfig was looked for; a kubeconfig that cannot be
// used is invalid input (exit 2). No API server is needed.
func TestUnitKubeconfigProblems(t *testing.T) {
	t.Setenv("KUBECONFIG", "")
	// client-go fixes the home kubeconfig's path when it starts, so the
	// cases without a kubeconfig run the binary with a HOME of their own.
	home := t.TempDir()
	binary := func(t *testing.T, kubeconfig string, args ...string) (string, int) {
		t.Helper()
		cmd := exec.Command(filepath.Join(pluginBinDir(t), "kubectl-waypoint"), args...)
		cmd.Env = []string{"HOME=" + home, "KUBECONFIG=" + kubeconfig, "PATH=/usr/bin:/bin"}
		var stderr bytes.Buffer
		cmd.Stderr = &stderr
		err := cmd.Run()
		var exit *exec.ExitError
		if err != nil && !errors.As(err, &exit) {
			t.Fatal(err)
		}
		return stderr.String(), cmd.ProcessState.ExitCode()
	}
	dir := t.TempDir()
	write := func(name, text string) string {
		p := filepath.Join(dir, name)
		if err := os.WriteFile(p, []byte(text), 0o600); err != nil {
			t.Fatal(err)
		}
		return p
	}
	broken := write("broken", "garbage: [\n")
	noContext := write("nocontext", "apiVersion: v1\nkind: Config\ncurrent-context: nope\n")

	t.Run("none", func(t *testing.T) {
		stderr, code := binary(t, "", "list", "--request-timeout", "5s")
		want := []string{"the API server at http://localhost:8080 is unreachable", "no kubeconfig was found (looked in $KUBECONFIG (unset), " + filepath.Join(home, ".kube", "config") + ")", "set KUBECONFIG or pass --kubeconfig"}
		for _, w := range want {
			if !strings.Contains(stderr, w) {
				t.Errorf("stderr %q lacks %q", stderr, w)
			}
		}
		if code != ExitFailed || strings.Count(stderr, "\n") != 1 {
			t.Errorf("exit %d, stderr %q", code, stderr)
		}
	})
	t.Run("KUBECONFIG names no file", func(t *testing.T) {
		stderr, _ := binary(t, filepath.Join(dir, "missing"), "status", "--request-timeout", "5s")
		if !strings.Contains(stderr, "no kubeconfig was found (looked in $KUBECONFIG ("+filepath.Join(dir, "missing")+"))") {
			t.Errorf("stderr %q", stderr)
		}
	})
	for _, c := range []struct{ name, file, want string }{
		{"does not parse", broken, "invalid kubeconfig: error loading config file"},
		{"unknown context", noContext, `invalid kubeconfig: `},
		{"--kubeconfig names no file", filepath.Join(dir, "missing"), "invalid --kubeconfig "},
	} {
		t.Run(c.name, func(t *testing.T) {
			for _, args := range [][]string{{"list"}, {"list", "-A"}, {"apply", "-n", "default"}, {"enroll", "namespace", "default", "--waypoint", "waypoint"}} {
				_, stderr, code := run(t, false, append(args, "--kubeconfig", c.file)...)
				if code != ExitUsage || !strings.Contains(stderr, c.want) || strings.Count(stderr, "\n") != 1 {
					t.Errorf("%v: exit %d, stderr %q", args, code, stderr)
				}
			}
		})
	}
	t.Run("generate reads no kubeconfig", func(t *testing.T) {
		if _, stderr, code := run(t, false, "generate", "--kubeconfig", broken); code != 0 {
			t.Errorf("exit %d, stderr %q", code, stderr)
		}
	})
}
