package fleet_test

import (
	"context"
	"encoding/json"
	"reflect"
	"strings"
	"testing"
	"time"

	rbacv1 "k8s.io/api/rbac/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/rest"

	"github.com/kubectl-waypoint/kubectl-waypoint/internal/faultproxy"
	"github.com/kubectl-waypoint/kubectl-waypoint/pkg/bulk"
	"github.com/kubectl-waypoint/kubectl-waypoint/pkg/cli"
	"github.com/kubectl-waypoint/kubectl-waypoint/pkg/fleet"
)

func ctx(t *testing.T) context.Context {
	c, cancel := context.WithTimeout(context.Background(), time.Minute)
	t.Cleanup(cancel)
	return c
}

// checkApplied checks that every cluster has the waypoint in each namespace
// and the namespace enrolled in it.
func checkApplied(t *testing.T, clusters []string, nss ...string) {
	t.Helper()
	for _, c := range clusters {
		for _, ns := range nss {
			if _, err := envs[c].Gateway.GatewayV1().Gateways(ns).Get(ctx(t), "waypoint", metav1.GetOptions{}); err != nil {
				t.Errorf("%s: waypoint %s/waypoint: %v", c, ns, err)
			}
			got, err := envs[c].Kube.CoreV1().Namespaces().Get(ctx(t), ns, metav1.GetOptions{})
			if err != nil {
				t.Fatal(err)
			}
			if v := got.Labels["istio.io/use-waypoint"]; v != "waypoint" {
				t.Errorf("%s: namespace %s: use-waypoint %q, want waypoint", c, ns, v)
			}
		}
	}
}

