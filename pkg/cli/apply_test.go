package cli

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"reflect"
	"strings"
	"sync"
	"testing"
	"time"

	rbacv1 "k8s.io/api/rbac/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/apimachinery/pkg/util/wait"
	"k8s.io/client-go/rest"
	gatewayv1 "sigs.k8s.io/gateway-api/apis/v1"
	"sigs.k8s.io/yaml"

	"github.com/kubectl-waypoint/kubectl-waypoint/internal/testenv"
	"github.com/kubectl-waypoint/kubectl-waypoint/pkg/kube"
)

func getGateway(t *testing.T, ns, name string) (*gatewayv1.Gateway, error) {
	t.Helper()
	return env.Gateway.GatewayV1().Gateways(ns).Get(context.Background(), name, metav1.GetOptions{})
}

func nsLabels(t *testing.T, ns string) map[string]string {
	t.Helper()
	obj, err := env.Kube.CoreV1().Namespaces().Get(context.Background(), ns, metav1.GetOptions{})
	if err != nil {
		t.Fatal(err)
	}
	return obj.Labels
}

func TestApplyIsWhatGenerateRenders(t *testing.T) {
	ns := env.Namespace(t, nil)
	for _, flags := range [][]string{
		{},
		{"--name", "reviews-svc-waypoint"},
		{"--name", "pods", "--for", "workload", "-r", "canary"},
		{"--name", "shared", "--allow-namespace", "a,b"},
		{"--name", "selected", "--allow-namespace-selector", "team in (x,y)"},
		{"--name", "everyone", "--allow-all-namespaces", "--for", "all"},
	} {
		t.Run(strings.Join(flags, " "), func(t *testing.T) {
			gen, _, code := run(t, false, append([]string{"generate", "-n", ns}, flags...)...)
			if code != 0 {
				t.Fatalf("generate exit %d", code)
			}
			var want gatewayv1.Gateway
			if err := yaml.Unmarshal([]byte(gen), &want); err != nil {
				t.Fatal(err)
			}
			// What the server makes of generate's output, defaults included.
			wantServer, err := env.Gateway.GatewayV1().Gateways(ns).Create(context.Background(), &want,
				metav1.CreateOptions{DryRun: []string{metav1.DryRunAll}})
			if err != nil {
				t.Fatalf("generate's output is refused by the server: %v", err)
			}
			stdout, stderr, code := runKube(t, append([]string{"apply", "-n", ns}, flags...)...)
			if code != 0 {
				t.Fatalf("apply exit %d: %s", code, stderr)
			}
			if wantLine := fmt.Sprintf("waypoint %s/%s applied\n", ns, want.Name); stdout != wantLine {
				t.Errorf("stdout %q, want %q", stdout, wantLine)
			}
			got, err := getGateway(t, ns, want.Name)
			if err != nil {
				t.Fatal(err)
			}
			if !reflect.DeepEqual(got.Labels, wantServer.Labels) || !reflect.DeepEqual(got.Spec, wantServer.Spec) {
				t.Errorf("applied object differs from generate:\napplied labels %v spec %+v\ngenerated labels %v spec %+v", got.Labels, got.Spec, want.Labels, want.Spec)
			}
			managers := []string{}
			for _, mf := range got.ManagedFields {
				managers = append(managers, mf.Manager+"/"+string(mf.Operation))
			}
			if !strings.Contains(strings.Join(managers, ","), "kubectl-waypoint/Apply") {
				t.Errorf("field managers %v lack kubectl-waypoint/Apply", managers)
			}
			// istiod writes the status; from then on, applying the same flags
			// again changes nothing. (Before any status write, the API server
			// stores the CRD's status defaults once, on the first update.)
			if want.Labels["istio.io/rev"] != "" {
				// No istiod of that revision runs in the test: play it.
				got = env.SetProgrammed(t, ns, want.Name, "10.96.0.1")
			} else {
				got = env.WaitProgrammed(t, ns, want.Name)
			}
			if _, stderr, code := runKube(t, append([]string{"apply", "-n", ns}, flags...)...); code != 0 {
				t.Fatalf("re-apply exit %d: %s", code, stderr)
			}
			again, _ := getGateway(t, ns, want.Name)
			if again.ResourceVersion != got.ResourceVersion {
				t.Errorf("re-apply changed resourceVersion %s -> %s", got.ResourceVersion, again.ResourceVersion)
			}
		})
	}
}

