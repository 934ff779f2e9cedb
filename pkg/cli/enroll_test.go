package cli

import (
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	rbacv1 "k8s.io/api/rbac/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/kubectl-waypoint/kubectl-waypoint/internal/testenv"
	"github.com/kubectl-waypoint/kubectl-waypoint/pkg/bulk"
	"github.com/kubectl-waypoint/kubectl-waypoint/pkg/enroll"
	"github.com/kubectl-waypoint/kubectl-waypoint/pkg/kube"
)

// TestUnitEnrollUsageErrors: bad input is refused with exit 2 before any
// kubeconfig is read or request sent (no --kubeconfig is given here).
func TestUnitEnrollUsageErrors(t *testing.T) {
	cases := []struct {
		args []string
		want string
	}{
		{[]string{"enroll"}, "name the kind to enroll"},
		{[]string{"enroll", "deployment", "x", "--waypoint", "w"}, `cannot enroll "deployment"`},
		{[]string{"unenroll", "deployment", "x"}, `cannot unenroll "deployment"`},
		{[]string{"enroll", "svc", "reviews"}, "--waypoint is required"},
		{[]string{"enroll", "svc", "--waypoint", "w"}, "name the services to enroll, or select them with -l"},
		{[]string{"enroll", "svc", "a", "-l", "app=a", "--waypoint", "w"}, "either name the services or select them with -l, not both"},
		{[]string{"enroll", "po", "-l", "app in (", "--waypoint", "w"}, `invalid --selector "app in ("`},
		{[]string{"enroll", "svc", "a", "--waypoint", "Bad_Name"}, `invalid --waypoint "Bad_Name"`},
		{[]string{"enroll", "svc", "a", "--waypoint", "none", "--waypoint-namespace", "x"}, "--waypoint-namespace makes no sense with --waypoint none"},
		{[]string{"enroll", "svc", "a", "--waypoint", "w", "--waypoint-namespace", "X_Y"}, `invalid --waypoint-namespace "X_Y"`},
		{[]string{"enroll", "svc", "a", "--waypoint", "w", "-o", "wide"}, `unknown output format "wide": must be one of yaml, json`},
		{[]string{"enroll", "svc", "a", "--waypoint", "w", "--concurrency", "0"}, `invalid --concurrency 0`},
		{[]string{"unenroll", "ns", "--namespace-selector", "a in ("}, `invalid --namespace-selector`},
		{[]string{"enroll", "svc", "a", "--waypoint", "w", "--dry-run=maybe"}, `invalid --dry-run "maybe"`},
		{[]string{"enroll", "svc", "UPPER", "--waypoint", "w"}, `invalid service name "UPPER"`},
		{[]string{"unenroll", "po"}, "name the pods to unenroll"},
		{[]string{"unenroll", "po", "a", "--waypoint", "w"}, "unknown flag: --waypoint"},
		{[]string{"explain"}, "name what to explain"},
		{[]string{"explain", "deployment", "x"}, `cannot explain "deployment"`},
		{[]string{"explain", "service"}, "name the service to explain"},
		{[]string{"explain", "waypoint"}, "name the waypoint to explain"},
		{[]string{"explain", "svc", "a", "b"}, "explain takes one kind and one name"},
		{[]string{"explain", "svc", "a", "-o", "wide"}, `unknown output format "wide": must be one of yaml, json`},
		{[]string{"enroll", "pod", "a", "--waypoint", "w", "--ingress"}, "--ingress applies to services, ServiceEntries and namespaces"},
		{[]string{"unenroll", "we", "a", "--ingress"}, "--ingress applies to services, ServiceEntries and namespaces"},
		{[]string{"enroll", "svc", "a", "--waypoint", "none", "--ingress"}, "--ingress makes no sense with --waypoint none"},
	}
	for _, tc := range cases {
		t.Run(strings.Join(tc.args, " "), func(t *testing.T) {
			for _, tty := range []bool{false, true} {
				stdout, stderr, code := run(t, tty, append(tc.args, "--kubeconfig", "/nonexistent")...)
				if code != ExitUsage || stdout != "" || !strings.Contains(stderr, tc.want) || strings.Count(stderr, "\n") != 1 {
					t.Errorf("tty=%v: exit %d, stdout %q, stderr %q; want exit 2 and %q", tty, code, stdout, stderr, tc.want)
				}
				if !tty && strings.Contains(stderr, "\x1b[") {
					t.Errorf("colour in a pipe: %q", stderr)
				}
			}
		})
	}
}

