package cli

import (
	"context"
	"encoding/json"
	"fmt"
	"strings"
	"testing"
	"time"

	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	gatewayv1 "sigs.k8s.io/gateway-api/apis/v1"
)

// TestStatusTable: every cell of status, and of status -o wide, is what
// the API server holds of the Gateway: its Programmed condition (status,
// reason, message, as istiod wrote them), its addresses and its age; and
// of what runs for it: its Deployment's replicas (the held waypoint's pod
// is not ready), autoscaler and budget (TestStatusShowsWhatRuns has them).
func TestStatusTable(t *testing.T) {
	ns := env.Namespace(t, nil)
	env.HoldWaypoint(t, ns, "broken")
	env.Waypoint(t, ns, "ready", nil)
	env.Waypoint(t, ns, "broken", nil)
	ready := env.WaitProgrammed(t, ns, "ready")
	env.WaitNotProgrammed(t, ns, "broken")
	running := map[string]runningObjects{}
	for _, name := range []string{"ready", "broken"} {
		eventually(t, "the status of the Deployment of "+name, func(ctx context.Context) string {
			o, err := readRunning(ctx, ns, name)
			if err != nil {
				return err.Error()
			}
			if o.dep.Status.ObservedGeneration != o.dep.Generation || o.dep.Status.Replicas != 1 {
				return fmt.Sprintf("status %+v", o.dep.Status)
			}
			running[name] = o
			return ""
		})
	}
	// Each row as the cluster has it; AGE is checked apart (it moves).
	wantRow := func(gw *gatewayv1.Gateway, wide bool) []string {
		c := meta.FindStatusCondition(gw.Status.Conditions, string(gatewayv1.GatewayConditionProgrammed))
		if c == nil {
			t.Fatalf("%s has no Programmed condition", gw.Name)
		}
		bound, readyCell, address := "no", "no", "<none>"
		if n := len(gw.Status.Addresses); n > 0 {
			bound, address = "yes", gw.Status.Addresses[0].Value
			if n > 1 {
				address += fmt.Sprintf(" + %d more", n-1)
			}
			if c.Status == metav1.ConditionTrue {
				readyCell = "yes"
			}
		}
		runs := running[gw.Name].cells()
		row := []string{gw.Name, readyCell, string(c.Status), c.Reason, bound, runs[0]}
		if wide {
			row = append(row, runs[1], runs[2], address, c.Message)
		}
		return row
	}
	for _, wide := range []bool{false, true} {
		args := []string{"status", "-n", ns}
		header := "NAME READY PROGRAMMED REASON BOUND REPLICAS AGE"
		if wide {
			args = append(args, "-o", "wide")
			header += " AUTOSCALE BUDGET ADDRESS MESSAGE"
		}
		stdout, stderr, code := runKube(t, args...)
		if code != 0 {
			t.Fatalf("%v: exit %d: %s", args, code, stderr)
		}
		lines := strings.Split(strings.TrimSuffix(stdout, "\n"), "\n")
		if len(lines) != 3 || strings.Join(strings.Fields(lines[0]), " ") != header {
			t.Fatalf("%v: want the header %q and two rows, got:\n%s", args, header, stdout)
		}
		for i, name := range []string{"broken", "ready"} {
			gw, err := env.Gateway.GatewayV1().Gateways(ns).Get(context.Background(), name, metav1.GetOptions{})
			if err != nil {
				t.Fatal(err)
			}
			want := wantRow(gw, wide)
			got := tableCells(lines[0], lines[i+1])
			if len(got) != len(want)+1 {
				t.Fatalf("%v: row %q has %d cells, want %d", args, lines[i+1], len(got), len(want)+1)
			}
			age, err := time.ParseDuration(got[6])
			if lived := time.Since(gw.CreationTimestamp.Time); err != nil || age < 0 || age > lived+time.Second {
				t.Errorf("%v: AGE of %s = %q, want at most %s (created %s)", args, name, got[6], lived, gw.CreationTimestamp)
			}
			got = append(got[:6], got[7:]...)
			if strings.Join(got, "|") != strings.Join(want, "|") {
				t.Errorf("%v: row of %s\ngot  %q\nwant %q (the API server's)", args, name, got, want)
			}
		}
	}
	if !strings.Contains(ready.Status.Addresses[0].Value, ".") {
		t.Fatalf("ready has no address: %+v", ready.Status)
	}
	stdout, _, _ := runKube(t, "status", "-n", ns, "ready", "-o", "json")
	var rows []WaypointStatus
	if err := json.Unmarshal([]byte(stdout), &rows); err != nil || len(rows) != 1 || !rows[0].Ready || rows[0].Addresses[0] != ready.Status.Addresses[0].Value {
		t.Errorf("-o json: %v %+v", err, rows)
	}
	_, stderr, code := runKube(t, "status", "-n", ns, "missing")
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
	if !hasRowPrefix(stdout, "held no False AddressNotAssigned no") || !hasRowPrefix(stdout, "ready yes True Programmed yes") {
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
	if !hasRowPrefix(r.stdout, "held yes True") {
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
		if !hasRowPrefix(stdout, ns+" waypoint yes True") {
			t.Errorf("-A --wait:\n%s", stdout)
		}
	}
}

// hasRowPrefix says whether a line of the table out starts with the cells
// of prefix (separated by single spaces), whatever the column widths.
func hasRowPrefix(out, prefix string) bool {
	for _, line := range strings.Split(out, "\n") {
		if strings.HasPrefix(strings.Join(strings.Fields(line), " ")+" ", prefix+" ") {
			return true
		}
	}
	return false
}

// tableCells splits a row of a table into its cells by the columns of its
// header: each cell starts where its column's name does (cells may hold
// spaces).
func tableCells(header, row string) []string {
	var starts []int
	for i := range header {
		if header[i] != ' ' && (i == 0 || header[i-1] == ' ' && i >= 2 && header[i-2] == ' ') {
			starts = append(starts, i)
		}
	}
	cells := make([]string, len(starts))
	for j, start := range starts {
		end := len(row)
		if j+1 < len(starts) && starts[j+1] < end {
			end = starts[j+1]
		}
		if start < len(row) {
			cells[j] = strings.TrimSpace(row[start:end])
		}
	}
	return cells
}
