package cli

import (
	"context"
	"strings"
	"testing"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/kubectl-waypoint/kubectl-waypoint/internal/testenv"
)

// TestApplyGuardsUsers: re-applying the docs' egress-gateway without
// --allow-namespace would cut off the ServiceEntry that uses it; apply
// refuses, names it, and changes nothing, unless --force.
func TestApplyGuardsUsers(t *testing.T) {
	t.Parallel()
	infra := env.Namespace(t, testenv.AmbientLabels())
	consumer := env.Namespace(t, testenv.AmbientLabels())
	mustRun(t, 0, "apply", "-n", infra, "--name", "egress-gateway", "--allow-namespace", consumer)
	env.SetProgrammed(t, infra, "egress-gateway", "10.96.0.70")
	env.ServiceEntry(t, consumer, "istio-site", nil)
	mustRun(t, 0, "enroll", "se", "istio-site", "-n", consumer, "--waypoint", "egress-gateway", "--waypoint-namespace", infra)

	allowedFrom := func() string {
		gw, err := env.Gateway.GatewayV1().Gateways(infra).Get(context.Background(), "egress-gateway", metav1.GetOptions{})
		if err != nil {
			t.Fatal(err)
		}
		ns := gw.Spec.Listeners[0].AllowedRoutes
		if ns == nil || ns.Namespaces == nil || ns.Namespaces.From == nil {
			return "Same"
		}
		return string(*ns.Namespaces.From)
	}

	for _, tc := range []struct {
		name string
		args []string
		want []string
	}{
		{"allowed namespaces that leave the consumer out", nil,
			[]string{"serviceentry " + consumer + "/istio-site would lose waypoint " + infra + "/egress-gateway", "(AttachmentDenied)", "--force"}},
		{"a traffic type the ServiceEntry does not fit", []string{"--allow-namespace", consumer, "--for", "workload"},
			[]string{"serviceentry " + consumer + "/istio-site would lose waypoint", "(UnsupportedTrafficType)"}},
		{"a server dry run is guarded too", []string{"--dry-run=server"}, []string{"(AttachmentDenied)"}},
	} {
		args := append([]string{"apply", "-n", infra, "--name", "egress-gateway"}, tc.args...)
		_, stderr, code := runKube(t, args...)
		if code != ExitUsage {
			t.Errorf("%s: exit %d, want %d; stderr %q", tc.name, code, ExitUsage, stderr)
		}
		for _, w := range tc.want {
			if !strings.Contains(stderr, w) {
				t.Errorf("%s: stderr lacks %q:\n%s", tc.name, w, stderr)
			}
		}
		if got := allowedFrom(); got != "Selector" {
			t.Fatalf("%s: a refused apply changed the Gateway: from %s", tc.name, got)
		}
	}

	// Changes that keep every user bound go through: the same flags, and
	// a wider admission.
	mustRun(t, 0, "apply", "-n", infra, "--name", "egress-gateway", "--allow-namespace", consumer)
	mustRun(t, 0, "apply", "-n", infra, "--name", "egress-gateway", "--allow-all-namespaces", "--for", "all")
	if got := allowedFrom(); got != "All" {
		t.Fatalf("from %s, want All", got)
	}

	// --force applies anyway, with a warning naming the user.
	_, stderr := mustRun(t, 0, "apply", "-n", infra, "--name", "egress-gateway", "--force")
	if !strings.Contains(stderr, "Warning: serviceentry "+consumer+"/istio-site would lose waypoint "+infra+"/egress-gateway") {
		t.Errorf("--force: stderr %q", stderr)
	}
	if got := allowedFrom(); got != "Same" {
		t.Errorf("--force: from %s, want Same", got)
	}
}