func TestUnitFixCommands(t *testing.T) {
	for _, tc := range []struct {
		args applyArgs
		want string
	}{
		{applyArgs{namespace: "common-infrastructure", name: "egress-gateway", allowNamespaces: []string{"cross-namespace-waypoint-consumer"}},
			"kubectl-waypoint apply -n common-infrastructure --name egress-gateway --allow-namespace cross-namespace-waypoint-consumer"},
		{applyArgs{namespace: "default", name: "waypoint", forType: "all", revision: "canary", allowAll: true},
			"kubectl-waypoint apply -n default --for all -r canary --allow-all-namespaces"},
		{applyArgs{namespace: "infra", name: "w", allowSelector: "team in (a,b)"},
			"kubectl-waypoint apply -n infra --name w --allow-namespace-selector 'team in (a,b)'"},
		{applyArgs{namespace: "infra", name: "w", allowNamespaces: []string{"a", "b"}},
			"kubectl-waypoint apply -n infra --name w --allow-namespace a --allow-namespace b"},
	} {
		if got := formatApply("kubectl-waypoint", tc.args); got != tc.want {
			t.Errorf("got  %s\nwant %s", got, tc.want)
		}
	}
	if got := labelNamespaceCommand([]string{"a"}, map[string]string{"team": "x", "tier": "it's"}); got != `kubectl label namespace a team=x 'tier=it'\''s'` {
		t.Errorf("label command: %s", got)
	}
}

// noIstioServer is an API server with namespaces but without the Istio CRDs.
func noIstioServer(t *testing.T) string {
	t.Helper()
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		if r.URL.Path == "/api/v1/namespaces/default" {
			_ = json.NewEncoder(w).Encode(map[string]any{"apiVersion": "v1", "kind": "Namespace", "metadata": map[string]any{"name": "default"}})
			return
		}
		w.WriteHeader(http.StatusNotFound)
		_ = json.NewEncoder(w).Encode(metav1.Status{
			TypeMeta: metav1.TypeMeta{Kind: "Status", APIVersion: "v1"},
			Status:   metav1.StatusFailure, Reason: metav1.StatusReasonNotFound, Code: http.StatusNotFound,
			Message: "the server could not find the requested resource",
		})
	}))
	t.Cleanup(srv.Close)
	return srv.URL
}

func TestUnitServiceEntriesWithoutIstioCRDs(t *testing.T) {
	url := noIstioServer(t)
	for _, args := range [][]string{
		{"enroll", "se", "istio-site", "--waypoint", "w"},
		{"enroll", "se", "-l", "app=x", "--waypoint", "w"},
		{"unenroll", "se", "istio-site"},
		{"explain", "se", "istio-site"},
	} {
		_, stderr, code := run(t, false, append(args, "-n", "default", "--server", url)...)
		if code != ExitFailed || !strings.Contains(stderr, "the Istio CRDs are not installed") || strings.Count(stderr, "\n") != 1 {
			t.Errorf("%v: exit %d, stderr %q", args, code, stderr)
		}
	}
}

func TestEnrollForbidden(t *testing.T) {
	t.Parallel()
	ns := env.Namespace(t, testenv.AmbientLabels())
	env.Service(t, ns, "reviews", nil)
	env.Waypoint(t, ns, "waypoint", nil)
	// May read services and namespaces, not patch them.
	kc := env.UserWithRole(t, "enroll-reader", []rbacv1.PolicyRule{
		{APIGroups: []string{""}, Resources: []string{"services", "namespaces"}, Verbs: []string{"get", "list"}},
		{APIGroups: []string{"gateway.networking.k8s.io"}, Resources: []string{"gateways"}, Verbs: []string{"get"}},
	}, ns)
	// GatewayClasses are cluster-scoped (without them, a warning).
	env.UserWithRole(t, "enroll-reader", []rbacv1.PolicyRule{
		{APIGroups: []string{"gateway.networking.k8s.io"}, Resources: []string{"gatewayclasses"}, Verbs: []string{"get"}},
	}, "")
	// The policy check, which this user may not make, refuses the write:
	// one line naming the permission and --force, and no request to patch.
	_, stderr, code := run(t, false, "enroll", "svc", "reviews", "--waypoint", "waypoint", "-n", ns, "--kubeconfig", kc)
	if code != ExitUsage || strings.Count(stderr, "\n") != 1 || !strings.Contains(stderr, `cannot list resource "authorizationpolicies"`) || !strings.Contains(stderr, "add --force to enroll without the check") {
		t.Fatalf("exit %d, stderr %q", code, stderr)
	}
	// With --force the patch is tried: one line, the fault itself; no
	// summary line repeats it.
	_, stderr, code = run(t, false, "enroll", "svc", "reviews", "--waypoint", "waypoint", "-n", ns, "--force", "--kubeconfig", kc)
	_, errs, _ := strings.Cut(stderr, "error:")
	if code != ExitFailed || !strings.Contains(errs, "forbidden") || strings.Count(errs, "\n") != 1 || !strings.Contains(stderr, "Warning: cannot check which L7 policies") {
		t.Fatalf("--force: exit %d, stderr %q", code, stderr)
	}
	if got := enrollment(t, "service", ns, "reviews"); got != "- -" {
		t.Errorf("service reviews %q", got)
	}
}

