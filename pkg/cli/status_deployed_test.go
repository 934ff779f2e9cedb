package cli

import (
	"context"
	"encoding/json"
	"fmt"
	"slices"
	"strings"
	"testing"

	appsv1 "k8s.io/api/apps/v1"
	autoscalingv2 "k8s.io/api/autoscaling/v2"
	policyv1 "k8s.io/api/policy/v1"
	rbacv1 "k8s.io/api/rbac/v1"
	"k8s.io/apimachinery/pkg/util/intstr"

	"github.com/kubectl-waypoint/kubectl-waypoint/internal/testenv"
)

// What status and list -o wide show of what runs for a waypoint, judged by
// the objects istiod's deployment controller made in the API server and
// the status the node stand-in wrote on them as a deployment controller
// would.

// runningObjects are istiod's Deployment, autoscaler and budget of a
// waypoint as read at one moment.
type runningObjects struct {
	dep *appsv1.Deployment
	hpa *autoscalingv2.HorizontalPodAutoscaler
	pdb *policyv1.PodDisruptionBudget
}

func readRunning(ctx context.Context, ns, name string) (runningObjects, error) {
	dep, hpa, pdb, err := istiodObjects(ctx, ns, name)
	return runningObjects{dep, hpa, pdb}, err
}

// versions says which versions of the objects were read, to tell whether
// they changed between two reads.
func (o runningObjects) versions() string {
	v := o.dep.ResourceVersion
	if o.hpa != nil {
		v += "," + o.hpa.ResourceVersion
	}
	if o.pdb != nil {
		v += "," + o.pdb.ResourceVersion
	}
	return v
}

// cells are REPLICAS, AUTOSCALE and BUDGET as the objects hold them,
// written out here rather than by the code under test.
func (o runningObjects) cells() []string {
	desired := int32(1)
	if o.dep.Spec.Replicas != nil {
		desired = *o.dep.Spec.Replicas
	}
	out := []string{fmt.Sprintf("%d/%d", o.dep.Status.ReadyReplicas, desired), "<none>", "<none>"}
	if h := o.hpa; h != nil {
		lo := int32(1)
		if h.Spec.MinReplicas != nil {
			lo = *h.Spec.MinReplicas
		}
		out[1] = fmt.Sprintf("%d-%d", lo, h.Spec.MaxReplicas)
		if h.Status.ObservedGeneration != nil || h.Status.CurrentReplicas > 0 || h.Status.LastScaleTime != nil || len(h.Status.Conditions) > 0 {
			out[1] += fmt.Sprintf(" (%d)", h.Status.CurrentReplicas)
		}
	}
	if p := o.pdb; p != nil {
		switch {
		case p.Spec.MinAvailable != nil:
			out[2] = "minAvailable=" + p.Spec.MinAvailable.String()
		case p.Spec.MaxUnavailable != nil:
			out[2] = "maxUnavailable=" + p.Spec.MaxUnavailable.String()
		}
	}
	return out
}

// settled waits until istiod's objects for the waypoint are there and
// done with (check says what is still missing) and the Deployment's status
// is that of its current generation, with every replica ready.
func settled(t *testing.T, ns, name string, check func(runningObjects) string) {
	t.Helper()
	eventually(t, "what runs for waypoint "+ns+"/"+name, func(ctx context.Context) string {
		o, err := readRunning(ctx, ns, name)
		if err != nil {
			return err.Error()
		}
		desired := int32(1)
		if o.dep.Spec.Replicas != nil {
			desired = *o.dep.Spec.Replicas
		}
		if st := o.dep.Status; st.ObservedGeneration != o.dep.Generation || st.Replicas != desired || st.ReadyReplicas != desired {
			return fmt.Sprintf("deployment replicas %d, generation %d, status %+v", desired, o.dep.Generation, st)
		}
		return check(o)
	})
}

// columns are the cells of the named columns in a row of a table.
func columns(t *testing.T, header, row string, names ...string) []string {
	t.Helper()
	all := tableCells(header, row)
	heads := tableCells(header, header)
	var out []string
	for _, n := range names {
		i := slices.Index(heads, n)
		if i < 0 {
			t.Fatalf("no column %s in %q", n, header)
		}
		out = append(out, all[i])
	}
	return out
}

// rowOf is the header and the row of the waypoint name in a table.
func rowOf(t *testing.T, table, name string) (header, row string) {
	t.Helper()
	lines := strings.Split(strings.TrimSuffix(table, "\n"), "\n")
	for _, l := range lines[1:] {
		if strings.HasPrefix(l, name+" ") {
			return lines[0], l
		}
	}
	t.Fatalf("no row of %s in:\n%s", name, table)
	return "", ""
}

