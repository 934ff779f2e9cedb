package cli

import (
	"encoding/json"
	"strings"
	"testing"
	"time"
)

func TestStatusTable(t *testing.T) {
	ns := env.Namespace(t, nil)
	env.Waypoint(t, ns, "ready", nil)
	env.Waypoint(t, ns, "broken", nil)
	env.SetProgrammed(t, ns, "ready", "10.96.0.9")
	env.SetNotProgrammed(t, ns, "broken", "Invalid", "no gateway class")
	stdout, stderr, code := runKube(t, "status", "-n", ns)
	want := `NAME     STATUS   TYPE         REASON       MESSAGE
broken   False    Programmed   Invalid      no gateway class
ready    True     Programmed   Programmed   Resource programmed
`
	if code != 0 {
		t.Fatalf("exit %d: %s", code, stderr)
	}
	// The message of SetProgrammed may say more; compare the columns that matter.
	gotLines, wantLines := strings.Split(stdout, "\n"), strings.Split(want, "\n")
	for i := range wantLines {
		if i >= len(gotLines) || !strings.HasPrefix(gotLines[i], wantLines[i]) {
			t.Fatalf("got:\n%s\nwant:\n%s", stdout, want)
		}
	}
	stdout, _, _ = runKube(t, "status", "-n", ns, "ready", "-o", "json")
	var rows []WaypointStatus
	if err := json.Unmarshal([]byte(stdout), &rows); err != nil || len(rows) != 1 || !rows[0].Ready || rows[0].Addresses[0] != "10.96.0.9" {
		t.Errorf("-o json: %v %+v", err, rows)
	}
	_, stderr, code = runKube(t, "status", "-n", ns, "missing")
	if code != 1 || !strings.Contains(stderr, "missing not found") {
		t.Errorf("exit %d, stderr %q", code, stderr)
	}
}

func TestStatusWait(t *testing.T) {
	ns := env.Namespace(t, nil)
	env.Waypoint(t, ns, "soon", nil)
	env.Waypoint(t, ns, "never", nil)
	env.SetNotProgrammed(t, ns, "never", "NoResources", "no ready replicas")
	go func() {
		time.Sleep(300 * time.Millisecond)
		env.SetProgrammed(t, ns, "soon", "10.96.0.11")
	}()
	start := time.Now()
	stdout, stderr, code := runKube(t, "status", "-n", ns, "--wait", "--timeout", "2s")
	if code != ExitTimeout {
		t.Fatalf("exit %d, want %d; stderr %q", code, ExitTimeout, stderr)
	}
	if time.Since(start) < 2*time.Second {
		t.Errorf("returned before the timeout")
	}
	if !strings.Contains(stdout, "never   False    Programmed   NoResources   no ready replicas") || !strings.Contains(stdout, "soon    True") {
		t.Errorf("the table must show which is not ready and why:\n%s", stdout)
	}
	if !strings.Contains(stderr, "1 of 2 waypoints not ready") {
		t.Errorf("stderr %q", stderr)
	}

	// Once both are ready, --wait returns at once.
	env.SetProgrammed(t, ns, "never", "10.96.0.12")
	_, stderr, code = runKube(t, "status", "-n", ns, "--wait", "--timeout", "5s")
	if code != 0 {
		t.Fatalf("exit %d: %s", code, stderr)
	}
}

func TestStatusWaitAllNamespaces(t *testing.T) {
	a := env.Namespace(t, nil)
	b := env.Namespace(t, nil)
	env.Waypoint(t, a, "waypoint", nil)
	env.Waypoint(t, b, "waypoint", nil)
	env.SetProgrammed(t, a, "waypoint", "10.96.0.13")
	go func() {
		time.Sleep(200 * time.Millisecond)
		env.SetProgrammed(t, b, "waypoint", "10.96.0.14")
	}()
	// One watch over every namespace sees b become ready. Each test's
	// namespaces are removed when it ends, so only a and b hold waypoints now.
	stdout, stderr, code := runKube(t, "status", "-A", "--wait", "--timeout", "10s")
	if code != 0 {
		t.Fatalf("exit %d: %s\n%s", code, stderr, stdout)
	}
	for _, ns := range []string{a, b} {
		if !strings.Contains(stdout, ns+"   waypoint   True") {
			t.Errorf("-A --wait:\n%s", stdout)
		}
	}
}