func TestApplyDryRun(t *testing.T) {
	ns := env.Namespace(t, nil)
	stdout, _, code := runKube(t, "apply", "-n", ns, "--dry-run=client", "--for", "service")
	if code != 0 || !strings.Contains(stdout, "kind: Gateway") || !strings.Contains(stdout, "namespace: "+ns) {
		t.Fatalf("client dry run: exit %d, stdout %q", code, stdout)
	}
	stdout, stderr, code := runKube(t, "apply", "-n", ns, "--dry-run=server")
	if code != 0 || stdout != fmt.Sprintf("waypoint %s/waypoint applied (server dry run)\n", ns) {
		t.Fatalf("server dry run: exit %d, stdout %q, stderr %q", code, stdout, stderr)
	}
	if _, err := getGateway(t, ns, "waypoint"); !apierrors.IsNotFound(err) {
		t.Fatalf("a dry run created the Gateway: %v", err)
	}
	// A server dry run is checked by the server: a bad object is refused.
	_, stderr, code = runKube(t, "apply", "-n", "no-such-namespace-x", "--dry-run=server")
	if code != 1 || !strings.Contains(stderr, `namespace "no-such-namespace-x" not found`) {
		t.Fatalf("server dry run into missing namespace: exit %d, stderr %q", code, stderr)
	}
}

func TestApplyEnrollNamespace(t *testing.T) {
	t.Run("seed lines and warning for a namespace not in ambient mode", func(t *testing.T) {
		ns := env.Namespace(t, nil)
		stdout, stderr, code := runKube(t, "apply", "-n", ns, "--enroll-namespace")
		want := fmt.Sprintf("waypoint %[1]s/waypoint applied\nnamespace %[1]s labeled with \"istio.io/use-waypoint: waypoint\"\n", ns)
		if code != 0 || stdout != want {
			t.Fatalf("exit %d, stdout %q, want %q", code, stdout, want)
		}
		if !strings.Contains(stderr, "kubectl label namespace "+ns+" istio.io/dataplane-mode=ambient") {
			t.Errorf("want the ambient warning with its fix, got %q", stderr)
		}
		if got := nsLabels(t, ns)["istio.io/use-waypoint"]; got != "waypoint" {
			t.Errorf("namespace label %q", got)
		}
	})
	t.Run("ambient namespace gets no warning; stale waypoint namespace removed", func(t *testing.T) {
		ns := env.Namespace(t, testenv.AmbientLabels())
		// The same waypoint, named with a redundant namespace label.
		patch := fmt.Sprintf(`{"metadata":{"labels":{"istio.io/use-waypoint":"waypoint","istio.io/use-waypoint-namespace":%q}}}`, ns)
		if _, err := env.Kube.CoreV1().Namespaces().Patch(context.Background(), ns, types.MergePatchType, []byte(patch), metav1.PatchOptions{}); err != nil {
			t.Fatal(err)
		}
		stdout, stderr, code := runKube(t, "apply", "-n", ns, "--enroll-namespace")
		stderr = withoutClassWarning(stderr)
		if code != 0 || stderr != "" || !strings.Contains(stdout, "labeled with") {
			t.Fatalf("exit %d, stdout %q, stderr %q", code, stdout, stderr)
		}
		if l := nsLabels(t, ns); l["istio.io/use-waypoint"] != "waypoint" || l["istio.io/use-waypoint-namespace"] != "" {
			t.Errorf("labels %v", l)
		}
	})
	t.Run("another waypoint without --overwrite writes nothing", func(t *testing.T) {
		ns := env.Namespace(t, map[string]string{"istio.io/use-waypoint": "old", "team": "a"})
		stdout, stderr, code := runKube(t, "apply", "-n", ns, "--name", "new", "--enroll-namespace")
		if code != ExitUsage || stdout != "" {
			t.Fatalf("exit %d, stdout %q", code, stdout)
		}
		for _, w := range []string{ns + "/old", "--overwrite"} {
			if !strings.Contains(stderr, w) {
				t.Errorf("stderr %q lacks %q", stderr, w)
			}
		}
		if _, err := getGateway(t, ns, "new"); !apierrors.IsNotFound(err) {
			t.Errorf("the Gateway was applied although enrollment was refused: %v", err)
		}
		stdout, _, code = runKube(t, "apply", "-n", ns, "--name", "new", "--enroll-namespace", "--overwrite")
		if code != 0 || !strings.Contains(stdout, `labeled with "istio.io/use-waypoint: new"`) {
			t.Fatalf("--overwrite: exit %d, stdout %q", code, stdout)
		}
		if l := nsLabels(t, ns); l["istio.io/use-waypoint"] != "new" || l["team"] != "a" {
			t.Errorf("labels after --overwrite: %v", l)
		}
	})
	t.Run("re-running changes nothing", func(t *testing.T) {
		ns := env.Namespace(t, testenv.AmbientLabels())
		runKube(t, "apply", "-n", ns, "--enroll-namespace")
		before, _ := env.Kube.CoreV1().Namespaces().Get(context.Background(), ns, metav1.GetOptions{})
		stdout, _, code := runKube(t, "apply", "-n", ns, "--enroll-namespace")
		after, _ := env.Kube.CoreV1().Namespaces().Get(context.Background(), ns, metav1.GetOptions{})
		if code != 0 || before.ResourceVersion != after.ResourceVersion {
			t.Fatalf("exit %d; namespace resourceVersion %s -> %s", code, before.ResourceVersion, after.ResourceVersion)
		}
		if !strings.Contains(stdout, "already labeled") {
			t.Errorf("stdout %q", stdout)
		}
	})
	t.Run("concurrent label writers lose nothing", func(t *testing.T) {
		ns := env.Namespace(t, testenv.AmbientLabels())
		var wg sync.WaitGroup
		const writers = 20
		for i := 0; i < writers; i++ {
			wg.Add(1)
			go func() {
				defer wg.Done()
				patch := fmt.Sprintf(`{"metadata":{"labels":{"writer-%d":"x"}}}`, i)
				_, err := env.Kube.CoreV1().Namespaces().Patch(context.Background(), ns, types.MergePatchType, []byte(patch), metav1.PatchOptions{})
				if err != nil {
					t.Error(err)
				}
			}()
		}
		for i := 0; i < 3; i++ {
			wg.Add(1)
			go func() {
				defer wg.Done()
				if _, stderr, code := runKube(t, "apply", "-n", ns, "--enroll-namespace"); code != 0 {
					t.Errorf("apply exit %d: %s", code, stderr)
				}
			}()
		}
		wg.Wait()
		l := nsLabels(t, ns)
		for i := 0; i < writers; i++ {
			if l[fmt.Sprintf("writer-%d", i)] != "x" {
				t.Errorf("label writer-%d lost: %v", i, l)
			}
		}
		if l["istio.io/use-waypoint"] != "waypoint" || l["istio.io/dataplane-mode"] != "ambient" {
			t.Errorf("labels %v", l)
		}
	})
	t.Run("missing namespace", func(t *testing.T) {
		_, stderr, code := runKube(t, "apply", "-n", "does-not-exist", "--enroll-namespace")
		if code != 1 || !strings.Contains(stderr, `namespace "does-not-exist" not found`) {
			t.Fatalf("exit %d, stderr %q", code, stderr)
		}
	})
}

