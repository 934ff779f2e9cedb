package cli

import (
	"strings"
	"testing"
	"time"

	"github.com/kubectl-waypoint/kubectl-waypoint/internal/faultproxy"
)

// BenchmarkEnrollLatency is the figure of docs/performance.md: bulk enroll
// of one service in each of 50 namespaces, every request delayed 1 s by the
// fault proxy. It reports the requests made, the bound that --concurrency
// sets (requests ÷ concurrency × 1 s) and the ratio of the time taken to
// that bound, which must stay under 1.5. Run with
//
//	go test ./pkg/cli -run '^$' -bench EnrollLatency -benchtime 1x
func BenchmarkEnrollLatency(b *testing.B) {
	const concurrency = 16
	var namespaces []string
	for range 50 {
		ns := env.Namespace(b, map[string]string{"istio.io/dataplane-mode": "ambient"})
		env.Service(b, ns, "app", nil)
		namespaces = append(namespaces, ns)
	}
	p, err := faultproxy.Start(env.Config, faultproxy.Profile{Name: "latency", Latency: time.Second}, 1)
	if err != nil {
		b.Fatal(err)
	}
	defer p.Close()
	kc, err := p.WriteKubeconfig(b.TempDir())
	if err != nil {
		b.Fatal(err)
	}
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		verb := "enroll"
		args := []string{verb, "service", "app", "--waypoint", "waypoint"}
		if i%2 == 1 {
			args = []string{"unenroll", "service", "app"}
		}
		before := p.Counts().Requests
		start := time.Now()
		args = append(args, "-n", strings.Join(namespaces, ","), "--kubeconfig", kc)
		if _, stderr, code := run(b, false, args...); code != 0 {
			b.Fatalf("exit %d: %s", code, stderr)
		}
		elapsed := time.Since(start)
		requests := p.Counts().Requests - before
		bound := time.Duration(float64(requests) / concurrency * float64(time.Second))
		b.ReportMetric(float64(requests), "requests")
		b.ReportMetric(bound.Seconds(), "bound-s")
		b.ReportMetric(elapsed.Seconds(), "elapsed-s")
		b.ReportMetric(elapsed.Seconds()/bound.Seconds(), "x-bound")
	}
}
