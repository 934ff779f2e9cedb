package cli

import (
	"bytes"
	"errors"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strings"
	"testing"
)

// seedWaypoint is the Gateway the Istio docs show for
// `istioctl waypoint generate --for service -n default`.
const seedWaypoint = `apiVersion: gateway.networking.k8s.io/v1
kind: Gateway
metadata:
  labels:
    istio.io/waypoint-for: service
  name: waypoint
  namespace: default
spec:
  gatewayClassName: istio-waypoint
  listeners:
  - name: mesh
    port: 15008
    protocol: HBONE
`

// TestKubectlPlugin builds the real binary and runs it through the real
// kubectl, as a user who put it on PATH would: kubectl must find it, pass
// arguments and exit codes through, and the tool must name itself
// "kubectl waypoint" there and "kubectl-waypoint" when run directly.
func TestKubectlPlugin(t *testing.T) {
	// The binary of the test run, alone in a directory of its own.
	binDir := t.TempDir()
	plugin := filepath.Join(binDir, "kubectl-waypoint")
	if err := os.Link(filepath.Join(pluginBinDir(t), "kubectl-waypoint"), plugin); err != nil {
		t.Fatal(err)
	}

	// Only our binary and the control plane's kubectl on PATH, so that no
	// other plugin of the machine interferes.
	path := binDir + string(os.PathListSeparator) + filepath.Dir(env.KubectlPath)
	environ := []string{"PATH=" + path, "KUBECONFIG=" + env.Kubeconfig, "HOME=" + t.TempDir(), "NO_COLOR=1"}

	// exe runs name (a path) with argv[0] set to argv0, and returns stdout,
	// stderr and the exit code.
	exe := func(t *testing.T, name, argv0 string, args ...string) (string, string, int) {
		t.Helper()
		cmd := exec.Command(name, args...)
		cmd.Args[0] = argv0
		cmd.Env = environ
		var stdout, stderr bytes.Buffer
		cmd.Stdout, cmd.Stderr = &stdout, &stderr
		err := cmd.Run()
		var exit *exec.ExitError
		switch {
		case errors.As(err, &exit):
			return stdout.String(), stderr.String(), exit.ExitCode()
		case err != nil:
			t.Fatalf("running %s: %v", argv0, err)
		}
		return stdout.String(), stderr.String(), 0
	}
	kubectl := func(t *testing.T, args ...string) (string, string, int) {
		t.Helper()
		return exe(t, env.KubectlPath, "kubectl", args...)
	}

	t.Run("kubectl plugin list finds it", func(t *testing.T) {
		stdout, stderr, code := kubectl(t, "plugin", "list")
		if code != 0 || !strings.Contains(stdout, plugin) {
			t.Fatalf("exit %d, stdout %q, stderr %q; want %s listed", code, stdout, stderr, plugin)
		}
		if strings.Contains(stderr, "warning") {
			t.Errorf("kubectl warns about the plugin: %q", stderr)
		}
	})

	t.Run("version", func(t *testing.T) {
		stdout, stderr, code := kubectl(t, "waypoint", "version")
		if code != 0 || !strings.HasPrefix(stdout, "kubectl-waypoint ") || !strings.Contains(stdout, runtime.Version()) {
			t.Fatalf("exit %d, stdout %q, stderr %q", code, stdout, stderr)
		}
	})

	t.Run("generate prints the seed", func(t *testing.T) {
		stdout, stderr, code := kubectl(t, "waypoint", "generate", "--for", "service", "-n", "default")
		if code != 0 || stdout != seedWaypoint {
			t.Fatalf("exit %d, stderr %q, stdout:\n%s\nwant:\n%s", code, stderr, stdout, seedWaypoint)
		}
		// Without --for: what the golden file holds, byte for byte.
		want, err := os.ReadFile(filepath.Join(goldenDir, "generate", "namespace.yaml"))
		if err != nil {
			t.Fatal(err)
		}
		stdout, stderr, code = kubectl(t, "waypoint", "generate", "-n", "default")
		if code != 0 || stdout != string(want) {
			t.Fatalf("exit %d, stderr %q, stdout:\n%s\nwant:\n%s", code, stderr, stdout, want)
		}
	})

	t.Run("exit codes pass through kubectl", func(t *testing.T) {
		stdout, stderr, code := kubectl(t, "waypoint", "generate", "--for", "bogus")
		if code != ExitUsage || stdout != "" || !strings.Contains(stderr, `"bogus"`) {
			t.Fatalf("exit %d (want %d), stdout %q, stderr %q", code, ExitUsage, stdout, stderr)
		}
	})

	t.Run("help names the plugin kubectl waypoint", func(t *testing.T) {
		stdout, _, code := kubectl(t, "waypoint", "--help")
		if code != 0 {
			t.Fatalf("exit %d", code)
		}
		for _, want := range []string{"Usage:\n  kubectl waypoint [flags]", `Use "kubectl waypoint [command] --help"`} {
			if !strings.Contains(stdout, want) {
				t.Errorf("help lacks %q:\n%s", want, stdout)
			}
		}
		if strings.Contains(stdout, "kubectl-waypoint [") {
			t.Errorf("plugin help says kubectl-waypoint:\n%s", stdout)
		}
		stdout, _, _ = kubectl(t, "waypoint", "generate", "--help")
		if !strings.Contains(stdout, "  kubectl waypoint generate ") {
			t.Errorf("plugin examples should say kubectl waypoint:\n%s", stdout)
		}
	})

	t.Run("help names the binary kubectl-waypoint when run directly", func(t *testing.T) {
		stdout, _, code := exe(t, plugin, "kubectl-waypoint", "--help")
		if code != 0 {
			t.Fatalf("exit %d", code)
		}
		for _, want := range []string{"Usage:\n  kubectl-waypoint [flags]", `Use "kubectl-waypoint [command] --help"`} {
			if !strings.Contains(stdout, want) {
				t.Errorf("help lacks %q:\n%s", want, stdout)
			}
		}
		if strings.Contains(stdout, "kubectl waypoint [") {
			t.Errorf("direct help says kubectl waypoint:\n%s", stdout)
		}
	})
}