func TestApplyWait(t *testing.T) {
	t.Run("ready", func(t *testing.T) {
		// istiod deploys the waypoint, the node stand-in runs its pod, and
		// istiod programs it.
		ns := env.Namespace(t, nil)
		stdout, stderr, code := runKube(t, "apply", "-n", ns, "--wait", "--timeout", "60s", "--enroll-namespace")
		want := fmt.Sprintf("waypoint %[1]s/waypoint applied\nwaypoint %[1]s/waypoint is ready\nnamespace %[1]s labeled with \"istio.io/use-waypoint: waypoint\"\n", ns)
		if code != 0 || stdout != want {
			t.Fatalf("exit %d, stdout %q, stderr %q", code, stdout, stderr)
		}
	})
	t.Run("timeout reports the reason and enrolls nothing", func(t *testing.T) {
		// The node stand-in holds the waypoint's pod back: istiod reports
		// that the waypoint's Service has no endpoint.
		ns := env.Namespace(t, testenv.AmbientLabels())
		env.HoldWaypoint(t, ns, "waypoint")
		env.Waypoint(t, ns, "waypoint", nil)
		env.WaitNotProgrammed(t, ns, "waypoint")
		stdout, stderr, code := runKube(t, "apply", "-n", ns, "--wait", "--waypoint-timeout", "1s", "--enroll-namespace")
		if code != ExitTimeout {
			t.Fatalf("exit %d, want %d; stderr %q", code, ExitTimeout, stderr)
		}
		for _, w := range []string{"timed out after 1s", "AddressNotAssigned", "no instances found for hostname"} {
			if !strings.Contains(stderr, w) {
				t.Errorf("stderr %q lacks %q", stderr, w)
			}
		}
		if strings.Contains(stdout, "labeled") || nsLabels(t, ns)["istio.io/use-waypoint"] != "" {
			t.Errorf("namespace enrolled into a waypoint that never became ready: %q", stdout)
		}
	})
}

