package cli

import (
	"encoding/json"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/kubectl-waypoint/kubectl-waypoint/pkg/bulk"
)

func TestEnrollManyNamespaces(t *testing.T) {
	team := fmt.Sprintf("enr-%d", time.Now().UnixNano())
	var nss []string
	for i := 0; i < 3; i++ {
		ns := env.Namespace(t, map[string]string{"team": team, "istio.io/dataplane-mode": "ambient"})
		env.Waypoint(t, ns, "waypoint", nil)
		env.Service(t, ns, "reviews", map[string]string{"app": "reviews"})
		nss = append(nss, ns)
	}
	stdout, stderr, code := runKube(t, "enroll", "service", "reviews", "--waypoint", "waypoint", "--namespace-selector", "team="+team)
	if code != 0 {
		t.Fatalf("exit %d: %s", code, stderr)
	}
	for _, ns := range nss {
		if !strings.Contains(stdout, "service "+ns+"/reviews enrolled in waypoint "+ns+"/waypoint\n") {
			t.Errorf("no line for %s:\n%s", ns, stdout)
		}
	}
	if !strings.HasSuffix(stdout, "3 services: 3 enrolled; 0 failed\n") {
		t.Errorf("summary line:\n%s", stdout)
	}
	// Unenroll them in the same way, with a report; then again, unchanged.
	stdout, _, code = runKube(t, "unenroll", "svc", "-l", "app=reviews", "-n", strings.Join(nss, ","), "-o", "yaml")
	if code != 0 || !strings.Contains(stdout, "unenrolled: 3") {
		t.Fatalf("exit %d:\n%s", code, stdout)
	}
	stdout, _, _ = runKube(t, "unenroll", "svc", "-l", "app=reviews", "--namespace-selector", "team="+team, "-o", "json")
	var rep bulk.Report
	if err := json.Unmarshal([]byte(stdout), &rep); err != nil || rep.Summary.Counts[bulk.Unchanged] != 3 {
		t.Errorf("re-run: %v %+v", err, rep.Summary)
	}
}
