package cli

import (
	"bytes"
	"context"
	"net/http"
	"sort"
	"strings"
	"sync"
	"testing"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/client-go/rest"

	"github.com/kubectl-waypoint/kubectl-waypoint/internal/testenv"
	"github.com/kubectl-waypoint/kubectl-waypoint/pkg/kube"
)

// requestLog records the API requests a command makes, as "VERB resource",
// and in paths as "VERB /the/path".
type requestLog struct {
	mu    sync.Mutex
	reqs  []string
	paths []string
}

func (l *requestLog) RoundTrip(next http.RoundTripper) http.RoundTripper {
	return roundTripFunc(func(r *http.Request) (*http.Response, error) {
		parts := strings.Split(strings.Trim(r.URL.Path, "/"), "/")
		l.mu.Lock()
		l.reqs = append(l.reqs, r.Method+" "+parts[len(parts)-1])
		l.paths = append(l.paths, r.Method+" "+r.URL.Path)
		l.mu.Unlock()
		return next.RoundTrip(r)
	})
}

type roundTripFunc func(*http.Request) (*http.Response, error)

func (f roundTripFunc) RoundTrip(r *http.Request) (*http.Response, error) { return f(r) }

// runCounted runs the tool against the test server and returns the requests
// it made.
func runCounted(t *testing.T, args ...string) (stdout string, reqs []string) {
	t.Helper()
	stdout, log := runLogged(t, args...)
	return stdout, log.reqs
}

// runLogged is runCounted returning the whole log.
func runLogged(t *testing.T, args ...string) (stdout string, log *requestLog) {
	t.Helper()
	log = &requestLog{}
	out, errOut, code := executeLogged(log, args...)
	if code != 0 {
		t.Fatalf("%v: exit %d: %s", args, code, errOut)
	}
	sort.Strings(log.reqs)
	return out.String(), log
}

// executeLogged runs the tool in-process against the test API server with
// every request it makes recorded in log.
func executeLogged(log *requestLog, args ...string) (out, errOut *bytes.Buffer, code int) {
	streams, out, errOut := TestStreams(false)
	f := NewFactory(streams, "kubectl-waypoint")
	f.NewClients = func(cfg *rest.Config) (*kube.Clients, error) {
		cfg = rest.CopyConfig(cfg)
		cfg.Wrap(log.RoundTrip)
		return kube.NewClients(cfg)
	}
	return out, errOut, Execute(f, append(args, "--kubeconfig", env.Kubeconfig))
}

// TestRequestCounts pins how many API requests each command needs, so that a
// change that adds a request per object shows up here.
func TestRequestCounts(t *testing.T) {
	ns := env.Namespace(t, testenv.AmbientLabels())
	_, reqs := runCounted(t, "apply", "-n", ns, "--enroll-namespace")
	// One list of the existing waypoint (to guard its users), one read of
	// the namespace, one of the istio-waypoint GatewayClass (is Istio
	// there?), one apply of the Gateway, one label patch.
	if want := "GET gateways,GET istio-waypoint,GET " + ns + ",PATCH " + ns + ",PATCH waypoint"; strings.Join(reqs, ",") != want {
		t.Errorf("apply --enroll-namespace made %v, want %s", reqs, want)
	}
	env.Waypoint(t, ns, "labelled", map[string]string{"istio.io/waypoint-for": "all"})
	_, reqs = runCounted(t, "list", "-n", ns)
	// One list, and the one GatewayClass of the waypoints, read once: it
	// may give the traffic type and the inbound binding.
	if strings.Join(reqs, ",") != "GET gateways,GET istio-waypoint" {
		t.Errorf("list made %v", reqs)
	}
	// status: TestStatusRequestCounts (it also reads what runs for the
	// waypoints, and, for those that run one replica, their users).
	// delete by name: a read (to check the class), one list per L7 policy
	// kind across the cluster (the policy check: none here, so nothing
	// more), a delete, and one metadata list per enrollable kind to find
	// what still uses it.
	_, reqs = runCounted(t, "delete", "-n", ns, "labelled")
	if strings.Join(reqs, ",") != "DELETE labelled,GET authorizationpolicies,GET grpcroutes,GET httproutes,GET labelled,GET namespaces,GET pods,"+
		"GET requestauthentications,GET serviceentries,GET services,GET tcproutes,GET telemetries,GET tlsroutes,GET wasmplugins,GET workloadentries" {
		t.Errorf("delete made %v", reqs)
	}
}

// TestMissingTypeIsAskedOnce: a list of a type the API server does not serve
// (a Gateway API route kind left out of the standard channel, such as
// TCPRoute under v1.2.0) is answered with a plain 404 page, which client-go
// marks as an unexpected response. It is final: read once, never retried
// (it once cost every policy check about 7 s per missing version).
func TestMissingTypeIsAskedOnce(t *testing.T) {
	log := &requestLog{}
	cfg := rest.CopyConfig(env.Config)
	cfg.Wrap(log.RoundTrip)
	c, err := kube.NewClients(cfg)
	if err != nil {
		t.Fatal(err)
	}
	gvr := schema.GroupVersionResource{Group: "gateway.networking.k8s.io", Version: "v1", Resource: "nosuchroutes"}
	err = kube.Retry(context.Background(), func() error {
		_, err := c.Dynamic.Resource(gvr).Namespace("default").List(context.Background(), metav1.ListOptions{})
		return err
	})
	if !kube.IsMissingType(err) {
		t.Fatalf("list of %s: %v, want the missing-type 404", gvr, err)
	}
	if len(log.reqs) != 1 {
		t.Errorf("list of a type that is not served made %d requests, want 1: %v", len(log.reqs), log.reqs)
	}
}

// TestApplyGuardListsOncePerKind: apply over many namespaces whose waypoints
// change how they bind reads the users of all of them with one list per
// enrollable kind across the cluster, not one per waypoint (it was 5 per
// namespace). What each enrolled namespace's inherited users need stays
// per namespace.
func TestApplyGuardListsOncePerKind(t *testing.T) {
	var nss []string
	for range 4 {
		ns := env.Namespace(t, testenv.AmbientLabels())
		env.Waypoint(t, ns, "waypoint", nil)
		nss = append(nss, ns)
	}
	_, log := runLogged(t, "apply", "-n", strings.Join(nss, ","), "--for", "all")
	across := map[string]int{}
	for _, p := range log.paths {
		verb, path, _ := strings.Cut(p, " ")
		parts := strings.Split(strings.Trim(path, "/"), "/")
		last := parts[len(parts)-1]
		// A list across the cluster names no namespace (the list of
		// namespaces is /api/v1/namespaces itself).
		if verb == "GET" && (!strings.Contains(path, "/namespaces/") || path == "/api/v1/namespaces") {
			switch last {
			case "namespaces", "services", "pods", "serviceentries", "workloadentries":
				across[last]++
			}
		}
	}
	for kind, n := range across {
		if n > 1 {
			t.Errorf("%d lists of %s across the cluster for %d waypoints, want 1", n, kind, len(nss))
		}
	}
	if across["services"] == 0 {
		t.Errorf("no list of services across the cluster: the guard did not run (%v)", log.paths)
	}
}