func TestFleetApplyListStatus(t *testing.T) {
	namespaces(t, "fleet-apply-a", "fleet-apply-b")
	kc := kubeconfig(t, nil)

	out, errOut, code := run(t, kc, "apply", "-n", "fleet-apply-a,fleet-apply-b", "--enroll-namespace", "--all-contexts")
	if code != 0 {
		t.Fatalf("apply: exit %d\nstdout:\n%s\nstderr:\n%s", code, out, errOut)
	}
	for _, c := range contexts {
		for _, want := range []string{
			"[" + c + "] waypoint fleet-apply-a/waypoint created\n",
			"[" + c + "] namespace fleet-apply-b labeled with \"istio.io/use-waypoint: waypoint\"\n",
			"[" + c + "] 2 gateways: 2 created; 2 namespaces: 2 enrolled; 0 failed\n",
		} {
			if !strings.Contains(out, want) {
				t.Errorf("apply: stdout lacks %q:\n%s", want, out)
			}
		}
	}
	if want := "total of 3 contexts: 6 gateways: 6 created; 6 namespaces: 6 enrolled; 0 failed\n"; !strings.HasSuffix(out, want) {
		t.Errorf("apply: stdout does not end with %q:\n%s", want, out)
	}
	checkApplied(t, contexts, "fleet-apply-a", "fleet-apply-b")

	// The same again, as one report: every record with its context.
	out, errOut, code = run(t, kc, "apply", "-n", "fleet-apply-a,fleet-apply-b", "--enroll-namespace", "--context", "east,west", "--context", "north", "-o", "json")
	if code != 0 {
		t.Fatalf("apply -o json: exit %d\n%s\n%s", code, out, errOut)
	}
	var report bulk.Report
	if err := json.Unmarshal([]byte(out), &report); err != nil {
		t.Fatalf("apply -o json: %v\n%s", err, out)
	}
	// (Without istiod the second apply of a new Gateway reports it
	// configured, as for one cluster: only the total is pinned.)
	if report.Summary.Total != 12 || report.Summary.Failed != 0 || len(report.Contexts) != 3 {
		t.Errorf("apply -o json: summary %+v, contexts %+v; want 12 records over 3 contexts", report.Summary, report.Contexts)
	}
	perContext := map[string]int{}
	for _, r := range report.Records {
		perContext[r.Context]++
	}
	for _, c := range contexts {
		if perContext[c] != 4 {
			t.Errorf("apply -o json: %d records of context %s, want 4", perContext[c], c)
		}
	}
	for _, s := range report.Contexts {
		if s.Summary.Total != 4 || s.Error != "" {
			t.Errorf("apply -o json: context summary %+v, want 4 records and no error", s)
		}
	}

	out, errOut, code = run(t, kc, "list", "-n", "fleet-apply-a", "--context-selector", "^(east|west|north)$")
	if code != 0 {
		t.Fatalf("list: exit %d\n%s\n%s", code, out, errOut)
	}
	rows := strings.Split(strings.TrimSpace(out), "\n")
	if len(rows) != 4 || !strings.HasPrefix(rows[0], "CONTEXT ") || !strings.Contains(rows[0], "TRAFFIC TYPE") {
		t.Fatalf("list: want a header with CONTEXT and 3 rows:\n%s", out)
	}
	for i, c := range []string{"east", "north", "west"} {
		if f := strings.Fields(rows[i+1]); f[0] != c || f[1] != "waypoint" {
			t.Errorf("list: row %d = %q, want context %s, waypoint", i+1, rows[i+1], c)
		}
	}

	out, errOut, code = run(t, kc, "status", "-n", "fleet-apply-a", "--all-contexts", "-o", "json")
	if code != 0 {
		t.Fatalf("status -o json: exit %d\n%s\n%s", code, out, errOut)
	}
	var status []cli.WaypointStatus
	if err := json.Unmarshal([]byte(out), &status); err != nil {
		t.Fatalf("status -o json: %v\n%s", err, out)
	}
	if len(status) != 3 || status[0].Context != "east" || status[1].Context != "north" || status[2].Context != "west" {
		t.Errorf("status -o json: want one row per context, in order: %s", out)
	}

	out, errOut, code = run(t, kc, "explain", "namespace", "fleet-apply-a", "--all-contexts")
	if code != 0 || lines(out, "[east] ") == 0 || lines(out, "[west] ") == 0 || lines(out, "[north] ") == 0 {
		t.Errorf("explain: exit %d, want every cluster's lines, prefixed:\n%s\n%s", code, out, errOut)
	}
	out, errOut, code = run(t, kc, "explain", "namespace", "fleet-apply-a", "--all-contexts", "-o", "json")
	var explained struct{ Contexts map[string]any }
	if err := json.Unmarshal([]byte(out), &explained); code != 0 || err != nil || len(explained.Contexts) != 3 {
		t.Errorf("explain -o json: exit %d, %v, want a document per context:\n%s\n%s", code, err, out, errOut)
	}

	// Unenroll one namespace, then delete everything, in every cluster.
	out, errOut, code = run(t, kc, "unenroll", "namespace", "fleet-apply-b", "--all-contexts")
	if code != 0 || lines(out, "[") != 3+3 || !strings.HasSuffix(out, "total of 3 contexts: 3 namespaces: 3 unenrolled; 0 failed\n") {
		t.Errorf("unenroll: exit %d\n%s\n%s", code, out, errOut)
	}
	out, errOut, code = run(t, kc, "delete", "--all", "--unenroll", "-n", "fleet-apply-a,fleet-apply-b", "--all-contexts")
	if code != 0 || !strings.Contains(out, "total of 3 contexts: 6 gateways: 6 deleted") {
		t.Errorf("delete: exit %d\n%s\n%s", code, out, errOut)
	}
	for _, c := range contexts {
		gws, err := envs[c].Gateway.GatewayV1().Gateways("").List(ctx(t), metav1.ListOptions{})
		if err != nil {
			t.Fatal(err)
		}
		for _, gw := range gws.Items {
			if strings.HasPrefix(gw.Namespace, "fleet-apply-") {
				t.Errorf("%s: gateway %s/%s left after delete", c, gw.Namespace, gw.Name)
			}
		}
	}
}

// TestFleetWait waits on all clusters at once: istiod programs the waypoint
// of east only, so west and north time out, each named with what is not
// ready, within one timeout rather than one per cluster.
func TestFleetWait(t *testing.T) {
	namespaces(t, "fleet-wait")
	kc := kubeconfig(t, nil)
	start := time.Now()
	out, errOut, code := run(t, kc, "apply", "-n", "fleet-wait", "--all-contexts", "--wait", "--timeout", "15s")
	elapsed := time.Since(start)
	if code != cli.ExitTimeout {
		t.Fatalf("apply --wait: exit %d, want %d (timeout)\n%s\n%s", code, cli.ExitTimeout, out, errOut)
	}
	if !strings.Contains(out, "[east] waypoint fleet-wait/waypoint is ready\n") {
		t.Errorf("apply --wait: east is not reported ready:\n%s", out)
	}
	for _, c := range []string{"west", "north"} {
		if !strings.Contains(errOut, "["+c+"] error: timed out") || !strings.Contains(errOut, "fleet-wait/waypoint") {
			t.Errorf("apply --wait: stderr does not say that %s timed out on fleet-wait/waypoint:\n%s", c, errOut)
		}
	}
	if !strings.Contains(errOut, "error: 2 of 3 contexts failed: north (exit 3), west (exit 3)\n") {
		t.Errorf("apply --wait: stderr lacks the fleet's verdict:\n%s", errOut)
	}
	if elapsed > 40*time.Second {
		t.Errorf("apply --wait took %s: the clusters were not waited on at once", elapsed)
	}

	out, errOut, code = run(t, kc, "status", "-n", "fleet-wait", "--all-contexts", "--wait", "--timeout", "3s")
	if code != cli.ExitTimeout {
		t.Fatalf("status --wait: exit %d, want 3\n%s\n%s", code, out, errOut)
	}
	rows := strings.Split(strings.TrimSpace(out), "\n")
	if len(rows) != 4 || !strings.HasPrefix(rows[0], "CONTEXT ") {
		t.Fatalf("status --wait: want a header with CONTEXT and 3 rows:\n%s", out)
	}
	for i, want := range [][]string{{"east", "waypoint", "yes", "True"}, {"north", "waypoint", "no", "Unknown"}, {"west", "waypoint", "no", "Unknown"}} {
		if got := strings.Fields(rows[i+1])[:4]; !reflect.DeepEqual(got, want) {
			t.Errorf("status --wait: row %d starts %q, want %q", i+1, got, want)
		}
	}
}

