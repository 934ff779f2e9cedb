package cli

import (
	"encoding/json"
	"fmt"
	"slices"
	"strings"
	"testing"
	"time"

	rbacv1 "k8s.io/api/rbac/v1"

	"github.com/kubectl-waypoint/kubectl-waypoint/internal/testenv"
	"github.com/kubectl-waypoint/kubectl-waypoint/pkg/bulk"
)

func TestApplyManyNamespaces(t *testing.T) {
	a := env.Namespace(t, testenv.AmbientLabels())
	b := env.Namespace(t, testenv.AmbientLabels())
	c := env.Namespace(t, nil)
	stdout, stderr, code := runKube(t, "apply", "-n", a+","+b, "-n", c, "--enroll-namespace", "--for", "all")
	if code != 0 {
		t.Fatalf("exit %d: %s", code, stderr)
	}
	for _, ns := range []string{a, b, c} {
		// Each line says what the summary counts: created.
		if !strings.Contains(stdout, "waypoint "+ns+"/waypoint created\n") || !strings.Contains(stdout, "namespace "+ns+" labeled with") {
			t.Errorf("no lines for %s:\n%s", ns, stdout)
		}
		if nsLabels(t, ns)["istio.io/use-waypoint"] != "waypoint" {
			t.Errorf("%s not enrolled", ns)
		}
	}
	if !strings.HasSuffix(stdout, "3 gateways: 3 created; 3 namespaces: 3 enrolled; 0 failed\n") {
		t.Errorf("summary line:\n%s", stdout)
	}
	// The namespaces are worked on side by side, yet their lines come in
	// one order, a namespace after another, as the report sorts them.
	sorted := []string{a, b, c}
	slices.Sort(sorted)
	var want strings.Builder
	for _, ns := range sorted {
		fmt.Fprintf(&want, "waypoint %s/waypoint created\nnamespace %s labeled with \"istio.io/use-waypoint: waypoint\"\n", ns, ns)
	}
	if got := strings.TrimSuffix(stdout, "3 gateways: 3 created; 3 namespaces: 3 enrolled; 0 failed\n"); got != want.String() {
		t.Errorf("lines, in order:\n%s\nwant:\n%s", got, want.String())
	}
	if !strings.Contains(stderr, "namespace "+c+" is not in ambient mode") || strings.Contains(stderr, a+" is not") {
		t.Errorf("ambient warnings: %q", stderr)
	}

	// istiod programs them; then again, as JSON: every object is unchanged.
	for _, ns := range []string{a, b, c} {
		env.WaitProgrammed(t, ns, "waypoint")
	}
	stdout, _, code = runKube(t, "apply", "-n", a+","+b+","+c, "--enroll-namespace", "--for", "all", "-o", "json")
	var rep bulk.Report
	if err := json.Unmarshal([]byte(stdout), &rep); err != nil || code != 0 {
		t.Fatalf("exit %d, %v:\n%s", code, err, stdout)
	}
	if rep.Summary.Total != 6 || rep.Summary.Counts[bulk.Unchanged] != 6 {
		t.Errorf("re-run report: %+v", rep.Summary)
	}
	if r := rep.Records[0]; r.Kind != "Gateway" || r.Namespace != min(a, b, c) || r.Action != bulk.Unchanged {
		t.Errorf("first record %#v", r)
	}
}

