package cli

import (
	"encoding/json"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/kubectl-waypoint/kubectl-waypoint/pkg/bulk"
)

func TestDeleteManyNamespaces(t *testing.T) {
	team := fmt.Sprintf("del-%d", time.Now().UnixNano())
	const n = 6
	var nss []string
	for i := 0; i < n; i++ {
		nss = append(nss, env.Namespace(t, map[string]string{"team": team, "istio.io/dataplane-mode": "ambient"}))
	}
	outside := env.Namespace(t, nil)
	env.Waypoint(t, outside, "waypoint", nil)
	if _, stderr, code := runKube(t, "apply", "--namespace-selector", "team="+team, "--enroll-namespace"); code != 0 {
		t.Fatalf("apply: %s", stderr)
	}

	stdout, reqs := runCounted(t, "delete", "--all", "--unenroll", "--namespace-selector", "team="+team, "-o", "json")
	var rep bulk.Report
	if err := json.Unmarshal([]byte(stdout), &rep); err != nil {
		t.Fatal(err)
	}
	if rep.Summary.Counts[bulk.Deleted] != n || rep.Summary.Counts[bulk.Unenrolled] != n || rep.Summary.Failed != 0 {
		t.Errorf("summary %+v", rep.Summary)
	}
	for _, ns := range nss {
		if gatewayExists(t, ns, "waypoint") || nsLabels(t, ns)["istio.io/use-waypoint"] != "" {
			t.Errorf("%s not cleaned up", ns)
		}
	}
	if !gatewayExists(t, outside, "waypoint") {
		t.Errorf("a namespace outside the selector lost its waypoint")
	}
	// One namespace list, one Gateway list, eight lists of L7 policies
	// (one per kind, for the policy check), five lists of enrolled
	// resources, and per namespace a delete and a label patch.
	if len(reqs) > 15+2*n {
		t.Errorf("%d requests for %d namespaces: %v", len(reqs), n, reqs)
	}

	// Human output ends with a summary line; named waypoints in several
	// namespaces are reported per namespace.
	stdout, stderr, code := runKube(t, "delete", "waypoint", "-n", nss[0]+","+outside)
	if code != 1 || !strings.Contains(stderr, "waypoint "+nss[0]+"/waypoint not found") || !strings.Contains(stdout, "waypoint "+outside+"/waypoint deleted") {
		t.Errorf("exit %d, stdout %q, stderr %q", code, stdout, stderr)
	}
	if !strings.HasSuffix(stdout, "2 gateways: 1 deleted, 1 failed; 1 failed\n") {
		t.Errorf("summary line: %q", stdout)
	}
}
