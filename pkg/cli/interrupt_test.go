package cli

import (
	"context"
	"encoding/json"
	"net/http"
	"strings"
	"sync"
	"sync/atomic"
	"testing"

	"k8s.io/client-go/rest"

	"github.com/kubectl-waypoint/kubectl-waypoint/pkg/bulk"
	"github.com/kubectl-waypoint/kubectl-waypoint/pkg/kube"
)

// TestInterruptReportsAndRerunCompletes: an interrupt in the middle of a
// bulk apply lets the requests in flight finish, reports what was done and
// what was not started, exits 130; a re-run completes the work.
func TestInterruptReportsAndRerunCompletes(t *testing.T) {
	var namespaces []string
	for range 20 {
		namespaces = append(namespaces, env.Namespace(t, map[string]string{"istio.io/dataplane-mode": "ambient"}))
	}
	stop := make(chan struct{})
	var once sync.Once
	var patches atomic.Int64
	streams, out, errOut := TestStreams(false)
	f := NewFactory(streams, "kubectl-waypoint")
	f.NewClients = func(cfg *rest.Config) (*kube.Clients, error) {
		cfg = rest.CopyConfig(cfg)
		cfg.Wrap(func(next http.RoundTripper) http.RoundTripper {
			return roundTripFunc(func(r *http.Request) (*http.Response, error) {
				if r.Method == http.MethodPatch && strings.HasSuffix(r.URL.Path, "/gateways/waypoint") && patches.Add(1) == 5 {
					once.Do(func() { close(stop) }) // the user presses Ctrl-C
				}
				return next.RoundTrip(r)
			})
		})
		return kube.NewClients(cfg)
	}
	args := []string{"apply", "--enroll-namespace", "-n", strings.Join(namespaces, ","), "--concurrency", "2", "-o", "json", "--kubeconfig", env.Kubeconfig}
	code := ExecuteContext(bulk.WithStop(context.Background(), stop), f, args)
	var rep bulk.Report
	if err := json.Unmarshal(out.Bytes(), &rep); err != nil {
		t.Fatalf("exit %d, no report: %v; stderr %q", code, err, errOut)
	}
	if code != ExitInterrupted || !rep.Summary.Interrupted || !strings.Contains(errOut.String(), "interrupted") {
		t.Fatalf("exit %d, summary %+v, stderr %q", code, rep.Summary, errOut)
	}
	created, notStarted := 0, 0
	for _, r := range rep.Records {
		if r.Kind != "Gateway" {
			continue
		}
		_, err := getGateway(t, r.Namespace, "waypoint")
		switch r.Action {
		case bulk.Created:
			created++
			if err != nil {
				t.Errorf("%s reported created but missing", r.Namespace)
			}
		case bulk.NotStarted:
			notStarted++
			if err == nil {
				t.Errorf("%s reported not started but exists", r.Namespace)
			}
		default:
			t.Errorf("unexpected record %#v", r)
		}
	}
	// The fifth patch was in flight with at most one other: both finish.
	if created < 5 || created > 7 || created+notStarted != len(namespaces) {
		t.Errorf("%d created, %d not started", created, notStarted)
	}
	stdout, stderr, code := runKube(t, "apply", "--enroll-namespace", "-n", strings.Join(namespaces, ","))
	if code != 0 || !strings.Contains(stdout, "0 failed") {
		t.Fatalf("re-run: exit %d, %s %s", code, stdout, stderr)
	}
	for _, ns := range namespaces {
		if _, err := getGateway(t, ns, "waypoint"); err != nil || nsLabels(t, ns)["istio.io/use-waypoint"] != "waypoint" {
			t.Errorf("%s not done after the re-run", ns)
		}
	}
}