func TestApplyNamespaceSelectorPartialFailure(t *testing.T) {
	team := fmt.Sprintf("bulk-%d", time.Now().UnixNano())
	sel := map[string]string{"team": team, "istio.io/dataplane-mode": "ambient"}
	ok1 := env.Namespace(t, sel)
	ok2 := env.Namespace(t, sel)
	taken := env.Namespace(t, map[string]string{"team": team, "istio.io/use-waypoint": "other"})
	stdout, stderr, code := runKube(t, "apply", "--namespace-selector", "team="+team, "--enroll-namespace", "-o", "json")
	if code != 1 {
		t.Fatalf("exit %d, want 1 (one namespace uses another waypoint); stderr %q", code, stderr)
	}
	var rep bulk.Report
	if err := json.Unmarshal([]byte(stdout), &rep); err != nil {
		t.Fatal(err)
	}
	if rep.Summary.Failed != 1 || rep.Summary.Counts[bulk.Enrolled] != 2 || rep.Summary.Counts[bulk.Created] != 2 {
		t.Errorf("summary %+v", rep.Summary)
	}
	for _, r := range rep.Records {
		if r.Action == bulk.Failed && (r.Name != taken || !strings.Contains(r.Error, "--overwrite")) {
			t.Errorf("failed record %#v", r)
		}
	}
	for _, ns := range []string{ok1, ok2} {
		if nsLabels(t, ns)["istio.io/use-waypoint"] != "waypoint" {
			t.Errorf("%s not enrolled although it could be", ns)
		}
	}
	if _, err := getGateway(t, taken, "waypoint"); err == nil {
		t.Errorf("applied a waypoint in the refused namespace")
	}
	_, stderr, code = runKube(t, "apply", "--namespace-selector", "team=nobody-"+team)
	if code != 1 || !strings.Contains(stderr, "no namespace matches") {
		t.Errorf("empty selector: exit %d, %q", code, stderr)
	}
	_, _, code = runKube(t, "apply", "--namespace-selector", "team="+team, "-n", ok1)
	if code != ExitUsage {
		t.Errorf("-n with --namespace-selector: exit %d", code)
	}
}

func TestApplyManyWait(t *testing.T) {
	team := fmt.Sprintf("wait-%d", time.Now().UnixNano())
	var nss []string
	for i := 0; i < 4; i++ {
		nss = append(nss, env.Namespace(t, map[string]string{"team": team}))
	}
	// istiod programs all but the last, which the node stand-in holds back.
	env.HoldWaypoint(t, nss[3], "waypoint")
	stdout, stderr, code := runKube(t, "apply", "--namespace-selector", "team="+team, "--enroll-namespace", "--wait", "--timeout", "10s")
	if code != ExitTimeout {
		t.Fatalf("exit %d, want %d: %s\n%s", code, ExitTimeout, stderr, stdout)
	}
	last := nss[3]
	if !strings.Contains(stderr, "1 of 4 waypoints not ready: "+last+"/waypoint") {
		t.Errorf("stderr %q", stderr)
	}
	for _, ns := range nss[:3] {
		if !strings.Contains(stdout, "waypoint "+ns+"/waypoint is ready") || nsLabels(t, ns)["istio.io/use-waypoint"] != "waypoint" {
			t.Errorf("%s: ready and enrolled expected:\n%s", ns, stdout)
		}
	}
	if nsLabels(t, last)["istio.io/use-waypoint"] != "" {
		t.Errorf("the namespace of the waypoint that never became ready was enrolled")
	}
	if !strings.Contains(stdout, "1 skipped") {
		t.Errorf("summary should count the skipped namespace:\n%s", stdout)
	}
}

func TestApplyManyRequestCount(t *testing.T) {
	team := fmt.Sprintf("count-%d", time.Now().UnixNano())
	const n = 10
	for i := 0; i < n; i++ {
		env.Namespace(t, map[string]string{"team": team, "istio.io/dataplane-mode": "ambient"})
	}
	_, reqs := runCounted(t, "apply", "--namespace-selector", "team="+team, "--enroll-namespace", "--for", "all")
	// One namespace list (the selector's, whose namespaces the labels'
	// writes reuse), two Gateway lists (one guards the users of existing
	// waypoints, one tells configured from unchanged), one read of the
	// GatewayClass, then per namespace the apply and the label patch.
	if len(reqs) > 4+2*n {
		t.Errorf("%d requests for %d namespaces: %v", len(reqs), n, reqs)
	}
	t.Logf("%d requests for %d namespaces", len(reqs), n)
}

