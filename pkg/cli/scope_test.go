package cli

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// kubeconfigWithCA writes a kubeconfig whose cluster names a CA, for a
// server nobody listens on.
func kubeconfigWithCA(t *testing.T) string {
	t.Helper()
	path := filepath.Join(t.TempDir(), "config")
	text := `apiVersion: v1
kind: Config
clusters:
- name: c
  cluster: {server: "https://127.0.0.1:1", certificate-authority-data: "Zm9v"}
users:
- name: u
  user: {token: t}
contexts:
- name: x
  context: {cluster: c, user: u}
current-context: x
`
	if err := os.WriteFile(path, []byte(text), 0o600); err != nil {
		t.Fatal(err)
	}
	return path
}

// TestUnitScopeAndEmptyValues: flags that cannot be combined, and empty values,
// are refused with exit 2 before anything is sent (the kubeconfig points
// nowhere, so a request would fail with exit 1).
func TestUnitScopeAndEmptyValues(t *testing.T) {
	kc := kubeconfigWithCA(t)
	cases := []struct {
		args []string
		want string
	}{
		{[]string{"delete", "--all", "-A", "-n", "a"}, "-A/--all-namespaces and -n/--namespace"},
		{[]string{"list", "-A", "-n", "a"}, "-A/--all-namespaces and -n/--namespace"},
		{[]string{"status", "-A", "-n", "a"}, "-A/--all-namespaces and -n/--namespace"},
		{[]string{"policies", "-A", "-n", "a"}, "-A/--all-namespaces and -n/--namespace"},
		{[]string{"delete", "--all", "-A", "--namespace-selector", "a=b"}, "-A and --namespace-selector"},
		{[]string{"delete", "--all", "w1"}, "not both"},
		{[]string{"generate", "--name", ""}, `invalid --name ""`},
		{[]string{"generate", "--for", ""}, `invalid --for ""`},
		{[]string{"apply", "-n", ""}, `invalid --namespace ""`},
		{[]string{"delete", "--name", "", "-n", "a"}, `invalid --name ""`},
		{[]string{"enroll", "svc", "a", "--waypoint", ""}, `invalid --waypoint ""`},
		{[]string{"enroll", "svc", "-l", "", "--waypoint", "w"}, `invalid --selector ""`},
		{[]string{"delete", "-r", "", "-n", "a"}, `invalid --revision ""`},
		{[]string{"list", "--kubeconfig", filepath.Join(t.TempDir(), "missing")}, "invalid --kubeconfig"},
		{[]string{"list", "--insecure-skip-tls-verify"}, "--insecure-skip-tls-verify cannot be used with the certificate authority"},
	}
	for _, tc := range cases {
		args := tc.args
		if !strings.Contains(strings.Join(args, " "), "--kubeconfig") {
			args = append(args, "--kubeconfig", kc)
		}
		_, stderr, code := run(t, false, args...)
		if code != ExitUsage || !strings.Contains(stderr, tc.want) || strings.Count(stderr, "\n") != 1 {
			t.Errorf("%v: exit %d, stderr %q; want exit 2 and one line with %q", tc.args, code, stderr, tc.want)
		}
	}
	// An empty --kubeconfig or --context keeps kubectl's meaning: unset.
	if _, stderr, code := run(t, false, "generate", "--context", ""); code != 0 {
		t.Errorf("generate --context '': exit %d, %s", code, stderr)
	}
}
