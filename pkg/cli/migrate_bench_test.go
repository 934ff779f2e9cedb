package cli

import (
	"context"
	"encoding/json"
	"os"
	"strconv"
	"sync"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime/schema"

	"github.com/kubectl-waypoint/kubectl-waypoint/pkg/bulk"
	"github.com/kubectl-waypoint/kubectl-waypoint/pkg/migrate"
)

// BenchmarkMigratePlan is the figure of docs/performance.md: `migrate plan
// -A -o json` over 500 sidecar-mode namespaces, each with two Services and
// their two pods (with sidecars), four AuthorizationPolicies (2,000 in
// all: an ALLOW with methods on each Service's pods, a namespace-wide DENY
// with paths, an L4-only one) and two routes (1,000 in all: a
// VirtualService and a DestinationRule). It reports the requests and the
// time of each plan. Run with
//
//	go test ./pkg/cli -run '^$' -bench MigratePlan -benchtime 3x
//
// MIGRATE_BENCH_NAMESPACES sets the number of namespaces (default 500).
func BenchmarkMigratePlan(b *testing.B) {
	nsCount := 500
	if v, err := strconv.Atoi(os.Getenv("MIGRATE_BENCH_NAMESPACES")); err == nil && v > 0 {
		nsCount = v
	}
	ctx := context.Background()
	start := time.Now()
	namespaces := make([]string, nsCount)
	for i := range namespaces {
		namespaces[i] = env.Namespace(b, map[string]string{"istio-injection": "enabled"})
	}
	var mu sync.Mutex
	var failure error
	create := func(gvr schema.GroupVersionResource, kind, ns, name string, spec map[string]any) {
		obj := &unstructured.Unstructured{Object: map[string]any{
			"apiVersion": gvr.Group + "/" + gvr.Version, "kind": kind,
			"metadata": map[string]any{"name": name, "namespace": ns}, "spec": spec}}
		if _, err := env.Dynamic.Resource(gvr).Namespace(ns).Create(ctx, obj, metav1.CreateOptions{}); err != nil {
			mu.Lock()
			failure = err
			mu.Unlock()
		}
	}
	vs := schema.GroupVersionResource{Group: "networking.istio.io", Version: "v1", Resource: "virtualservices"}
	dr := schema.GroupVersionResource{Group: "networking.istio.io", Version: "v1", Resource: "destinationrules"}
	bulk.ForEach(ctx, nsCount, 32, func(ctx context.Context, i int) {
		ns := namespaces[i]
		for _, app := range []string{"reviews", "ratings"} {
			env.Service(b, ns, app, nil)
			pod := &corev1.Pod{
				ObjectMeta: metav1.ObjectMeta{Name: app + "-v1", Namespace: ns, Labels: map[string]string{"app": app},
					Annotations: map[string]string{"sidecar.istio.io/status": "{}"}},
				Spec: corev1.PodSpec{Containers: []corev1.Container{{Name: "app", Image: "registry.k8s.io/pause:3.10"}}},
			}
			if _, err := env.Kube.CoreV1().Pods(ns).Create(ctx, pod, metav1.CreateOptions{}); err != nil {
				mu.Lock()
				failure = err
				mu.Unlock()
			}
			create(authorizationPolicies, "AuthorizationPolicy", ns, app+"-get", map[string]any{
				"selector": map[string]any{"matchLabels": map[string]any{"app": app}}, "rules": []any{rule(to(op("methods", "GET")))}})
		}
		create(authorizationPolicies, "AuthorizationPolicy", ns, "deny-admin", map[string]any{"action": "DENY", "rules": []any{rule(to(op("paths", "/admin")))}})
		create(authorizationPolicies, "AuthorizationPolicy", ns, "same-namespace", map[string]any{"rules": []any{rule(from(src("namespaces", ns)))}})
		create(vs, "VirtualService", ns, "reviews", map[string]any{"hosts": []any{"reviews"},
			"http": []any{map[string]any{"route": []any{map[string]any{"destination": map[string]any{"host": "reviews"}}}}}})
		create(dr, "DestinationRule", ns, "ratings", map[string]any{"host": "ratings"})
	}, nil)
	if failure != nil {
		b.Fatal(failure)
	}
	b.Logf("populated %d namespaces, %d policies, %d routes in %s", nsCount, 4*nsCount, 2*nsCount, time.Since(start).Round(time.Millisecond))

	log := &requestLog{}
	b.ResetTimer()
	for range b.N {
		log.reset()
		t0 := time.Now()
		out, errOut, code := executeLogged(log, "migrate", "plan", "-A", "-o", "json")
		elapsed, reqs := time.Since(t0), log.count()
		var plan migrate.Plan
		if err := json.Unmarshal(out.Bytes(), &plan); err != nil || code != ExitFailed || len(plan.Namespaces) < nsCount {
			b.Fatalf("exit %d, %v, %d namespaces planned: %s", code, err, len(plan.Namespaces), errOut)
		}
		b.ReportMetric(float64(reqs), "requests")
		b.ReportMetric(float64(plan.Count()), "findings")
		b.Logf("migrate plan -A: %d requests, %d findings in %d namespaces, %s", reqs, plan.Count(), len(plan.Namespaces), elapsed.Round(time.Millisecond))
	}
}