func TestBulkProgressOnlyOnATerminal(t *testing.T) {
	team := fmt.Sprintf("prog-%d", time.Now().UnixNano())
	for i := 0; i < 3; i++ {
		env.Namespace(t, map[string]string{"team": team})
	}
	_, stderr, code := run(t, true, "apply", "--namespace-selector", "team="+team, "--kubeconfig", env.Kubeconfig)
	if code != 0 || !strings.Contains(stderr, "applying 1/3") || !strings.Contains(stderr, "applying 2/3") {
		t.Errorf("terminal: exit %d, stderr %q", code, stderr)
	}
	_, stderr, code = run(t, true, "delete", "--all", "--namespace-selector", "team="+team, "--kubeconfig", env.Kubeconfig)
	if code != 0 || !strings.Contains(stderr, "deleting 1/3") {
		t.Errorf("terminal delete: exit %d, stderr %q", code, stderr)
	}
	_, stderr, _ = runKube(t, "apply", "--namespace-selector", "team="+team)
	if strings.Contains(stderr, "applying") || strings.Contains(stderr, "\x1b") {
		t.Errorf("a pipe got progress: %q", stderr)
	}
}

func TestApplyReviewFixes(t *testing.T) {
	a := env.Namespace(t, nil)
	b := env.Namespace(t, nil)
	t.Run("client dry run over several namespaces is one YAML stream", func(t *testing.T) {
		stdout, stderr, code := runKube(t, "apply", "-n", a+","+b, "--enroll-namespace", "--dry-run=client")
		if code != 0 || strings.Count(stdout, "kind: Gateway") != 2 || !strings.Contains(stdout, "\n---\n") || strings.Contains(stdout, "labeled") {
			t.Fatalf("exit %d, stdout:\n%s", code, stdout)
		}
		if !strings.Contains(stderr, "namespace "+a+" labeled with") {
			t.Errorf("the namespace change should be told on stderr: %q", stderr)
		}
	})
	t.Run("--wait on a waypoint that is already ready and unchanged", func(t *testing.T) {
		runKube(t, "apply", "-n", a)
		env.WaitProgrammed(t, a, "waypoint")
		stdout, stderr, code := runKube(t, "apply", "-n", a, "--wait", "--timeout", "5s", "-o", "json")
		var rep bulk.Report
		if err := json.Unmarshal([]byte(stdout), &rep); code != 0 || err != nil || rep.Summary.Counts[bulk.Unchanged] != 1 {
			t.Fatalf("exit %d, %v, stderr %q:\n%s", code, err, stderr, stdout)
		}
	})
	t.Run("enrolling a namespace its own waypoint does not admit is refused", func(t *testing.T) {
		_, stderr, code := runKube(t, "apply", "-n", b, "--name", "shared", "--allow-namespace", a, "--enroll-namespace")
		if code != ExitUsage || !strings.Contains(stderr, "--allow-namespace "+b) {
			t.Fatalf("exit %d, stderr %q", code, stderr)
		}
		if _, err := getGateway(t, b, "shared"); err == nil {
			t.Error("the waypoint was applied although the command was refused")
		}
	})
}

