package cli

import (
	"context"
	"encoding/json"
	"fmt"
	"os"
	"strconv"
	"sync"
	"testing"
	"time"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/client-go/rest"
	gwv1 "sigs.k8s.io/gateway-api/apis/v1"

	"github.com/kubectl-waypoint/kubectl-waypoint/internal/testenv"
	"github.com/kubectl-waypoint/kubectl-waypoint/pkg/bulk"
	"github.com/kubectl-waypoint/kubectl-waypoint/pkg/istio"
	"github.com/kubectl-waypoint/kubectl-waypoint/pkg/kube"
	"github.com/kubectl-waypoint/kubectl-waypoint/pkg/policy"
	"github.com/kubectl-waypoint/kubectl-waypoint/pkg/waypoint"
)

// BenchmarkDeletePolicyCheck is the figure of docs/performance.md: what
// `delete --all -A` spends on the policy check over 1,000 waypoints (two in
// each of 500 namespaces, each namespace enrolled in one) and 2,000 policies
// (an AuthorizationPolicy on each waypoint, an HTTPRoute on each of 1,000
// enrolled Services). Every waypoint has a policy, so every one is refused
// and nothing is deleted; --dry-run=server keeps it so across runs. It
// reports the requests of the whole command and of the check alone
// (policy.Impact), and their times. The waypoints carry the revision
// label of an istiod that does not run, so that the real one leaves them
// alone, and get their address written by hand (as SetProgrammed does).
// Run with
//
//	go test ./pkg/cli -run '^$' -bench DeletePolicyCheck -benchtime 3x
//
// POLICY_BENCH_WAYPOINTS sets the number of waypoints (default 1000).
func BenchmarkDeletePolicyCheck(b *testing.B) {
	waypoints := 1000
	if v, err := strconv.Atoi(os.Getenv("POLICY_BENCH_WAYPOINTS")); err == nil && v > 1 {
		waypoints = v
	}
	nsCount := waypoints / 2
	ctx := context.Background()
	start := time.Now()
	namespaces := make([]string, nsCount)
	for i := range namespaces {
		namespaces[i] = env.Namespace(b, map[string]string{istio.LabelDataplaneMode: istio.DataplaneModeAmbient, istio.LabelUseWaypoint: "waypoint"})
	}
	var mu sync.Mutex
	var failure error
	fail := func(err error) {
		mu.Lock()
		defer mu.Unlock()
		if failure == nil {
			failure = err
		}
	}
	bulk.ForEach(ctx, nsCount, 32, func(ctx context.Context, i int) {
		ns := namespaces[i]
		for j, name := range []string{"waypoint", "reviews-waypoint"} {
			gw := testenv.WaypointGateway(ns, name, map[string]string{istio.LabelRev: "bench"})
			created, err := env.Gateway.GatewayV1().Gateways(ns).Create(ctx, gw, metav1.CreateOptions{})
			if err != nil {
				fail(err)
				return
			}
			created.Status.Addresses = []gwv1.GatewayStatusAddress{{Value: fmt.Sprintf("10.%d.%d.%d", j, i/250, i%250)}}
			created.Status.Conditions = []metav1.Condition{{Type: "Programmed", Status: metav1.ConditionTrue, Reason: "Programmed", LastTransitionTime: metav1.Now(), ObservedGeneration: created.Generation}}
			if _, err := env.Gateway.GatewayV1().Gateways(ns).UpdateStatus(ctx, created, metav1.UpdateOptions{}); err != nil {
				fail(err)
				return
			}
			policyObj := &unstructured.Unstructured{Object: map[string]any{
				"apiVersion": "security.istio.io/v1", "kind": "AuthorizationPolicy",
				"metadata": map[string]any{"name": name + "-viewer", "namespace": ns},
				"spec": map[string]any{"targetRefs": []any{map[string]any{"kind": "Gateway", "group": "gateway.networking.k8s.io", "name": name}},
					"action": "ALLOW", "rules": []any{map[string]any{"to": []any{map[string]any{"operation": map[string]any{"methods": []any{"GET"}}}}}}},
			}}
			if _, err := env.Dynamic.Resource(authzGVR).Namespace(ns).Create(ctx, policyObj, metav1.CreateOptions{}); err != nil {
				fail(err)
				return
			}
		}
		for _, svc := range []string{"reviews", "ratings"} {
			env.Service(b, ns, svc, nil)
			route := &unstructured.Unstructured{Object: map[string]any{
				"apiVersion": "gateway.networking.k8s.io/v1", "kind": "HTTPRoute",
				"metadata": map[string]any{"name": svc, "namespace": ns},
				"spec": map[string]any{"parentRefs": []any{map[string]any{"group": "", "kind": "Service", "name": svc, "port": int64(80)}},
					"rules": []any{map[string]any{"backendRefs": []any{map[string]any{"name": svc, "port": int64(80)}}}}},
			}}
			if _, err := env.Dynamic.Resource(policy.Kinds[4].GVRs[0]).Namespace(ns).Create(ctx, route, metav1.CreateOptions{}); err != nil {
				fail(err)
				return
			}
		}
	}, nil)
	if failure != nil {
		b.Fatal(failure)
	}
	b.Logf("populated %d namespaces, %d waypoints, %d policies in %s", nsCount, 2*nsCount, 4*nsCount, time.Since(start).Round(time.Millisecond))

	log := &requestLog{}
	cfg := rest.CopyConfig(env.Config)
	cfg.Wrap(log.RoundTrip)
	cfg.QPS, cfg.Burst = -1, 0
	c, err := kube.NewClients(cfg)
	if err != nil {
		b.Fatal(err)
	}
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		// The command, as a user runs it.
		streams, out, errOut := TestStreams(false)
		f := NewFactory(streams, "kubectl-waypoint")
		f.NewClients = func(cfg *rest.Config) (*kube.Clients, error) {
			cfg = rest.CopyConfig(cfg)
			cfg.Wrap(log.RoundTrip)
			return kube.NewClients(cfg)
		}
		log.reset()
		t0 := time.Now()
		code := Execute(f, []string{"delete", "--all", "-A", "--dry-run=server", "-o", "json", "--kubeconfig", env.Kubeconfig})
		cmdTime, cmdReqs := time.Since(t0), log.count()
		var rep bulk.Report
		if err := json.Unmarshal(out.Bytes(), &rep); err != nil || code != ExitUsage || rep.Summary.Refused != 2*nsCount {
			b.Fatalf("exit %d, %v, summary %+v: %s", code, err, rep.Summary, errOut)
		}
		// The check alone, as delete makes it.
		keys := make([]string, 0, 2*nsCount)
		for _, ns := range namespaces {
			keys = append(keys, ns+"/waypoint", ns+"/reviews-waypoint")
		}
		log.reset()
		t0 = time.Now()
		im, err := policy.NewReader(c).Impact(ctx, nil, waypoint.DeleteChange(keys))
		checkTime, checkReqs := time.Since(t0), log.count()
		if err != nil || len(im.Losses) != 4*nsCount {
			b.Fatalf("%v: %d losses, want %d", err, len(im.Losses), 4*nsCount)
		}
		b.ReportMetric(float64(cmdReqs), "cmd-requests")
		b.ReportMetric(cmdTime.Seconds(), "cmd-s")
		b.ReportMetric(float64(checkReqs), "check-requests")
		b.ReportMetric(checkTime.Seconds(), "check-s")
		b.Logf("delete --all -A over %d waypoints and %d policies: %s, %d requests; the check alone: %s, %d requests (%v)",
			2*nsCount, 4*nsCount, cmdTime.Round(time.Millisecond), cmdReqs, checkTime.Round(time.Millisecond), checkReqs, log.summary())
	}
}

func (l *requestLog) reset() {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.reqs = nil
}

func (l *requestLog) count() int {
	l.mu.Lock()
	defer l.mu.Unlock()
	return len(l.reqs)
}

// summary counts the requests by verb and resource.
func (l *requestLog) summary() map[string]int {
	l.mu.Lock()
	defer l.mu.Unlock()
	out := map[string]int{}
	for _, r := range l.reqs {
		out[r]++
	}
	return out
}