// checkWhatRuns runs status -o json, status -o wide and list -o wide, and
// compares what they show of the waypoint with the objects read before and
// after them (again when the objects changed in between).
func checkWhatRuns(t *testing.T, ns, name string) {
	t.Helper()
	for try := 0; ; try++ {
		before, err := readRunning(context.Background(), ns, name)
		if err != nil {
			t.Fatal(err)
		}
		statusJSON := ok0(t, "status", "-n", ns, name, "-o", "json")
		statusWide := ok0(t, "status", "-n", ns, name, "-o", "wide")
		listWide := ok0(t, "list", "-n", ns, "--name", name, "-o", "wide")
		after, err := readRunning(context.Background(), ns, name)
		if err != nil {
			t.Fatal(err)
		}
		if before.versions() != after.versions() && try < 5 {
			continue
		}
		want := after.cells()
		cols := []string{"REPLICAS", "AUTOSCALE", "BUDGET"}
		for what, table := range map[string]string{"status -o wide": statusWide, "list -o wide": listWide} {
			header, row := rowOf(t, table, name)
			if got := columns(t, header, row, cols...); !slices.Equal(got, want) {
				t.Errorf("%s shows %q, the API server holds %q:\n%s", what, got, want, table)
			}
		}
		var rows []WaypointStatus
		if err := json.Unmarshal([]byte(statusJSON), &rows); err != nil || len(rows) != 1 {
			t.Fatalf("status -o json: %v\n%s", err, statusJSON)
		}
		checkStatusJSON(t, rows[0], after)
		return
	}
}

// checkStatusJSON compares the fields of what runs in a row of status -o
// json with the objects.
func checkStatusJSON(t *testing.T, r WaypointStatus, o runningObjects) {
	t.Helper()
	desired := int32(1)
	if o.dep.Spec.Replicas != nil {
		desired = *o.dep.Spec.Replicas
	}
	if r.Replicas == nil || r.Replicas.Deployment != o.dep.Name || r.Replicas.Desired != desired || r.Replicas.Ready != o.dep.Status.ReadyReplicas {
		t.Errorf("status -o json: replicas %+v, the Deployment has %d desired, %d ready", r.Replicas, desired, o.dep.Status.ReadyReplicas)
	}
	switch a := r.Autoscaler; {
	case o.hpa == nil && a != nil:
		t.Errorf("status -o json: autoscaler %+v, the API server has none", a)
	case o.hpa != nil && (a == nil || a.Name != o.hpa.Name || a.Max != o.hpa.Spec.MaxReplicas || o.hpa.Spec.MinReplicas != nil && a.Min != *o.hpa.Spec.MinReplicas):
		t.Errorf("status -o json: autoscaler %+v, the API server has %+v", a, o.hpa.Spec)
	}
	switch b := r.Budget; {
	case o.pdb == nil && b != nil:
		t.Errorf("status -o json: budget %+v, the API server has none", b)
	case o.pdb != nil && (b == nil || b.Name != o.pdb.Name || b.MinAvailable != intOrString(o.pdb.Spec.MinAvailable) || b.MaxUnavailable != intOrString(o.pdb.Spec.MaxUnavailable)):
		t.Errorf("status -o json: budget %+v, the API server has %+v", b, o.pdb.Spec)
	}
	if len(r.Unknown) > 0 {
		t.Errorf("status -o json: unknown %v", r.Unknown)
	}
}

func intOrString(v *intstr.IntOrString) string {
	if v == nil {
		return ""
	}
	return v.String()
}

// TestStatusShowsWhatRuns: after apply --replicas 3 --min-available 2,
// and again after --min-replicas 2 --max-replicas 5, status -o json and
// wide, and list -o wide, show the replicas, autoscaler and budget that
// the API server holds: istiod's objects, the Deployment's status written
// as the deployment controller would.
func TestStatusShowsWhatRuns(t *testing.T) {
	t.Parallel()
	ns := env.Namespace(t, nil)
	ok0(t, "apply", "-n", ns, "--name", "sized", "--replicas", "3", "--min-available", "2")
	settled(t, ns, "sized", func(o runningObjects) string {
		if o.dep.Spec.Replicas == nil || *o.dep.Spec.Replicas != 3 || o.pdb == nil {
			return fmt.Sprintf("replicas %v, budget %v", o.dep.Spec.Replicas, o.pdb != nil)
		}
		return ""
	})
	checkWhatRuns(t, ns, "sized")
	if header, row := rowOf(t, ok0(t, "status", "-n", ns), "sized"); columns(t, header, row, "REPLICAS")[0] != "3/3" {
		t.Errorf("status shows REPLICAS %q, want 3/3:\n%s\n%s", columns(t, header, row, "REPLICAS")[0], header, row)
	}

	// An autoscaler instead of the fixed count; istiod keeps the budget
	// of the dropped flag (production.md), and no autoscaler controller
	// runs here to raise the replicas to its minimum.
	mustRun(t, 0, "apply", "-n", ns, "--name", "sized", "--min-replicas", "2", "--max-replicas", "5")
	settled(t, ns, "sized", func(o runningObjects) string {
		if o.hpa == nil || o.hpa.Spec.MinReplicas == nil || *o.hpa.Spec.MinReplicas != 2 || o.hpa.Spec.MaxReplicas != 5 {
			return "no autoscaler of 2 to 5 yet"
		}
		if o.dep.Spec.Replicas != nil && *o.dep.Spec.Replicas == 3 {
			return "the Deployment still has the 3 replicas of the dropped overlay"
		}
		return ""
	})
	checkWhatRuns(t, ns, "sized")
}

