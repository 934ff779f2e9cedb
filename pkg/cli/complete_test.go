package cli

import (
	"bytes"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"

	gwv1 "sigs.k8s.io/gateway-api/apis/v1"

	"github.com/kubectl-waypoint/kubectl-waypoint/internal/testenv"
)

var (
	pluginOnce sync.Once
	pluginDir  string
	pluginErr  error
)

// pluginBinDir builds the binary once per test run (every test of the
// built binary shares it) and returns a directory
// that holds it and the kubectl_complete-waypoint shim the release ships.
func pluginBinDir(t *testing.T) string {
	t.Helper()
	pluginOnce.Do(func() {
		pluginDir, pluginErr = os.MkdirTemp("", "kubectl-waypoint-bin-")
		if pluginErr != nil {
			return
		}
		build := exec.Command("go", "build", "-buildvcs=false", "-o", filepath.Join(pluginDir, "kubectl-waypoint"),
			"github.com/kubectl-waypoint/kubectl-waypoint/cmd/kubectl-waypoint")
		if out, err := build.CombinedOutput(); err != nil {
			pluginErr = err
			pluginDir = string(out)
			return
		}
		shim, err := os.ReadFile(filepath.Join("..", "..", "hack", "release", "shim", "kubectl_complete-waypoint"))
		if err != nil {
			pluginErr = err
			return
		}
		pluginErr = os.WriteFile(filepath.Join(pluginDir, "kubectl_complete-waypoint"), shim, 0o755)
	})
	if pluginErr != nil {
		t.Fatalf("building the plugin: %v\n%s", pluginErr, pluginDir)
	}
	return pluginDir
}

