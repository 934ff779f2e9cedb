package cli

import (
	"encoding/json"
	"strings"
	"testing"
	"time"
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

// TestStatusWait: --wait against the real istiod. The node stand-in holds
// "never" back, so istiod never programs it, and lets "soon" run after a
// moment, so istiod programs it while status waits.
func TestStatusWait(t *testing.T) {
	ns := env.Namespace(t, nil)
	releaseSoon := env.HoldWaypoint(t, ns, "soon")
	releaseNever := env.HoldWaypoint(t, ns, "never")
	env.Waypoint(t, ns, "soon", nil)
	env.Waypoint(t, ns, "never", nil)
	env.WaitNotProgrammed(t, ns, "never")
	go func() {
		time.Sleep(300 * time.Millisecond)
		releaseSoon()
	}()
	start := time.Now()
	stdout, stderr, code := runKube(t, "status", "-n", ns, "--wait", "--timeout", "2s")
	if code != ExitTimeout {
		t.Fatalf("exit %d, want %d; stderr %q", code, ExitTimeout, stderr)
	}
	if time.Since(start) < 2*time.Second {
		t.Errorf("returned before the timeout")
	}
	if !strings.Contains(stdout, "never   False    Programmed   AddressNotAssigned   Failed to assign to any requested addresses: no instances found") || !strings.Contains(stdout, "soon    True") {
		t.Errorf("the table must show which is not ready and why:\n%s", stdout)
	}
	if !strings.Contains(stderr, "1 of 2 waypoints not ready") {
		t.Errorf("stderr %q", stderr)
	}

	// Released, istiod programs it, and --wait returns.
	releaseNever()
	_, stderr, code = runKube(t, "status", "-n", ns, "--wait", "--timeout", "30s")
	if code != 0 {
		t.Fatalf("exit %d: %s", code, stderr)
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
