package cli

import (
	"encoding/json"
	"maps"
	"testing"

	"github.com/kubectl-waypoint/kubectl-waypoint/internal/faultproxy"
	"github.com/kubectl-waypoint/kubectl-waypoint/pkg/bulk"
	"github.com/kubectl-waypoint/kubectl-waypoint/pkg/istio"
)

// TestEnrollLostAnswerIsEnrolled: a label write whose answer is lost after
// the server made it, as a 5xx with Retry-After (which client-go would
// retry on its own, meeting a conflict), is reported as the write it was:
// enrolled, never unchanged, with before and after as the cluster held
// them. Judged by reading each namespace back.
func TestEnrollLostAnswerIsEnrolled(t *testing.T) {
	namespaces, p, kc := lostAnswers(t, faultproxy.Profile{Name: "5xx-after, Retry-After", ErrorAfter: 0.3, RetryAfter: true}, 11)
	args := append(append([]string{"enroll", "namespace"}, namespaces...),
		"--waypoint", "waypoint", "--concurrency", "1", "-o", "json", "--kubeconfig", kc)
	stdout, stderr, code := run(t, false, args...)
	var rep bulk.Report
	if err := json.Unmarshal([]byte(stdout), &rep); err != nil {
		t.Fatalf("exit %d, %v: %s %s", code, err, stdout, stderr)
	}
	if p.Counts().ErrorsAfter == 0 {
		t.Fatal("no answer was lost: the test proves nothing")
	}
	if len(rep.Records) != len(namespaces) {
		t.Errorf("%d records for %d namespaces", len(rep.Records), len(namespaces))
	}
	for _, r := range rep.Records {
		if r.Action == bulk.Failed {
			continue // the report says so; judged below by the exit code
		}
		held := nsLabels(t, r.Name)
		if held[istio.LabelUseWaypoint] != "waypoint" {
			t.Errorf("%s: not enrolled in the cluster", r.Name)
		}
		if r.Action != bulk.Enrolled || len(r.Before) != 0 || r.After[istio.LabelUseWaypoint] != "waypoint" {
			t.Errorf("%s: %s, before %v, after %v; want enrolled from no label", r.Name, r.Action, r.Before, r.After)
		}
		if !maps.Equal(r.After, map[string]string{istio.LabelUseWaypoint: "waypoint"}) {
			t.Errorf("%s: after %v", r.Name, r.After)
		}
	}
	if code != 0 {
		t.Errorf("exit %d: %s", code, stderr)
	}
}