// TestKubectlCompletion completes "kubectl waypoint ..." through kubectl's
// own __complete, as a shell does: kubectl finds kubectl_complete-waypoint
// on PATH, which asks the plugin, which asks the API server.
func TestKubectlCompletion(t *testing.T) {
	bin := pluginBinDir(t)
	ns := env.Namespace(t, nil)
	other := env.Namespace(t, nil)
	env.Service(t, ns, "reviews", nil)
	env.Service(t, ns, "ratings", nil)
	env.Pod(t, ns, "reviews-v1", nil)
	env.Pod(t, ns, "reviews-v2", nil)
	env.ServiceEntry(t, ns, "istio-site", nil)
	env.WorkloadEntry(t, ns, "vm-1", "10.10.0.5", nil)
	env.Waypoint(t, ns, "waypoint", nil)
	env.Waypoint(t, ns, "reviews-svc-waypoint", nil)
	env.Waypoint(t, other, "egress-gateway", nil)
	ingress := testenv.WaypointGateway(ns, "ingress", nil)
	ingress.Spec.GatewayClassName = gwv1.ObjectName("istio")
	env.CreateGateway(t, ingress)

	// A second kubeconfig file with one more context, merged by KUBECONFIG.
	second := filepath.Join(t.TempDir(), "second")
	if err := os.WriteFile(second, []byte(`apiVersion: v1
kind: Config
contexts:
- name: staging
  context: {cluster: staging, user: staging}
clusters:
- name: staging
  cluster: {server: "https://127.0.0.1:1"}
users:
- name: staging
  user: {token: x}
`), 0o600); err != nil {
		t.Fatal(err)
	}
	environ := []string{
		"PATH=" + bin + string(os.PathListSeparator) + filepath.Dir(env.KubectlPath) + string(os.PathListSeparator) + "/usr/bin:/bin",
		"KUBECONFIG=" + env.Kubeconfig + string(os.PathListSeparator) + second,
		"HOME=" + t.TempDir(),
	}
	complete := func(t *testing.T, args ...string) ([]string, string) {
		t.Helper()
		cmd := exec.Command(env.KubectlPath, append([]string{"__complete", "waypoint"}, args...)...)
		cmd.Env = environ
		var stdout, stderr bytes.Buffer
		cmd.Stdout, cmd.Stderr = &stdout, &stderr
		if err := cmd.Run(); err != nil {
			t.Fatalf("kubectl __complete waypoint %v: %v\n%s", args, err, stderr.String())
		}
		var names []string
		directive := ""
		for _, line := range strings.Split(strings.TrimSpace(stdout.String()), "\n") {
			if strings.HasPrefix(line, ":") {
				directive = line
				continue
			}
			name, _, _ := strings.Cut(line, "\t")
			names = append(names, name)
		}
		return names, directive
	}
	contexts, err := exec.Command(env.KubectlPath, "config", "current-context", "--kubeconfig", env.Kubeconfig).Output()
	if err != nil {
		t.Fatal(err)
	}

	cases := []struct {
		name string
		args []string
		// want exactly, or at least when contains is set
		want     []string
		contains bool
		// not lists names that must not be offered
		not []string
	}{
		{"subcommands", []string{""}, []string{"apply", "delete", "enroll", "explain", "generate", "list", "status", "unenroll"}, true, nil},
		{"enroll kinds", []string{"enroll", ""}, []string{"namespace", "service", "pod", "serviceentry"}, true, nil},
		// istiod adds the Services of the waypoints it deploys.
		{"services", []string{"enroll", "service", "-n", ns, ""}, []string{"ratings", "reviews"}, true, []string{"istio-site", "reviews-v1"}},
		{"services by short kind, not twice", []string{"enroll", "svc", "reviews", "-n", ns, ""}, []string{"ratings"}, true, []string{"reviews"}},
		{"pods by prefix", []string{"unenroll", "pod", "-n", ns, "reviews-v"}, []string{"reviews-v1", "reviews-v2"}, false, nil},
		{"serviceentries", []string{"enroll", "serviceentry", "-n", ns, ""}, []string{"istio-site"}, false, nil},
		{"workloadentries", []string{"enroll", "workloadentry", "-n", ns, ""}, []string{"vm-1"}, false, nil},
		{"explain a workloadentry", []string{"explain", "we", "-n", ns, ""}, []string{"vm-1"}, false, nil},
		{"namespaces to enroll", []string{"enroll", "namespace", ""}, []string{ns, other, "default"}, true, nil},
		{"explain a waypoint", []string{"explain", "waypoint", "-n", ns, ""}, []string{"reviews-svc-waypoint", "waypoint"}, false, nil},
		{"explain takes one name", []string{"explain", "service", "reviews", "-n", ns, ""}, nil, false, nil},
		{"delete waypoints", []string{"delete", "-n", ns, ""}, []string{"reviews-svc-waypoint", "waypoint"}, false, nil},
		{"status waypoints by prefix", []string{"status", "-n", ns, "w"}, []string{"waypoint"}, false, nil},
		{"delete --name", []string{"delete", "-n", other, "--name", ""}, []string{"egress-gateway"}, false, nil},
		{"--waypoint in the namespace", []string{"enroll", "service", "reviews", "-n", ns, "--waypoint", ""}, []string{"reviews-svc-waypoint", "waypoint", "none"}, false, nil},
		{"--waypoint in --waypoint-namespace", []string{"enroll", "service", "reviews", "-n", ns, "--waypoint-namespace", other, "--waypoint", ""}, []string{"egress-gateway", "none"}, false, nil},
		{"--waypoint-namespace", []string{"enroll", "service", "--waypoint-namespace", ""}, []string{ns, other}, true, nil},
		{"-n", []string{"list", "-n", ""}, []string{ns, other, "default"}, true, nil},
		{"--allow-namespace", []string{"apply", "--allow-namespace", ""}, []string{ns, other}, true, nil},
		{"--context", []string{"list", "--context", ""}, []string{strings.TrimSpace(string(contexts)), "staging"}, false, nil},
		{"--for", []string{"apply", "--for", ""}, []string{"all", "none", "service", "workload"}, false, nil},
		// list and status also take kubectl's generic formats, which go on
		// after the "=": no space after them.
		{"list -o", []string{"list", "-o", ""}, []string{"wide", "yaml", "json", "name", "jsonpath=", "go-template=", "custom-columns="}, false, nil},
		{"status -o", []string{"status", "-o", ""}, []string{"wide", "yaml", "json", "jsonpath=", "go-template=", "custom-columns="}, false, nil},
		{"generate -o", []string{"generate", "-o", ""}, []string{"yaml", "json"}, false, nil},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			got, directive := complete(t, c.args...)
			for _, n := range c.not {
				if slices.Contains(got, n) {
					t.Errorf("completions %v offer %q", got, n)
				}
			}
			wantDirective := ":4" // no file completion
			if c.name == "list -o" || c.name == "status -o" {
				wantDirective = ":6" // and no space
			}
			if directive != wantDirective {
				t.Errorf("directive %q, want %s", directive, wantDirective)
			}
			if c.contains {
				for _, w := range c.want {
					if !slices.Contains(got, w) {
						t.Errorf("completions %v lack %q", got, w)
					}
				}
				return
			}
			slices.Sort(got)
			want := slices.Clone(c.want)
			slices.Sort(want)
			if !slices.Equal(got, want) {
				t.Errorf("completions %v, want %v", got, want)
			}
		})
	}
}
