package cli

import (
	"context"
	"strings"
	"testing"
	"time"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/kubectl-waypoint/kubectl-waypoint/internal/faultproxy"
	"github.com/kubectl-waypoint/kubectl-waypoint/pkg/bulk"
)

// TestBulkWaitUnderCutWatches runs apply --enroll-namespace --wait over the
// fixture's 50 namespaces behind the fault proxy while it ends every watch
// after 200 ms and fails 5 % of requests with 5xx before the server sees
// them. The suite's real istiod programs the waypoints. The wait must ride
// over the cut watches (it watches again from where it was) and end with
// every waypoint ready: exit 0, every record true to the cluster, every
// namespace enrolled, the other writer's team label kept. status --wait
// then waits the same way for one more waypoint.
func TestBulkWaitUnderCutWatches(t *testing.T) {
	fx := newFaultFixture(t)
	profile := faultproxy.Profile{Name: "cut-watches", CutWatchesAfter: 200 * time.Millisecond, ErrorBefore: 0.05}
	fx.proxy.SetProfile(profile)
	before := fx.proxy.Counts()
	held := fx.readAll(t)
	rep, code, stderr := fx.run(t, "apply", "--enroll-namespace", "--wait", "--timeout", "120s")
	after := fx.proxy.Counts()
	if code != ExitOK {
		t.Fatalf("apply --wait: exit %d, %+v: %s", code, rep.Summary, stderr)
	}
	if after.WatchesCut == before.WatchesCut {
		t.Fatalf("no watch was cut (%d requests): the test proves nothing", after.Requests-before.Requests)
	}
	if wrong := fx.audit(t, rep, held, fx.readAll(t), func(kind string, _ state) bool { return kind == "Gateway" || kind == "Namespace" }); wrong != 0 {
		t.Errorf("%d records do not match the cluster", wrong)
	}
	enrolled := 0
	for _, r := range rep.Records {
		if r.Kind == "Namespace" && r.Action == bulk.Enrolled {
			enrolled++
		}
	}
	if enrolled != len(fx.namespaces) {
		t.Errorf("%d of %d namespaces enrolled: %+v", enrolled, len(fx.namespaces), rep.Summary)
	}
	for _, ns := range fx.namespaces {
		st := fx.read(t, ns)
		if !st.gateway || st.nsWaypoint != "waypoint" || st.nsTeam != "payments" || st.svcTeam != "payments" {
			t.Errorf("%s: %+v", ns, st)
		}
		gw, err := env.Gateway.GatewayV1().Gateways(ns).Get(context.Background(), "waypoint", metav1.GetOptions{})
		if err != nil || len(gw.Status.Addresses) == 0 {
			t.Errorf("%s: the wait ended but the waypoint has no address (%v)", ns, err)
		}
	}
	t.Logf("apply --wait: %d requests, %d watches cut, %d 5xx injected",
		after.Requests-before.Requests, after.WatchesCut-before.WatchesCut, after.ErrorsBefore-before.ErrorsBefore)

	// status --wait on a waypoint istiod has yet to program.
	ns := fx.namespaces[0]
	if _, stderr, code := run(t, false, "apply", "-n", ns, "--name", "second", "--kubeconfig", fx.kubeconfig); code != ExitOK {
		t.Fatalf("apply second: exit %d: %s", code, stderr)
	}
	before = fx.proxy.Counts()
	stdout, stderr, code := run(t, false, "status", "second", "--wait", "--timeout", "60s", "-n", ns, "--kubeconfig", fx.kubeconfig)
	after = fx.proxy.Counts()
	if code != ExitOK || !strings.Contains(stdout, "second") {
		t.Errorf("status --wait: exit %d: %s\n%s", code, stderr, stdout)
	}
	t.Logf("status --wait: %d requests, %d watches cut", after.Requests-before.Requests, after.WatchesCut-before.WatchesCut)

	fx.proxy.SetProfile(faultproxy.Profile{})
	if rep, code, stderr := fx.run(t, "delete", "--all", "--unenroll"); code != 0 {
		t.Errorf("clean-up: exit %d, %+v: %s", code, rep.Summary, stderr)
	}
}
