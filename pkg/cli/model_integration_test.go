package cli

import (
	"encoding/json"
	"strings"
	"testing"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	gatewayv1 "sigs.k8s.io/gateway-api/apis/v1"

	"github.com/kubectl-waypoint/kubectl-waypoint/internal/testenv"
	"github.com/kubectl-waypoint/kubectl-waypoint/pkg/enroll"
	"github.com/kubectl-waypoint/kubectl-waypoint/pkg/istio"
)

// TestWorkloadEntryKind: WorkloadEntries are enrolled, explained and
// unenrolled like the other kinds, by the workload rules.
func TestWorkloadEntryKind(t *testing.T) {
	t.Parallel()
	ns := env.Namespace(t, testenv.AmbientLabels())
	env.WorkloadEntry(t, ns, "vm-1", "10.251.0.1", nil)
	env.Waypoint(t, ns, "svc-only", map[string]string{istio.LabelWaypointFor: "service"})

	// A service-only waypoint does not take workload traffic: refused.
	_, stderr, code := runKube(t, "enroll", "we", "vm-1", "--waypoint", "svc-only", "-n", ns)
	if code != ExitUsage || !strings.Contains(stderr, "workloadentries need a waypoint for workload or all traffic") {
		t.Fatalf("exit %d, stderr %q", code, stderr)
	}
	// A waypoint that does not exist yet is only a warning.
	stdout, stderr := mustRun(t, 0, "enroll", "workloadentry", "vm-1", "--waypoint", "vm-waypoint", "-n", ns)
	if !strings.Contains(stdout, "workloadentry "+ns+"/vm-1 enrolled in waypoint "+ns+"/vm-waypoint") || !strings.Contains(stderr, "does not exist yet") {
		t.Errorf("stdout %q, stderr %q", stdout, stderr)
	}
	stdout, _ = mustRun(t, 0, "explain", "we", "vm-1", "-n", ns, "-o", "json")
	var ex enroll.Explanation
	if err := json.Unmarshal([]byte(stdout), &ex); err != nil {
		t.Fatal(err)
	}
	if ex.Kind != enroll.KindWorkloadEntry || ex.Reason != enroll.ReasonNotReady || ex.Waypoint != ns+"/vm-waypoint" {
		t.Errorf("explain: %+v", ex.Resolution)
	}
	mustRun(t, 0, "unenroll", "we", "vm-1", "-n", ns)
	obj, err := env.Dynamic.Resource(enroll.WorkloadEntryGVR).Namespace(ns).Get(t.Context(), "vm-1", metav1.GetOptions{})
	if err != nil || obj.GetLabels()[istio.LabelUseWaypoint] != "" {
		t.Errorf("unenroll left %v (%v)", obj.GetLabels(), err)
	}
}

// TestEnrollCanary writes the canary label and weight annotation, and
// refuses what istiod would ignore.
func TestEnrollCanary(t *testing.T) {
	t.Parallel()
	ns := env.Namespace(t, testenv.AmbientLabels())
	env.Service(t, ns, "reviews", nil)
	env.Waypoint(t, ns, "waypoint", nil)
	env.Waypoint(t, ns, "waypoint-v2", nil)
	stdout, _ := mustRun(t, 0, "enroll", "svc", "reviews", "--waypoint", "waypoint", "--canary", "waypoint-v2", "--canary-weight", "20", "-n", ns)
	if want := "service " + ns + "/reviews enrolled in waypoint " + ns + "/waypoint (20% to canary " + ns + "/waypoint-v2)\n"; stdout != want {
		t.Errorf("stdout %q, want %q", stdout, want)
	}
	svc, err := env.Kube.CoreV1().Services(ns).Get(t.Context(), "reviews", metav1.GetOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if svc.Labels[istio.LabelUseWaypoint] != "waypoint" || svc.Labels[istio.LabelUseWaypointCanary] != "waypoint-v2" || svc.Annotations[istio.AnnotationCanaryWeight] != "20" {
		t.Errorf("labels %v, annotations %v", svc.Labels, svc.Annotations)
	}
	// The same again changes nothing; another weight is a change.
	stdout, _ = mustRun(t, 0, "enroll", "svc", "reviews", "--waypoint", "waypoint", "--canary", "waypoint-v2", "--canary-weight", "20", "-n", ns)
	if !strings.Contains(stdout, "unchanged") {
		t.Errorf("again: %q", stdout)
	}
	mustRun(t, 0, "enroll", "svc", "reviews", "--waypoint", "waypoint", "--canary", "waypoint-v2", "--canary-weight", "50", "-n", ns)
	svc, _ = env.Kube.CoreV1().Services(ns).Get(t.Context(), "reviews", metav1.GetOptions{})
	if svc.Annotations[istio.AnnotationCanaryWeight] != "50" {
		t.Errorf("weight %q", svc.Annotations[istio.AnnotationCanaryWeight])
	}
	// unenroll removes the canary too.
	mustRun(t, 0, "unenroll", "svc", "reviews", "-n", ns)
	svc, _ = env.Kube.CoreV1().Services(ns).Get(t.Context(), "reviews", metav1.GetOptions{})
	if _, ok := svc.Labels[istio.LabelUseWaypointCanary]; ok {
		t.Errorf("canary label left: %v", svc.Labels)
	}
}

func TestUnitEnrollCanaryValidation(t *testing.T) {
	for _, tc := range []struct {
		args []string
		want string
	}{
		{[]string{"svc", "a", "--waypoint", "w", "--canary-weight", "10"}, "--canary-weight needs --canary"},
		{[]string{"svc", "a", "--waypoint", "w", "--canary", "w"}, "CanarySameAsPrimary"},
		{[]string{"svc", "a", "--waypoint", "w", "--canary", "c", "--canary-weight", "101"}, "must be from 0 to 100"},
		{[]string{"pod", "a", "--waypoint", "w", "--canary", "c"}, "istiod splits no traffic of pods"},
		{[]string{"svc", "a", "--waypoint", "none", "--canary", "c"}, "--waypoint none"},
		{[]string{"svc", "a", "--waypoint", "w", "--canary", "Bad_Name"}, "--canary"},
	} {
		_, stderr, code := run(t, false, append([]string{"enroll"}, tc.args...)...)
		if code != ExitUsage || !strings.Contains(stderr, tc.want) {
			t.Errorf("%v: exit %d, stderr %q", tc.args, code, stderr)
		}
	}
}

// TestAllowedFromText: list -o wide and explain print the same words for
// who may use a waypoint, for a selector with no selector at all.
func TestAllowedFromText(t *testing.T) {
	t.Parallel()
	ns := env.Namespace(t, nil)
	gw := testenv.WaypointGateway(ns, "w", nil)
	from := gatewayv1.NamespacesFromSelector
	gw.Spec.Listeners[0].AllowedRoutes = &gatewayv1.AllowedRoutes{Namespaces: &gatewayv1.RouteNamespaces{From: &from}}
	env.CreateGateway(t, gw)
	stdout, _ := mustRun(t, 0, "list", "-n", ns, "-o", "wide")
	if !strings.Contains(stdout, "Selector(<none>)") {
		t.Errorf("list -o wide:\n%s", stdout)
	}
	stdout, _ = mustRun(t, 0, "explain", "waypoint", "w", "-n", ns)
	if !strings.Contains(stdout, "admits Selector(<none>)") {
		t.Errorf("explain waypoint:\n%s", stdout)
	}
}