// TestEnrollRequests pins the requests of an enrollment: one read of the
// namespace, one of the object, one of the waypoint and one of its
// GatewayClass, one list per L7 policy kind (the policy check), one patch; and only the first two when nothing changes (no
// write, so nothing to check).
func TestEnrollRequests(t *testing.T) {
	ns := env.Namespace(t, testenv.AmbientLabels())
	env.Service(t, ns, "reviews", nil)
	env.Waypoint(t, ns, "waypoint", map[string]string{"istio.io/waypoint-for": "service"})
	_, reqs := runCounted(t, "enroll", "svc", "reviews", "--waypoint", "waypoint", "-n", ns)
	// The policy check adds one list per L7 policy kind across the cluster.
	if want := "GET authorizationpolicies,GET grpcroutes,GET httproutes,GET istio-waypoint,GET requestauthentications,GET reviews,GET tcproutes,GET telemetries,GET " + ns +
		",GET tlsroutes,GET wasmplugins,GET waypoint,PATCH reviews"; strings.Join(reqs, ",") != want {
		t.Errorf("enroll made %v, want %s", reqs, want)
	}
	_, reqs = runCounted(t, "enroll", "svc", "reviews", "--waypoint", "waypoint", "-n", ns)
	if want := "GET reviews,GET " + ns; strings.Join(reqs, ",") != want {
		t.Errorf("re-enroll made %v, want %s", reqs, want)
	}
	_, reqs = runCounted(t, "list", "-n", ns, "-o", "wide")
	// One list of Gateways, their class, one labelled list per enrollable
	// kind, and the three lists of what runs (Deployments, autoscalers,
	// budgets: the REPLICAS, AUTOSCALE and BUDGET columns).
	if want := "GET deployments,GET gateways,GET horizontalpodautoscalers,GET istio-waypoint,GET namespaces,GET poddisruptionbudgets,GET pods,GET serviceentries,GET services,GET workloadentries"; strings.Join(reqs, ",") != want {
		t.Errorf("list -o wide made %v, want %s", reqs, want)
	}
}

func TestUnitCountsString(t *testing.T) {
	if got := (enroll.Counts{Namespaces: 1, Services: 2}).String(); got != "ns:1 svc:2 po:0 se:0" {
		t.Errorf("got %q", got)
	}
}

// TestUnitEnrollReportReadsLabels: the lines of enroll and unenroll name
// the waypoint as istiod reads the labels (enroll.Use). A label with an
// empty use-waypoint-namespace named waypoint NS/NAME in them; it names
// "NAME" in namespace "", and an empty use-waypoint is a label that was
// there (it read as "unlabeled istio.io/use-waypoint-namespace").
func TestUnitEnrollReportReadsLabels(t *testing.T) {
	for _, tc := range []struct {
		unenroll      bool
		before, after map[string]string
		want          string
	}{
		{true, map[string]string{"istio.io/use-waypoint": "wp"}, nil, "service app/reviews unenrolled from waypoint app/wp\n"},
		{true, map[string]string{"istio.io/use-waypoint": "wp", "istio.io/use-waypoint-namespace": "infra"}, nil, "service app/reviews unenrolled from waypoint infra/wp\n"},
		{true, map[string]string{"istio.io/use-waypoint": "wp", "istio.io/use-waypoint-namespace": ""}, nil, `service app/reviews unenrolled from waypoint "wp" in namespace ""` + "\n"},
		{true, map[string]string{"istio.io/use-waypoint": ""}, nil, `service app/reviews unenrolled from waypoint "" in namespace "app"` + "\n"},
		{true, map[string]string{"istio.io/use-waypoint": "none"}, nil, "service app/reviews no longer opts out of waypoints\n"},
		{true, map[string]string{"istio.io/use-waypoint-namespace": "infra"}, nil, `service app/reviews unlabeled "istio.io/use-waypoint-namespace"` + "\n"},
		{false, nil, map[string]string{"istio.io/use-waypoint": "wp"}, "service app/reviews enrolled in waypoint app/wp\n"},
		{false, nil, map[string]string{"istio.io/use-waypoint": "wp", "istio.io/use-waypoint-namespace": "infra"}, "service app/reviews enrolled in waypoint infra/wp\n"},
		{false, nil, map[string]string{"istio.io/use-waypoint": "none"}, `service app/reviews opted out of waypoints ("istio.io/use-waypoint: none")` + "\n"},
	} {
		io, out, _ := TestStreams(false)
		o := &EnrollOptions{IO: io, Unenroll: tc.unenroll}
		action := bulk.Enrolled
		if tc.unenroll {
			action = bulk.Unenrolled
		}
		o.report(bulk.Record{Ref: kube.Ref{Kind: "Service", Namespace: "app", Name: "reviews"}, Before: tc.before, After: tc.after, Action: action})
		if out.String() != tc.want {
			t.Errorf("%v -> %v: %q, want %q", tc.before, tc.after, out.String(), tc.want)
		}
	}
}