// TestBulkWithNamespaceScopedRights: a user whose rights end at two
// namespaces can still work on both in one call; the cluster-wide reads fall
// back to one per namespace. A check that guards a write and that the user
// may not make even there refuses the write.
func TestBulkWithNamespaceScopedRights(t *testing.T) {
	a := env.Namespace(t, testenv.AmbientLabels())
	b := env.Namespace(t, testenv.AmbientLabels())
	rules := []rbacv1.PolicyRule{
		{APIGroups: []string{"gateway.networking.k8s.io"}, Resources: []string{"gateways"}, Verbs: []string{"get", "list", "watch", "create", "patch", "delete"}},
		{APIGroups: []string{""}, Resources: []string{"namespaces"}, Verbs: []string{"get", "patch"}},
		{APIGroups: []string{""}, Resources: []string{"services", "pods"}, Verbs: []string{"list"}},
	}
	var kc string
	for _, ns := range []string{a, b} {
		kc = env.UserWithRole(t, "tenant-"+a, rules, ns)
	}
	stdout, stderr, code := run(t, false, "apply", "-n", a+","+b, "--enroll-namespace", "--wait", "--timeout", "20s", "--kubeconfig", kc)
	if code != 0 || !strings.Contains(stdout, "2 gateways: 2 created; 2 namespaces: 2 enrolled; 0 failed") {
		t.Fatalf("apply: exit %d, stderr %q\n%s", code, stderr, stdout)
	}
	// It may not list ServiceEntries even in its namespaces: apply cannot
	// know whom a change of the waypoint's traffic type would cut off.
	_, stderr, code = run(t, false, "apply", "-n", a, "--for", "workload", "--kubeconfig", kc)
	if code != ExitUsage || !strings.Contains(stderr, "cannot check who uses waypoint "+a+"/waypoint: you may not list serviceentries in namespace "+a) {
		t.Fatalf("apply without the rights of its guard: exit %d, stderr %q", code, stderr)
	}
	if gw, err := getGateway(t, a, "waypoint"); err != nil || gw.Labels["istio.io/waypoint-for"] == "workload" {
		t.Fatalf("a refused apply changed the waypoint: %v %v", err, gw)
	}
	// It may not read the L7 policies, so delete cannot check what it would
	// switch off: refused whole, nothing deleted.
	_, stderr, code = run(t, false, "delete", "--all", "-n", a+","+b, "--kubeconfig", kc)
	if code != ExitUsage || !strings.Contains(stderr, `cannot list resource "authorizationpolicies"`) || !strings.Contains(stderr, "--force") {
		t.Fatalf("delete without the rights of its check: exit %d, stderr %q", code, stderr)
	}
	if !gatewayExists(t, a, "waypoint") || !gatewayExists(t, b, "waypoint") {
		t.Fatal("a refused delete deleted a waypoint")
	}
	for _, ns := range []string{a, b} {
		env.UserWithRole(t, "tenant-"+a, policyReader, ns)
	}
	// Nor may it list ServiceEntries and WorkloadEntries: delete --unenroll
	// cannot find every user of the waypoints, so it starts no write.
	_, stderr, code = run(t, false, "delete", "--all", "-n", a+","+b, "--unenroll", "--kubeconfig", kc)
	if code != ExitUsage || !strings.Contains(stderr, "nothing was deleted or unenrolled") {
		t.Fatalf("delete --unenroll without the rights of its search: exit %d, stderr %q", code, stderr)
	}
	for _, ns := range []string{a, b} {
		if !gatewayExists(t, ns, "waypoint") || nsLabels(t, ns)["istio.io/use-waypoint"] != "waypoint" {
			t.Fatalf("a refused delete --unenroll changed namespace %s: labels %v", ns, nsLabels(t, ns))
		}
	}
	stdout, stderr, code = run(t, false, "delete", "--all", "-n", a+","+b, "--kubeconfig", kc)
	if code != 0 || !strings.Contains(stdout, "2 gateways: 2 deleted") {
		t.Fatalf("delete: exit %d, stderr %q\n%s", code, stderr, stdout)
	}
	// The cluster agrees: no waypoint is left; the namespaces, which
	// delete was not asked to unenroll, still name theirs.
	for _, ns := range []string{a, b} {
		if gatewayExists(t, ns, "waypoint") || nsLabels(t, ns)["istio.io/use-waypoint"] != "waypoint" {
			t.Errorf("after delete, namespace %s: waypoint exists %v, labels %v", ns, gatewayExists(t, ns, "waypoint"), nsLabels(t, ns))
		}
	}
	// It may not look for what is still enrolled across the cluster: a warning.
	if !strings.Contains(stderr, "could not check for resources still enrolled") {
		t.Errorf("stderr %q", stderr)
	}
}

// policyReader may list the L7 policy kinds that the guard of every write
// reads (docs/policies.md).
var policyReader = []rbacv1.PolicyRule{
	{APIGroups: []string{"gateway.networking.k8s.io"}, Resources: []string{"httproutes", "grpcroutes", "tcproutes", "tlsroutes"}, Verbs: []string{"list"}},
	{APIGroups: []string{"security.istio.io"}, Resources: []string{"authorizationpolicies", "requestauthentications"}, Verbs: []string{"list"}},
	{APIGroups: []string{"extensions.istio.io"}, Resources: []string{"wasmplugins"}, Verbs: []string{"list"}},
	{APIGroups: []string{"telemetry.istio.io"}, Resources: []string{"telemetries"}, Verbs: []string{"list"}},
}