// TestStatusWarnsSingleReplica: status warns about a waypoint that runs one
// replica (or autoscales from one) without a disruption budget and has
// users, not about one without users; the fix it prints, run as printed,
// gives the waypoint two replicas and a budget, and the warning goes.
func TestStatusWarnsSingleReplica(t *testing.T) {
	t.Parallel()
	ns := env.Namespace(t, testenv.AmbientLabels())
	env.Service(t, ns, "reviews", nil)
	ok0(t, "apply", "-n", ns)
	ok0(t, "apply", "-n", ns, "--name", "lonely")
	mustRun(t, 0, "apply", "-n", ns, "--name", "scaled", "--max-replicas", "3")
	ok0(t, "enroll", "service", "reviews", "-n", ns, "--waypoint", "waypoint")
	ok0(t, "enroll", "namespace", ns, "--waypoint", "scaled")
	for _, name := range []string{"waypoint", "lonely", "scaled"} {
		env.WaitProgrammed(t, ns, name)
	}
	settled(t, ns, "waypoint", func(runningObjects) string { return "" })
	settled(t, ns, "lonely", func(runningObjects) string { return "" })
	settled(t, ns, "scaled", func(o runningObjects) string {
		if o.hpa == nil {
			return "no autoscaler yet"
		}
		return ""
	})

	_, stderr := mustRun(t, 0, "status", "-n", ns)
	want := []string{
		"Warning: waypoint " + ns + "/scaled autoscales from 1 replica and has no disruption budget, and namespace " + ns + " uses it: draining its node cuts their traffic; " +
			"add the other sizing flags it was applied with (an apply without them drops them) to: kubectl-waypoint apply -n " + ns + " --name scaled --min-replicas 2 --max-replicas 3 --max-unavailable 1",
		"Warning: waypoint " + ns + "/waypoint runs one replica and has no disruption budget, and service " + ns + "/reviews uses it: draining its node cuts their traffic; " +
			"run: kubectl-waypoint apply -n " + ns + " --replicas 2 --max-unavailable 1",
	}
	got := strings.Split(strings.TrimSuffix(stderr, "\n"), "\n")
	slices.Sort(got)
	if !slices.Equal(got, want) {
		t.Fatalf("status warned\n%s\nwant\n%s", strings.Join(got, "\n"), strings.Join(want, "\n"))
	}
	for _, line := range want {
		_, cmd, _ := strings.Cut(line, ": kubectl-waypoint ")
		ok0(t, strings.Fields(cmd)...)
	}
	settled(t, ns, "waypoint", func(o runningObjects) string {
		if o.dep.Spec.Replicas == nil || *o.dep.Spec.Replicas != 2 || o.pdb == nil || o.pdb.Spec.MaxUnavailable == nil || o.pdb.Spec.MaxUnavailable.IntValue() != 1 {
			return fmt.Sprintf("replicas %v, budget %+v", o.dep.Spec.Replicas, o.pdb)
		}
		return ""
	})
	settled(t, ns, "scaled", func(o runningObjects) string {
		if o.hpa == nil || o.hpa.Spec.MinReplicas == nil || *o.hpa.Spec.MinReplicas != 2 || o.pdb == nil {
			return fmt.Sprintf("autoscaler %+v, budget %v", o.hpa, o.pdb != nil)
		}
		return ""
	})
	if _, stderr := mustRun(t, 0, "status", "-n", ns); stderr != "" {
		t.Errorf("status after the fixes warned:\n%s", stderr)
	}
}