// TestFleetClusterForbidden: a user with no rights in one cluster fails
// that cluster's work only; the others are done, and the cluster is named.
func TestFleetClusterForbidden(t *testing.T) {
	namespaces(t, "fleet-forbidden")
	nobody := envs["north"].UserConfig(t, "fleet-nobody", []rbacv1.PolicyRule{{APIGroups: []string{""}, Resources: []string{"configmaps"}, Verbs: []string{"get"}}}, "")
	kc := kubeconfig(t, map[string]*rest.Config{"north": nobody})
	out, errOut, code := run(t, kc, "apply", "-n", "fleet-forbidden", "--enroll-namespace", "--all-contexts")
	if code != cli.ExitFailed {
		t.Fatalf("apply: exit %d, want 1\n%s\n%s", code, out, errOut)
	}
	if !strings.Contains(errOut, "[north] error: ") || !strings.Contains(strings.ToLower(errOut), "forbidden") {
		t.Errorf("apply: stderr does not report north forbidden:\n%s", errOut)
	}
	if !strings.HasSuffix(errOut, "error: 1 of 3 contexts failed: north (exit 1)\n") {
		t.Errorf("apply: stderr does not end with the fleet's verdict:\n%s", errOut)
	}
	checkApplied(t, []string{"east", "west"}, "fleet-forbidden")
	if lines(out, "[north] waypoint") != 0 {
		t.Errorf("apply: north reported a waypoint applied:\n%s", out)
	}
}

// TestFleetClusterDownMidRun: one cluster's API server goes away while the
// work runs; its records fail, the other clusters finish.
func TestFleetClusterDownMidRun(t *testing.T) {
	var nss []string
	for i := range 20 {
		nss = append(nss, "fleet-down-"+string(rune('a'+i)))
	}
	namespaces(t, nss...)
	p, err := faultproxy.Start(envs["west"].Config, faultproxy.Profile{Latency: 300 * time.Millisecond}, 1)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = p.Close() })
	kc := kubeconfig(t, map[string]*rest.Config{"west": {Host: p.URL}})

	go func() {
		for p.Counts().Requests < 6 {
			time.Sleep(10 * time.Millisecond)
		}
		_ = p.Close()
	}()
	out, errOut, code := run(t, kc, "apply", "-n", strings.Join(nss, ","), "--enroll-namespace", "--context", "east,west,north", "-o", "json")
	if code != cli.ExitFailed {
		t.Fatalf("apply: exit %d, want 1\n%s\n%s", code, out, errOut)
	}
	if !strings.Contains(errOut, "error: 1 of 3 contexts failed: west (exit 1)") || !strings.Contains(errOut, "[west] error: ") {
		t.Errorf("apply: stderr does not name west:\n%s", errOut)
	}
	var report bulk.Report
	if err := json.Unmarshal([]byte(out), &report); err != nil {
		t.Fatalf("apply -o json: %v\n%s", err, out)
	}
	for _, s := range report.Contexts {
		switch s.Context {
		case "west":
			if s.Error == "" {
				t.Errorf("west: no error in its summary: %+v", s)
			}
		default:
			if s.Error != "" || s.Summary.Failed != 0 || s.Summary.Total != 40 {
				t.Errorf("%s: summary %+v, want 40 records done", s.Context, s)
			}
		}
	}
	checkApplied(t, []string{"east", "north"}, nss...)
}