func TestApplyFieldConflict(t *testing.T) {
	ns := env.Namespace(t, nil)
	// Another manager owns the listener's port.
	other := testenv.WaypointGateway(ns, "waypoint", nil)
	other.Spec.Listeners[0].Port = 15009
	body, _ := json.Marshal(other)
	force := true
	if _, err := env.Gateway.GatewayV1().Gateways(ns).Patch(context.Background(), "waypoint", types.ApplyPatchType, body,
		metav1.PatchOptions{FieldManager: "someone-else", Force: &force}); err != nil {
		t.Fatal(err)
	}
	_, stderr, code := runKube(t, "apply", "-n", ns)
	if code != 1 || !strings.Contains(stderr, "conflict") || !strings.Contains(stderr, "--force-conflicts") {
		t.Fatalf("exit %d, stderr %q", code, stderr)
	}
	if gw, _ := getGateway(t, ns, "waypoint"); gw.Spec.Listeners[0].Port != 15009 {
		t.Fatalf("the conflicting apply changed the port")
	}
	if _, stderr, code := runKube(t, "apply", "-n", ns, "--force-conflicts"); code != 0 {
		t.Fatalf("--force-conflicts: exit %d, %s", code, stderr)
	}
	if gw, _ := getGateway(t, ns, "waypoint"); gw.Spec.Listeners[0].Port != 15008 {
		t.Fatalf("--force-conflicts did not take the port over")
	}
}

func TestApplyFaults(t *testing.T) {
	ns := env.Namespace(t, nil)
	t.Run("forbidden", func(t *testing.T) {
		kc := env.UserWithRole(t, "apply-reader", []rbacv1.PolicyRule{{
			APIGroups: []string{"gateway.networking.k8s.io"}, Resources: []string{"gateways"}, Verbs: []string{"get", "list"},
		}}, ns)
		_, stderr, code := run(t, false, "apply", "-n", ns, "--kubeconfig", kc)
		if code != 1 || !strings.Contains(stderr, "forbidden") || strings.Count(stderr, "\n") != 1 {
			t.Fatalf("exit %d, stderr %q", code, stderr)
		}
	})
	t.Run("unreachable", func(t *testing.T) {
		_, stderr, code := run(t, false, "apply", "-n", ns, "--server", "https://127.0.0.1:1", "--insecure-skip-tls-verify", "--request-timeout", "5s")
		if code != 1 || !strings.Contains(stderr, "unreachable") {
			t.Fatalf("exit %d, stderr %q", code, stderr)
		}
	})
	t.Run("bad input sends nothing", func(t *testing.T) {
		_, stderr, code := runKube(t, "apply", "-n", ns, "--for", "bogus")
		if code != ExitUsage || !strings.Contains(stderr, "bogus") {
			t.Fatalf("exit %d, stderr %q", code, stderr)
		}
		if _, err := getGateway(t, ns, "waypoint"); !apierrors.IsNotFound(err) {
			t.Fatalf("bad input created a Gateway: %v", err)
		}
	})
}

// faultServer is an API server that answers every request with one error
// status, for faults the real test server cannot be made to produce.
func faultServer(t *testing.T, code int, reason metav1.StatusReason, message string) string {
	t.Helper()
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		w.WriteHeader(code)
		_ = json.NewEncoder(w).Encode(metav1.Status{
			TypeMeta: metav1.TypeMeta{Kind: "Status", APIVersion: "v1"},
			Status:   metav1.StatusFailure, Reason: reason, Code: int32(code), Message: message,
		})
	}))
	t.Cleanup(srv.Close)
	return srv.URL
}

