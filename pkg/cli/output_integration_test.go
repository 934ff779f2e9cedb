package cli

import (
	"context"
	"encoding/json"
	"slices"
	"strings"
	"testing"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
)

// TestListOutputLikeKubectl: list's -o jsonpath, go-template and
// custom-columns, --no-headers and --sort-by, against the real API server.
func TestListOutputLikeKubectl(t *testing.T) {
	ns := env.Namespace(t, nil)
	env.HoldWaypoint(t, ns, "a")
	env.HoldWaypoint(t, ns, "c")
	env.Waypoint(t, ns, "b", map[string]string{"istio.io/rev": "canary", "order": "1"})
	env.Waypoint(t, ns, "a", map[string]string{"order": "2"})
	env.Waypoint(t, ns, "c", map[string]string{"order": "10"})
	// No istiod of revision canary runs here: play it for b.
	env.SetProgrammed(t, ns, "b", "10.96.0.9")
	env.WaitNotProgrammed(t, ns, "a")
	env.WaitNotProgrammed(t, ns, "c")

	for _, tc := range []struct {
		args []string
		want string
	}{
		{[]string{"-o", "jsonpath={.items[*].metadata.name}"}, "a b c"},
		{[]string{"-o", `go-template={{range .items}}{{.metadata.name}}:{{index .metadata.labels "order"}} {{end}}`}, "a:2 b:1 c:10 "},
		{[]string{"-o", "custom-columns=NAME:.metadata.name,REV:.metadata.labels.istio\\.io/rev,ADDR:.status.addresses[*].value"},
			"NAME   REV      ADDR\na      <none>   <none>\nb      canary   10.96.0.9\nc      <none>   <none>\n"},
		{[]string{"-o", "custom-columns=NAME:.metadata.name", "--no-headers"}, "a\nb\nc\n"},
		// Without the header, columns are as wide as their cells.
		{[]string{"--no-headers"}, "a   default   service   False\nb   canary    service   True\nc   default   service   False\n"},
		// Labels are text: "10" sorts before "2".
		{[]string{"--sort-by", ".metadata.labels.order", "-o", "name"},
			"gateway.gateway.networking.k8s.io/b\ngateway.gateway.networking.k8s.io/c\ngateway.gateway.networking.k8s.io/a\n"},
		{[]string{"--sort-by", "{.metadata.labels.order}", "--no-headers"},
			"b   canary    service   True\nc   default   service   False\na   default   service   False\n"},
		{[]string{"--sort-by", ".metadata.labels.order", "-o", "jsonpath={.items[*].metadata.name}"}, "b c a"},
	} {
		stdout, stderr, code := runKube(t, append([]string{"list", "-n", ns}, tc.args...)...)
		if code != 0 || stdout != tc.want {
			t.Errorf("list %s: exit %d, stderr %q, got:\n%q\nwant:\n%q", strings.Join(tc.args, " "), code, stderr, stdout, tc.want)
		}
	}
}

// TestStatusOutputLikeKubectl: status's generic formats read its rows.
func TestStatusOutputLikeKubectl(t *testing.T) {
	ns := env.Namespace(t, nil)
	env.HoldWaypoint(t, ns, "w2")
	env.Waypoint(t, ns, "w1", nil)
	env.Waypoint(t, ns, "w2", nil)
	env.WaitNotProgrammed(t, ns, "w2")
	addr := env.WaitProgrammed(t, ns, "w1").Status.Addresses[0].Value
	for _, tc := range []struct {
		args []string
		want string
	}{
		{[]string{"-o", "jsonpath={range .items[*]}{.name}={.ready} {end}"}, "w1=true w2=false "},
		{[]string{"-o", "custom-columns=NAME:.name,READY:.ready,ADDR:.addresses[0]"}, "NAME   READY   ADDR\nw1     true    " + addr + "\nw2     false   <none>\n"},
		// "False" sorts before "True".
		{[]string{"--sort-by", ".status", "-o", "custom-columns=NAME:.name", "--no-headers"}, "w2\nw1\n"},
		{[]string{"--no-headers", "w1"}, "w1   yes   True   Programmed   yes   "},
	} {
		stdout, stderr, code := runKube(t, append([]string{"status", "-n", ns}, tc.args...)...)
		if code != 0 || !strings.HasPrefix(stdout, tc.want) {
			t.Errorf("status %s: exit %d, stderr %q, got:\n%q\nwant:\n%q", strings.Join(tc.args, " "), code, stderr, stdout, tc.want)
		}
	}
}

// TestManagedFieldsAndFieldManager: apply and enroll record the field
// manager --field-manager names (the tool's by default); list -o json|yaml
// hides managedFields unless --show-managed-fields, as kubectl does.
func TestManagedFieldsAndFieldManager(t *testing.T) {
	ns := env.Namespace(t, nil)
	mustRun(t, 0, "apply", "-n", ns, "--name", "ours")
	mustRun(t, 0, "apply", "-n", ns, "--name", "theirs", "--field-manager", "ci-pipeline")
	env.Service(t, ns, "svc", nil)
	mustRun(t, 0, "enroll", "service", "svc", "-n", ns, "--waypoint", "ours", "--field-manager", "team-a")

	managers := func(fields []metav1.ManagedFieldsEntry) []string {
		var m []string
		for _, f := range fields {
			m = append(m, f.Manager)
		}
		return m
	}
	ctx := context.Background()
	for name, want := range map[string]string{"ours": "kubectl-waypoint", "theirs": "ci-pipeline"} {
		gw, err := env.Gateway.GatewayV1().Gateways(ns).Get(ctx, name, metav1.GetOptions{})
		if err != nil {
			t.Fatal(err)
		}
		if got := managers(gw.ManagedFields); !slices.Contains(got, want) {
			t.Errorf("gateway %s: managers %v, want %s", name, got, want)
		}
	}
	svc, err := env.Kube.CoreV1().Services(ns).Get(ctx, "svc", metav1.GetOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if got := managers(svc.ManagedFields); !slices.Contains(got, "team-a") {
		t.Errorf("service: managers %v, want team-a", got)
	}

	for _, format := range []string{"json", "yaml"} {
		stdout, _ := mustRun(t, 0, "list", "-n", ns, "-o", format)
		if strings.Contains(stdout, "managedFields") {
			t.Errorf("-o %s shows managedFields:\n%s", format, stdout)
		}
		stdout, _ = mustRun(t, 0, "list", "-n", ns, "-o", format, "--show-managed-fields")
		if !strings.Contains(stdout, "managedFields") || !strings.Contains(stdout, "ci-pipeline") {
			t.Errorf("-o %s --show-managed-fields hides them:\n%s", format, stdout)
		}
	}
	// A template sees them, as kubectl's does.
	stdout, _ := mustRun(t, 0, "list", "-n", ns, "-o", "jsonpath={.items[*].metadata.managedFields[*].manager}")
	if !strings.Contains(stdout, "ci-pipeline") {
		t.Errorf("jsonpath: %q", stdout)
	}
	var list struct {
		Items []json.RawMessage `json:"items"`
	}
	stdout, _ = mustRun(t, 0, "list", "-n", ns, "-o", "json")
	if err := json.Unmarshal([]byte(stdout), &list); err != nil || len(list.Items) != 2 {
		t.Errorf("-o json: %v, %d items", err, len(list.Items))
	}
}