// TestStatusWhatRunsForbidden: a user who may list waypoints but not what
// runs for them gets a warning line per resource, and <unknown> in its
// columns; nothing is guessed, and no waypoint is called exposed.
func TestStatusWhatRunsForbidden(t *testing.T) {
	t.Parallel()
	ns := env.Namespace(t, testenv.AmbientLabels())
	env.Waypoint(t, ns, "waypoint", nil)
	env.Service(t, ns, "reviews", map[string]string{useWaypoint: "waypoint"})
	env.WaitProgrammed(t, ns, "waypoint")
	settled(t, ns, "waypoint", func(runningObjects) string { return "" })
	kc := env.UserWithRole(t, "status-gateways-only", []rbacv1.PolicyRule{
		{APIGroups: []string{"gateway.networking.k8s.io"}, Resources: []string{"gateways"}, Verbs: []string{"get", "list"}},
	}, ns)
	stdout, stderr, code := run(t, false, "status", "-n", ns, "-o", "wide", "--kubeconfig", kc)
	if code != 0 {
		t.Fatalf("exit %d: %s", code, stderr)
	}
	var warned []string
	for _, res := range []string{"deployments", "horizontalpodautoscalers", "poddisruptionbudgets"} {
		warned = append(warned, "Warning: cannot list the "+res+" of the waypoints in namespace "+ns+": forbidden: ")
	}
	lines := strings.Split(strings.TrimSuffix(stderr, "\n"), "\n")
	if len(lines) != 3 {
		t.Fatalf("want 3 warnings, got:\n%s", stderr)
	}
	for i, w := range warned {
		if !strings.HasPrefix(lines[i], w) {
			t.Errorf("warning %d: %q, want it to start %q", i, lines[i], w)
		}
	}
	header, row := rowOf(t, stdout, "waypoint")
	if got := columns(t, header, row, "REPLICAS", "AUTOSCALE", "BUDGET"); !slices.Equal(got, []string{"<unknown>", "<unknown>", "<unknown>"}) {
		t.Errorf("columns %q, want <unknown>:\n%s", got, stdout)
	}
}

// TestStatusRequestCounts pins what status and list -o wide cost to show
// what runs: three lists (Deployments, autoscalers, budgets) whatever the
// number of waypoints, and, when a waypoint runs a single replica without
// a budget, one list per enrollable kind to find its users (and its
// class) — never a request per waypoint.
func TestStatusRequestCounts(t *testing.T) {
	t.Parallel()
	ns := env.Namespace(t, testenv.AmbientLabels())
	env.Service(t, ns, "reviews", map[string]string{useWaypoint: "a"})
	names := []string{"a", "b", "c", "d"}
	count := func(args ...string) string {
		t.Helper()
		_, reqs := runCounted(t, args...)
		return strings.Join(reqs, ",")
	}
	for i, name := range names {
		ok0(t, "apply", "-n", ns, "--name", name)
		env.WaitProgrammed(t, ns, name)
		settled(t, ns, name, func(runningObjects) string { return "" })
		if i == 0 || i == len(names)-1 {
			// One waypoint or four: the same requests.
			want := "GET deployments,GET gateways,GET horizontalpodautoscalers,GET istio-waypoint,GET namespaces,GET poddisruptionbudgets,GET pods,GET serviceentries,GET services,GET workloadentries"
			if got := count("status", "-n", ns); got != want {
				t.Errorf("status with %d waypoints made %s\nwant %s", i+1, got, want)
			}
			want = "GET deployments,GET gateways,GET horizontalpodautoscalers,GET istio-waypoint,GET namespaces,GET poddisruptionbudgets,GET pods,GET serviceentries,GET services,GET workloadentries"
			if got := count("list", "-n", ns, "-o", "wide"); got != want {
				t.Errorf("list -o wide with %d waypoints made %s\nwant %s", i+1, got, want)
			}
		}
	}
	// Sized: no waypoint runs a single replica without a budget, so no
	// user is looked for.
	for _, name := range names {
		ok0(t, "apply", "-n", ns, "--name", name, "--replicas", "2", "--max-unavailable", "1")
	}
	for _, name := range names {
		settled(t, ns, name, func(o runningObjects) string {
			if o.pdb == nil {
				return "no budget yet"
			}
			return ""
		})
	}
	if got, want := count("status", "-n", ns), "GET deployments,GET gateways,GET horizontalpodautoscalers,GET poddisruptionbudgets"; got != want {
		t.Errorf("status of sized waypoints made %s\nwant %s", got, want)
	}
	// Across the cluster (or in the one namespace that has waypoints): each
	// kind is listed once, whatever the other tests' waypoints.
	_, log := runLogged(t, "status", "-A")
	seen := map[string]int{}
	for _, p := range log.paths {
		verb, path, _ := strings.Cut(p, " ")
		parts := strings.Split(strings.Trim(path, "/"), "/")
		last := parts[len(parts)-1]
		if verb != "GET" {
			t.Errorf("status -A sent %s", p)
		}
		switch last {
		case "deployments", "horizontalpodautoscalers", "poddisruptionbudgets", "gateways":
			seen[last]++
		}
	}
	for _, res := range []string{"deployments", "horizontalpodautoscalers", "poddisruptionbudgets", "gateways"} {
		if seen[res] != 1 {
			t.Errorf("status -A listed %s %d times, want once (%v)", res, seen[res], log.paths)
		}
	}
}
