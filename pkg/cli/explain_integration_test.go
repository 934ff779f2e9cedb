package cli

import (
	"encoding/json"
	"fmt"
	"strings"
	"testing"

	gatewayv1 "sigs.k8s.io/gateway-api/apis/v1"

	"github.com/kubectl-waypoint/kubectl-waypoint/internal/testenv"
	"github.com/kubectl-waypoint/kubectl-waypoint/pkg/enroll"
)

// TestExplainNoFallback: a waypoint named by the resource's own label that
// is not ready leaves it without one, even though the namespace's is ready.
func TestExplainNoFallback(t *testing.T) {
	t.Parallel()
	ns := env.Namespace(t, testenv.AmbientLabels())
	env.HoldWaypoint(t, ns, "own")
	env.Waypoint(t, ns, "waypoint", nil)
	env.Waypoint(t, ns, "own", nil)
	env.WaitProgrammed(t, ns, "waypoint")
	env.WaitNotProgrammed(t, ns, "own")
	mustRun(t, 0, "enroll", "ns", ns, "--waypoint", "waypoint")
	env.Service(t, ns, "reviews", map[string]string{useWaypoint: "own"})
	// What istiod makes of it: explain shows it.
	env.WaitForCondition(t, testenv.ServiceResource, ns, "reviews", enroll.ConditionWaypointBound, nil)

	stdout, _ := mustRun(t, 0, "explain", "service", "reviews", "-n", ns)
	for _, want := range []string{
		fmt.Sprintf("service %[1]s/reviews: uses no waypoint: waypoint %[1]s/own is not ready (WaypointIsNotReady)", ns),
		"Programmed=False, reason AddressNotAssigned",
		"is not replaced by the namespace's",
		"fix: check that istiod runs and programs it: kubectl-waypoint status -n " + ns + " own --wait",
		fmt.Sprintf("istiod reports istio.io/WaypointBound=False, reason WaypointIsNotReady: waypoint \"%s/own\" is not ready", ns),
	} {
		if !strings.Contains(stdout, want) {
			t.Errorf("explain lacks %q:\n%s", want, stdout)
		}
	}

	stdout, _ = mustRun(t, 0, "explain", "service", "reviews", "-n", ns, "-o", "json")
	var ex enroll.Explanation
	if err := json.Unmarshal([]byte(stdout), &ex); err != nil {
		t.Fatalf("%v\n%s", err, stdout)
	}
	if ex.Reason != enroll.ReasonNotReady || ex.Uses || !ex.Problem || ex.Waypoint != ns+"/own" || ex.Source != enroll.SourceOwn || len(ex.Steps) == 0 {
		t.Errorf("json: %+v", ex.Resolution)
	}
}

func TestExplainCases(t *testing.T) {
	t.Parallel()
	ns := env.Namespace(t, testenv.AmbientLabels())
	other := env.Namespace(t, testenv.AmbientLabels())
	env.Waypoint(t, other, "far", map[string]string{"istio.io/waypoint-for": "all"})
	env.Waypoint(t, ns, "svc-only", nil)
	env.WaitProgrammed(t, other, "far")
	env.WaitProgrammed(t, ns, "svc-only")
	env.Service(t, ns, "denied", map[string]string{useWaypoint: "far", useWaypointNS: other})
	env.Pod(t, ns, "direct", map[string]string{useWaypoint: "svc-only"})
	env.Pod(t, ns, "svc-only-abc", map[string]string{"gateway.networking.k8s.io/gateway-name": "svc-only", useWaypoint: "svc-only"})

	cases := []struct {
		args []string
		want []string
	}{
		{[]string{"service", "denied"}, []string{
			"(AttachmentDenied)",
			"fix: to allow it, run:\n    kubectl-waypoint apply -n " + other + " --name far --for all --allow-namespace " + ns,
		}},
		{[]string{"pod", "direct"}, []string{
			"(UnsupportedTrafficType)",
			"a pod needs workload or all",
			"traffic addressed to its services: no service in namespace " + ns + " selects the pod",
		}},
		{[]string{"pod", "svc-only-abc"}, []string{"(IsWaypoint)", "never use a waypoint"}},
		{[]string{"namespace", ns}, []string{"namespace " + ns + ": names no waypoint (NoWaypoint)"}},
		{[]string{"service", "gone"}, nil},
	}
	for _, tc := range cases {
		args := append([]string{"explain"}, tc.args...)
		args = append(args, "-n", ns)
		if tc.want == nil {
			_, stderr, code := runKube(t, args...)
			if code != ExitFailed || !strings.Contains(stderr, `service "gone" not found in namespace `+ns) {
				t.Errorf("%v: exit %d, %q", tc.args, code, stderr)
			}
			continue
		}
		stdout, _ := mustRun(t, 0, args...)
		for _, w := range tc.want {
			if !strings.Contains(stdout, w) {
				t.Errorf("%v lacks %q:\n%s", tc.args, w, stdout)
			}
		}
	}

	// A missing waypoint: explain says how to apply it.
	env.ServiceEntry(t, ns, "ext", map[string]string{useWaypoint: "egress"})
	stdout, _ := mustRun(t, 0, "explain", "se", "ext", "-n", ns)
	if !strings.Contains(stdout, "fix: apply the waypoint: kubectl-waypoint apply -n "+ns+" --name egress") {
		t.Errorf("explain se:\n%s", stdout)
	}
	// explain waypoint of a Gateway that is not one is refused.
	gw := testenv.WaypointGateway(ns, "ingress", nil)
	gw.Spec.GatewayClassName = "istio"
	gw.Spec.Listeners[0] = gatewayv1.Listener{Name: "http", Port: 80, Protocol: gatewayv1.HTTPProtocolType}
	env.CreateGateway(t, gw)
	if _, stderr, code := runKube(t, "explain", "waypoint", "ingress", "-n", ns); code != ExitUsage || !strings.Contains(stderr, "is not a waypoint") {
		t.Errorf("explain waypoint ingress: exit %d, %q", code, stderr)
	}
	// The users of svc-only: the two pods labelled with it, neither of
	// which can use it.
	stdout, _ = mustRun(t, 0, "explain", "waypoint", "svc-only", "-n", ns, "-o", "json")
	var users enroll.WaypointUsers
	if err := json.Unmarshal([]byte(stdout), &users); err != nil {
		t.Fatal(err)
	}
	if users.Facts == nil || len(users.Users) != 2 ||
		users.Users[0].Name != "direct" || users.Users[0].Reason != enroll.ReasonUnsupportedTrafficType ||
		users.Users[1].Name != "svc-only-abc" || users.Users[1].Reason != enroll.ReasonIsWaypoint {
		t.Errorf("users: %+v", users)
	}
}
