package cli

import (
	"context"
	"encoding/json"
	"strings"
	"testing"
	"time"

	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	gatewayv1 "sigs.k8s.io/gateway-api/apis/v1"
)

func TestStatusTable(t *testing.T) {
	ns := env.Namespace(t, nil)
	env.HoldWaypoint(t, ns, "broken")
	env.Waypoint(t, ns, "ready", nil)
	env.Waypoint(t, ns, "broken", nil)
	ready := env.WaitProgrammed(t, ns, "ready")
	env.WaitNotProgrammed(t, ns, "broken")
	stdout, stderr, code := runKube(t, "status", "-n", ns)
	want := `NAME     STATUS   TYPE         REASON               MESSAGE
broken   False    Programmed   AddressNotAssigned   Failed to assign to any requested addresses: no instances found for hostname "broken.` + ns + `.svc.cluster.local"
ready    True     Programmed   Programmed           Resource programmed, assigned to service(s) ready.` + ns + `.svc.cluster.local:15008
`
	if code != 0 {
		t.Fatalf("exit %d: %s", code, stderr)
	}
	// The table may cut long messages; compare the columns that matter.
	gotLines, wantLines := strings.Split(stdout, "\n"), strings.Split(want, "\n")
	for i := range wantLines {
		if i >= len(gotLines) || !strings.HasPrefix(gotLines[i], wantLines[i]) {
			t.Fatalf("got:\n%s\nwant:\n%s", stdout, want)
		}
	}
	stdout, _, _ = runKube(t, "status", "-n", ns, "ready", "-o", "json")
	var rows []WaypointStatus
	if err := json.Unmarshal([]byte(stdout), &rows); err != nil || len(rows) != 1 || !rows[0].Ready || rows[0].Addresses[0] != ready.Status.Addresses[0].Value {
		t.Errorf("-o json: %v %+v", err, rows)
	}
	_, stderr, code = runKube(t, "status", "-n", ns, "missing")
	if code != 1 || !strings.Contains(stderr, "missing not found") {
		t.Errorf("exit %d, stderr %q", code, stderr)
	}
}

// TestStatusWait: --wait against the real istiod, with outcomes that do not
// depend on its speed. The node stand-in holds "held" back, so istiod cannot
// program it: the first wait must time out (exit 3) and say which waypoint is
// not ready and why, while "ready", programmed before it started, shows True.
// The second wait starts while "held" is still held and must not end before
// the hold does; released, istiod programs it, and --wait returns 0 within a
// timeout long enough for any machine. The API server then says whether the
// waypoint is Programmed, not the command's own table.
func TestStatusWait(t *testing.T) {
	ns := env.Namespace(t, nil)
	release := env.HoldWaypoint(t, ns, "held")
	env.Waypoint(t, ns, "ready", nil)
	env.Waypoint(t, ns, "held", nil)
	env.WaitProgrammed(t, ns, "ready")
	env.WaitNotProgrammed(t, ns, "held")

	start := time.Now()
	stdout, stderr, code := runKube(t, "status", "-n", ns, "--wait", "--timeout", "1s")
	if code != ExitTimeout {
		t.Fatalf("exit %d, want %d; stderr %q", code, ExitTimeout, stderr)
	}
	if time.Since(start) < time.Second {
		t.Errorf("returned before the timeout")
	}
	if !strings.Contains(stdout, "held    False    Programmed   AddressNotAssigned   Failed to assign to any requested addresses: no instances found") || !strings.Contains(stdout, "ready   True") {
		t.Errorf("the table must show which is not ready and why:\n%s", stdout)
	}
	if !strings.Contains(stderr, "timed out after 1s: 1 of 2 waypoints not ready") {
		t.Errorf("stderr %q", stderr)
	}

	type result struct {
		stdout, stderr string
		code           int
	}
	done := make(chan result, 1)
	go func() {
		stdout, stderr, code := runKube(t, "status", "-n", ns, "--wait", "--timeout", "5m")
		done <- result{stdout, stderr, code}
	}()
	// While "held" is held it cannot be programmed, so a wait that ends
	// now is wrong whenever it ends; one that has not started its watch
	// yet only makes the check weaker, never wrong.
	select {
	case r := <-done:
		t.Fatalf("--wait returned while a waypoint was held: exit %d, stderr %q\n%s", r.code, r.stderr, r.stdout)
	case <-time.After(500 * time.Millisecond):
	}
	release()
	r := <-done
	if r.code != 0 {
		t.Fatalf("exit %d after the release: %s\n%s", r.code, r.stderr, r.stdout)
	}
	if !strings.Contains(r.stdout, "held    True") {
		t.Errorf("the table after the wait:\n%s", r.stdout)
	}
	gw, err := env.Gateway.GatewayV1().Gateways(ns).Get(context.Background(), "held", metav1.GetOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if p := meta.FindStatusCondition(gw.Status.Conditions, string(gatewayv1.GatewayConditionProgrammed)); p == nil || p.Status != metav1.ConditionTrue || p.ObservedGeneration != gw.Generation {
		t.Errorf("--wait returned 0, but the API server says the waypoint's Programmed condition is %+v", p)
	}
}

func TestStatusWaitAllNamespaces(t *testing.T) {
	a := env.Namespace(t, nil)
	b := env.Namespace(t, nil)
	releaseB := env.HoldWaypoint(t, b, "waypoint")
	env.Waypoint(t, a, "waypoint", nil)
	env.Waypoint(t, b, "waypoint", nil)
	env.WaitProgrammed(t, a, "waypoint")
	env.WaitNotProgrammed(t, b, "waypoint")
	go func() {
		time.Sleep(200 * time.Millisecond)
		releaseB()
	}()
	// One watch over every namespace sees b become ready. Each test's
	// namespaces are removed when it ends, so only a and b hold waypoints now.
	stdout, stderr, code := runKube(t, "status", "-A", "--wait", "--timeout", "30s")
	if code != 0 {
		t.Fatalf("exit %d: %s\n%s", code, stderr, stdout)
	}
	for _, ns := range []string{a, b} {
		if !strings.Contains(stdout, ns+"   waypoint   True") {
			t.Errorf("-A --wait:\n%s", stdout)
		}
	}
}
