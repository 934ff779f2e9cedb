package cli

import (
	"encoding/json"
	"fmt"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/kubectl-waypoint/kubectl-waypoint/pkg/bulk"
)

// TestEnrollManyNamespaces enrolls the service of three namespaces picked by
// a label selector, unenrolls them by a list of namespaces, then again: after
// each step it reads every service and namespace back from the API server,
// the services it was not asked about too.
func TestEnrollManyNamespaces(t *testing.T) {
	team := fmt.Sprintf("enr-%d", time.Now().UnixNano())
	var nss []string
	for i := 0; i < 3; i++ {
		ns := env.Namespace(t, map[string]string{"team": team, "istio.io/dataplane-mode": "ambient"})
		env.Waypoint(t, ns, "waypoint", nil)
		env.Service(t, ns, "reviews", map[string]string{"app": "reviews"})
		// Enrolled already, and matched by neither the name nor the
		// selector below: left as it is.
		env.Service(t, ns, "ratings", map[string]string{"app": "ratings", useWaypoint: "waypoint"})
		nss = append(nss, ns)
	}
	// cluster checks the enrollment (its two labels, "-" when unset) of
	// every reviews service, and that its app label, the ratings service
	// and the namespace are as they were: the tool writes nothing else.
	cluster := func(step, want string) {
		t.Helper()
		for _, ns := range nss {
			if got := enrollment(t, "service", ns, "reviews"); got != want {
				t.Errorf("%s: service %s/reviews has enrollment %q in the cluster, want %q", step, ns, got, want)
			}
			if got := labelsOf(t, "service", ns, "reviews")["app"]; got != "reviews" {
				t.Errorf("%s: service %s/reviews lost its app label (%q)", step, ns, got)
			}
			if got := enrollment(t, "service", ns, "ratings"); got != "waypoint -" {
				t.Errorf("%s: service %s/ratings, not asked about, has enrollment %q, want \"waypoint -\"", step, ns, got)
			}
			if got := enrollment(t, "namespace", "", ns); got != "- -" {
				t.Errorf("%s: namespace %s has enrollment %q, want none", step, ns, got)
			}
		}
	}

	stdout, stderr, code := runKube(t, "enroll", "service", "reviews", "--waypoint", "waypoint", "--namespace-selector", "team="+team)
	if code != 0 {
		t.Fatalf("exit %d: %s", code, stderr)
	}
	cluster("enroll", "waypoint -")
	// Written side by side, told in the report's order.
	sorted := slices.Sorted(slices.Values(nss))
	var want strings.Builder
	for _, ns := range sorted {
		fmt.Fprintf(&want, "service %s/reviews enrolled in waypoint %s/waypoint\n", ns, ns)
	}
	if !strings.HasPrefix(stdout, want.String()) {
		t.Errorf("lines, in order:\n%s\nwant first:\n%s", stdout, want.String())
	}
	if !strings.HasSuffix(stdout, "3 services: 3 enrolled; 0 failed\n") {
		t.Errorf("summary line:\n%s", stdout)
	}

	// Unenroll them in the same way, with a report; then again, unchanged.
	stdout, _, code = runKube(t, "unenroll", "svc", "-l", "app=reviews", "-n", strings.Join(nss, ","), "-o", "yaml")
	if code != 0 || !strings.Contains(stdout, "unenrolled: 3") {
		t.Fatalf("exit %d:\n%s", code, stdout)
	}
	cluster("unenroll", "- -")
	stdout, _, code = runKube(t, "unenroll", "svc", "-l", "app=reviews", "--namespace-selector", "team="+team, "-o", "json")
	var rep bulk.Report
	if err := json.Unmarshal([]byte(stdout), &rep); err != nil || code != 0 || rep.Summary.Counts[bulk.Unchanged] != 3 {
		t.Errorf("re-run: exit %d, %v %+v", code, err, rep.Summary)
	}
	cluster("unenroll again", "- -")
}
