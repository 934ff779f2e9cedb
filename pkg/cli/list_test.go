package cli

import (
	"encoding/json"
	"fmt"
	"strings"
	"testing"

	gatewayv1 "sigs.k8s.io/gateway-api/apis/v1"

	"github.com/kubectl-waypoint/kubectl-waypoint/internal/testenv"
)

func TestListTable(t *testing.T) {
	ns := env.Namespace(t, nil)
	env.Waypoint(t, ns, "b-service", map[string]string{"istio.io/waypoint-for": "service", "istio.io/rev": "canary"})
	env.Waypoint(t, ns, "a-unlabelled", nil)
	env.Waypoint(t, ns, "c-workload", map[string]string{"istio.io/waypoint-for": "workload"})
	agent := testenv.WaypointGateway(ns, "d-agent", map[string]string{"istio.io/waypoint-for": "all"})
	agent.Spec.GatewayClassName = "istio-agentgateway-waypoint"
	env.CreateGateway(t, agent)
	ingress := testenv.WaypointGateway(ns, "ingress", nil)
	ingress.Spec.GatewayClassName = "istio"
	ingress.Spec.Listeners[0] = gatewayv1.Listener{Name: "http", Port: 80, Protocol: gatewayv1.HTTPProtocolType}
	env.CreateGateway(t, ingress)
	env.HoldWaypoint(t, ns, "c-workload")
	env.WaitProgrammed(t, ns, "a-unlabelled")
	env.WaitNotProgrammed(t, ns, "c-workload")
	// No istiod of revision canary runs in the test, so nothing else writes
	// b-service's status: play that istiod.
	env.SetProgrammed(t, ns, "b-service", "10.96.0.7")

	for _, tty := range []bool{false, true} {
		streams, out, errOut := TestStreams(tty)
		code := Execute(NewFactory(streams, "kubectl-waypoint"), []string{"list", "-n", ns, "--kubeconfig", env.Kubeconfig})
		want := `NAME           REVISION   TRAFFIC TYPE   PROGRAMMED
a-unlabelled   default    service        True
b-service      canary     service        True
c-workload     default    workload       False
d-agent        default    all            Unknown
`
		if code != 0 || out.String() != want {
			t.Errorf("tty=%v: exit %d, stderr %q, got:\n%s\nwant:\n%s", tty, code, errOut, out, want)
		}
	}

	stdout, _, _ := runKube(t, "list", "-n", ns, "-o", "wide")
	if !strings.Contains(stdout, "ADDRESS") || !strings.Contains(stdout, "10.96.0.7") || !strings.Contains(stdout, "Same") {
		t.Errorf("-o wide:\n%s", stdout)
	}
	// kubectl's AGE, and one address per cell: istiod gives a-unlabelled
	// its Service's IP and hostname, which made the line too wide to read.
	if header, _, _ := strings.Cut(stdout, "\n"); !strings.HasSuffix(header, " AGE") {
		t.Errorf("-o wide has no AGE column at the end:\n%s", stdout)
	}
	for line := range strings.Lines(stdout) {
		if strings.HasPrefix(line, "a-unlabelled ") && (!strings.Contains(line, " + 1 more ") || strings.Contains(line, ".svc.cluster.local")) {
			t.Errorf("-o wide: a-unlabelled's ADDRESS is not its first address and + 1 more:\n%s", stdout)
		}
	}
	stdout, _, _ = runKube(t, "list", "-n", ns, "-o", "name")
	wantNames := "gateway.gateway.networking.k8s.io/a-unlabelled\ngateway.gateway.networking.k8s.io/b-service\ngateway.gateway.networking.k8s.io/c-workload\ngateway.gateway.networking.k8s.io/d-agent\n"
	if stdout != wantNames {
		t.Errorf("-o name:\n%s", stdout)
	}
	stdout, _, _ = runKube(t, "list", "-n", ns, "-o", "json")
	var list struct {
		Kind  string
		Items []gatewayv1.Gateway
	}
	if err := json.Unmarshal([]byte(stdout), &list); err != nil || list.Kind != "List" || len(list.Items) != 4 {
		t.Errorf("-o json: %v, kind %q, %d items", err, list.Kind, len(list.Items))
	}
}

func TestListTrafficTypeFromGatewayClass(t *testing.T) {
	ns := env.Namespace(t, nil)
	env.GatewayClass(t, "istio-waypoint", map[string]string{"istio.io/waypoint-for": "all"})
	env.Waypoint(t, ns, "from-class", nil)
	env.Waypoint(t, ns, "own-label", map[string]string{"istio.io/waypoint-for": "workload"})
	stdout, _, code := runKube(t, "list", "-n", ns)
	if code != 0 || !strings.Contains(stdout, "from-class   default    all") || !strings.Contains(stdout, "own-label    default    workload") {
		t.Errorf("exit %d:\n%s", code, stdout)
	}
}

func TestListAllNamespacesPaged(t *testing.T) {
	a := env.Namespace(t, nil)
	b := env.Namespace(t, nil)
	for _, ns := range []string{b, a} {
		for i := 0; i < 3; i++ {
			env.Waypoint(t, ns, fmt.Sprintf("wp-%d", i), nil)
			other := testenv.WaypointGateway(ns, fmt.Sprintf("other-%d", i), nil)
			other.Spec.GatewayClassName = "istio"
			env.CreateGateway(t, other)
		}
	}
	// Pages of two Gateways: the waypoints still come out complete and sorted.
	stdout, stderr, code := runKube(t, "list", "-A", "--chunk-size", "2")
	if code != 0 {
		t.Fatalf("exit %d: %s", code, stderr)
	}
	var got []string
	for _, line := range strings.Split(strings.TrimSpace(stdout), "\n")[1:] {
		f := strings.Fields(line)
		if f[0] == a || f[0] == b {
			got = append(got, f[0]+"/"+f[1])
		}
	}
	first, second := a, b
	if b < a {
		first, second = b, a
	}
	want := []string{first + "/wp-0", first + "/wp-1", first + "/wp-2", second + "/wp-0", second + "/wp-1", second + "/wp-2"}
	if strings.Join(got, " ") != strings.Join(want, " ") {
		t.Errorf("got %v, want %v", got, want)
	}
	if f := strings.Fields(strings.SplitN(stdout, "\n", 2)[0]); strings.Join(f, " ") != "NAMESPACE NAME REVISION TRAFFIC TYPE PROGRAMMED" {
		t.Errorf("header: %q", strings.SplitN(stdout, "\n", 2)[0])
	}
}

func TestListEmptyAndBadInput(t *testing.T) {
	ns := env.Namespace(t, nil)
	stdout, stderr, code := runKube(t, "list", "-n", ns)
	if code != 0 || stdout != "" || stderr != "No waypoints found in namespace "+ns+".\n" {
		t.Errorf("exit %d, stdout %q, stderr %q", code, stdout, stderr)
	}
	_, stderr, code = runKube(t, "list", "-o", "table")
	if code != ExitUsage || !strings.Contains(stderr, `"table"`) {
		t.Errorf("exit %d, stderr %q", code, stderr)
	}
}