func TestUnitApplyWithoutGatewayCRDs(t *testing.T) {
	url := faultServer(t, http.StatusNotFound, metav1.StatusReasonNotFound, "the server could not find the requested resource")
	_, stderr, code := run(t, false, "apply", "-n", "default", "--server", url)
	if code != 1 || !strings.Contains(stderr, "Gateway API CRDs are not installed") || strings.Count(stderr, "\n") != 1 {
		t.Fatalf("exit %d, stderr %q", code, stderr)
	}
	// Every command that reads waypoints says the same, in one line.
	for _, args := range [][]string{{"list", "-n", "default"}, {"list", "-A"}, {"status", "-n", "default"}, {"delete", "waypoint", "-n", "default"}, {"delete", "--all", "-n", "default"}} {
		_, stderr, code = run(t, false, append(args, "--server", url)...)
		if code != 1 || !strings.Contains(stderr, "the Gateway API CRDs are not installed; install them with: "+kube.GatewayAPIInstall) || strings.Count(stderr, "\n") != 1 {
			t.Errorf("%v: exit %d, stderr %q", args, code, stderr)
		}
	}
}

// withoutClassWarning drops the warning that the istio-waypoint
// GatewayClass is missing: the test API server runs no istiod to create it.
func withoutClassWarning(stderr string) string {
	var keep []string
	for _, line := range strings.SplitAfter(stderr, "\n") {
		if !strings.Contains(line, "GatewayClass istio-waypoint does not exist") {
			keep = append(keep, line)
		}
	}
	return strings.Join(keep, "")
}

// TestApplyWarnsWithoutIstio: apply says when the istio-waypoint
// GatewayClass, which istiod creates, does not exist, and not when it does.
// The test's istiod has created it: the missing class is a 404 from a
// transport in front of the real server.
func TestApplyWarnsWithoutIstio(t *testing.T) {
	ns := env.Namespace(t, testenv.AmbientLabels())
	apply := func(t *testing.T, hide bool, args ...string) (string, int) {
		t.Helper()
		streams, _, errOut := TestStreams(false)
		f := NewFactory(streams, "kubectl-waypoint")
		f.NewClients = func(cfg *rest.Config) (*kube.Clients, error) {
			cfg = rest.CopyConfig(cfg)
			cfg.Wrap(func(next http.RoundTripper) http.RoundTripper {
				return roundTripFunc(func(r *http.Request) (*http.Response, error) {
					if hide && strings.HasSuffix(r.URL.Path, "/gatewayclasses/istio-waypoint") {
						body := `{"kind":"Status","apiVersion":"v1","status":"Failure","reason":"NotFound","code":404,"message":"gatewayclasses.gateway.networking.k8s.io \"istio-waypoint\" not found","details":{"name":"istio-waypoint","group":"gateway.networking.k8s.io","kind":"gatewayclasses"}}`
						return &http.Response{StatusCode: 404, Header: http.Header{"Content-Type": {"application/json"}}, Body: io.NopCloser(strings.NewReader(body)), Request: r}, nil
					}
					return next.RoundTrip(r)
				})
			})
			return kube.NewClients(cfg)
		}
		code := Execute(f, append(args, "--kubeconfig", env.Kubeconfig))
		return errOut.String(), code
	}
	stderr, code := apply(t, true, "apply", "-n", ns)
	if code != 0 || !strings.Contains(stderr, "Warning: GatewayClass istio-waypoint does not exist: Istio is not installed in ambient mode, or istiod is not ready") {
		t.Fatalf("exit %d, stderr %q", code, stderr)
	}
	if stderr, _ = apply(t, true, "apply", "-n", ns, "--dry-run=client"); stderr != "" {
		t.Errorf("a client dry run reads nothing, yet: %q", stderr)
	}
	if stderr, code = apply(t, false, "apply", "-n", ns); code != 0 || stderr != "" {
		t.Fatalf("with the class: exit %d, stderr %q", code, stderr)
	}
}

func TestUnitThrottled(t *testing.T) {
	url := faultServer(t, http.StatusTooManyRequests, metav1.StatusReasonTooManyRequests, "too many requests")
	// Every try is answered 429: the whole backoff runs, at a millisecond
	// a step.
	ctx := kube.WithBackoff(context.Background(), wait.Backoff{Steps: kube.Backoff.Steps, Duration: time.Millisecond})
	for _, args := range [][]string{{"apply", "-n", "default"}, {"list", "-A"}, {"status", "-n", "default"}, {"delete", "--all"}} {
		streams, _, errOut := TestStreams(false)
		code := ExecuteContext(ctx, NewFactory(streams, "kubectl-waypoint"), append(args, "--server", url))
		stderr := errOut.String()
		if code != 1 || !strings.Contains(stderr, "throttling") {
			t.Errorf("%v: exit %d, stderr %q", args, code, stderr)
		}
	}
}
