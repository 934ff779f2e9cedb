package cli

import (
	"strings"
	"testing"
)

// TestEnrollRefusesToUnbind: an enrollment that would move an object that
// a waypoint serves now to a waypoint that does not exist is refused
// (exit 2, nothing written), with the namespace of a waypoint of that name
// that would take it ("did you mean --waypoint-namespace ..."); --force
// insists. An object that uses no waypoint may still be enrolled ahead of
// its waypoint, with a warning. Judged by the labels in the API server.
func TestEnrollRefusesToUnbind(t *testing.T) {
	infra := env.Namespace(t, nil)
	consumer := env.Namespace(t, nil)
	if _, stderr, code := runKube(t, "apply", "-n", infra, "--name", "egress-gateway", "--allow-namespace", consumer, "--wait", "--timeout", "60s"); code != 0 {
		t.Fatalf("apply: %s", stderr)
	}
	bound := map[string]string{"istio.io/use-waypoint": "egress-gateway", "istio.io/use-waypoint-namespace": infra}
	env.Service(t, consumer, "istio-site", bound)
	env.Service(t, consumer, "fresh", nil)

	_, stderr, code := runKube(t, "enroll", "service", "istio-site", "-n", consumer, "--waypoint", "egress-gateway")
	if code != ExitUsage || strings.Count(stderr, "\n") != 1 || !strings.Contains(stderr, "(did you mean --waypoint-namespace "+infra+"?)") || !strings.Contains(stderr, "--force") {
		t.Errorf("exit %d, stderr %q", code, stderr)
	}
	if got := enrollment(t, "service", consumer, "istio-site"); got != "egress-gateway "+infra {
		t.Errorf("a refused enroll changed the labels: %q", got)
	}
	// Enrolling ahead of a waypoint is still allowed for what uses none.
	if _, stderr, code := runKube(t, "enroll", "service", "fresh", "-n", consumer, "--waypoint", "egress-gateway"); code != 0 || !strings.Contains(stderr, "does not exist yet") {
		t.Errorf("enroll ahead: exit %d, stderr %q", code, stderr)
	}
	if got := enrollment(t, "service", consumer, "fresh"); got != "egress-gateway -" {
		t.Errorf("service fresh %q", got)
	}
	// --force insists.
	if _, stderr, code := runKube(t, "enroll", "service", "istio-site", "-n", consumer, "--waypoint", "egress-gateway", "--force"); code != 0 {
		t.Errorf("--force: exit %d, stderr %q", code, stderr)
	}
	if got := enrollment(t, "service", consumer, "istio-site"); got != "egress-gateway -" {
		t.Errorf("--force: labels %q", got)
	}
}