// TestFleetDriftGate: status --compare says where the clusters differ and
// exits 1 then, 0 when they agree.
func TestFleetDriftGate(t *testing.T) {
	namespaces(t, "fleet-drift-a", "fleet-drift-b")
	kc := kubeconfig(t, nil)
	if out, errOut, code := run(t, kc, "apply", "-n", "fleet-drift-a", "--enroll-namespace", "--all-contexts"); code != 0 {
		t.Fatalf("apply: exit %d\n%s\n%s", code, out, errOut)
	}
	out, errOut, code := run(t, kc, "status", "-A", "--all-contexts", "--compare")
	if code != 0 || out != "" {
		t.Fatalf("compare of equal clusters: exit %d, want 0 and no table\n%s\n%s", code, out, errOut)
	}
	if want := "no drift: the clusters of contexts east, north, west hold the same 1 waypoint and 1 enrolled namespace\n"; errOut != want {
		t.Errorf("compare: stderr %q, want %q", errOut, want)
	}

	// Drift: north serves all traffic, west alone has a waypoint in b and
	// enrolls b.
	if out, errOut, code := run(t, kc, "apply", "-n", "fleet-drift-a", "--for", "all", "--context", "north"); code != 0 {
		t.Fatalf("apply --for all: exit %d\n%s\n%s", code, out, errOut)
	}
	if out, errOut, code := run(t, kc, "apply", "-n", "fleet-drift-b", "--enroll-namespace", "--context", "west"); code != 0 {
		t.Fatalf("apply in west: exit %d\n%s\n%s", code, out, errOut)
	}
	out, errOut, code = run(t, kc, "status", "-A", "--context", "east,west,north", "--compare")
	if code != cli.ExitFailed {
		t.Fatalf("compare: exit %d, want 1\n%s\n%s", code, out, errOut)
	}
	want := `KIND        NAME                     FIELD          east      west       north
waypoint    fleet-drift-a/waypoint   traffic type   service   service    all
waypoint    fleet-drift-b/waypoint   present        no        yes        no
namespace   fleet-drift-b            use-waypoint   <none>    waypoint   <none>
`
	if out != want {
		t.Errorf("compare: stdout\n%s\nwant\n%s", out, want)
	}
	if want := "error: the clusters of contexts east, west, north differ in 3 places\n"; errOut != want {
		t.Errorf("compare: stderr %q, want %q", errOut, want)
	}

	out, _, code = run(t, kc, "status", "-A", "--all-contexts", "--compare", "-o", "json")
	var drift cli.DriftReport
	if err := json.Unmarshal([]byte(out), &drift); err != nil || code != 1 {
		t.Fatalf("compare -o json: exit %d, %v\n%s", code, err, out)
	}
	wantFirst := fleet.Difference{Kind: "waypoint", Name: "fleet-drift-a/waypoint", Field: "traffic type", Values: map[string]string{"east": "service", "west": "service", "north": "all"}}
	if len(drift.Differences) != 3 || !reflect.DeepEqual(drift.Differences[0], wantFirst) {
		t.Errorf("compare -o json: %+v", drift)
	}
}

// TestFleetUsage: bad input is said once, unprefixed, exit 2, before any
// cluster is asked anything.
func TestFleetUsage(t *testing.T) {
	kc := kubeconfig(t, nil)
	cases := []struct {
		args []string
		want string
	}{
		{[]string{"apply", "--all-contexts", "--for", "bogus"}, "error: --for: invalid traffic type"},
		{[]string{"apply", "--context", "east,nowhere"}, `error: context "nowhere" is not in the kubeconfig; it has east, north, west`},
		{[]string{"list", "--context-selector", "("}, `error: invalid --context-selector "("`},
		{[]string{"list", "--context-selector", "^south"}, `error: no context of the kubeconfig matches --context-selector "^south"`},
		{[]string{"list", "--context", "east", "--all-contexts"}, "error: --context, --all-contexts and --context-selector choose clusters in different ways"},
		{[]string{"status", "--context", "east", "--compare"}, "error: --compare needs several clusters"},
		{[]string{"list", "--all-contexts", "--watch"}, "error: --watch follows one cluster"},
		{[]string{"policies", "--all-contexts"}, "error: kubectl-waypoint policies works on one cluster"},
		{[]string{"apply", "--all-contexts", "--cluster-concurrency", "-1"}, "error: invalid --cluster-concurrency -1"},
	}
	for _, tc := range cases {
		out, errOut, code := run(t, kc, tc.args...)
		if code != cli.ExitUsage || out != "" || !strings.HasPrefix(errOut, tc.want) || strings.Count(errOut, "\n") != 1 {
			t.Errorf("%v: exit %d, stdout %q, stderr %q; want exit 2 and one line %q", tc.args, code, out, errOut, tc.want)
		}
	}
}
