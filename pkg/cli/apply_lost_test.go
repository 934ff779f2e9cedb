package cli

import (
	"encoding/json"
	"strings"
	"testing"
	"time"

	"github.com/kubectl-waypoint/kubectl-waypoint/internal/faultproxy"
	"github.com/kubectl-waypoint/kubectl-waypoint/pkg/bulk"
	"github.com/kubectl-waypoint/kubectl-waypoint/pkg/kube"
)

// TestApplyLostCreateIsCreated: a create whose answer the proxy drops after
// the server did it (a 500 in its place) is retried, meets the Gateway it
// made, and is still reported created: none of the namespaces had one
// before, and each has one after (read back).
func TestApplyLostCreateIsCreated(t *testing.T) {
	namespaces, p, kc := lostAnswers(t, faultproxy.Profile{Name: "5xx-after", ErrorAfter: 0.3}, 7)

	stdout, stderr, code := run(t, false, "apply", "-n", strings.Join(namespaces, ","), "--concurrency", "1", "-o", "json", "--kubeconfig", kc)
	var rep bulk.Report
	if err := json.Unmarshal([]byte(stdout), &rep); err != nil || code != 0 {
		t.Fatalf("exit %d, %v: %s %s", code, err, stdout, stderr)
	}
	if p.Counts().ErrorsAfter == 0 {
		t.Fatal("no answer was lost: the test proves nothing")
	}
	for _, r := range rep.Records {
		if _, err := getGateway(t, r.Namespace, "waypoint"); err != nil {
			t.Errorf("%s: %v", r.Namespace, err)
		}
		if r.Action != bulk.Created {
			t.Errorf("%s/%s: %s, want created (it did not exist before the call)", r.Namespace, r.Name, r.Action)
		}
	}
	if len(rep.Records) != len(namespaces) {
		t.Errorf("%d records for %d namespaces", len(rep.Records), len(namespaces))
	}
}

// lostAnswers makes 12 fresh namespaces and a fault proxy in front of the
// API server with profile, drawn from seed, and returns them with the
// proxy's kubeconfig; the retries' backoff is shortened for the test.
func lostAnswers(t *testing.T, profile faultproxy.Profile, seed int64) ([]string, *faultproxy.Proxy, string) {
	t.Helper()
	var namespaces []string
	for range 12 {
		namespaces = append(namespaces, env.Namespace(t, nil))
	}
	p, err := faultproxy.Start(env.Config, profile, seed)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = p.Close() })
	kc, err := p.WriteKubeconfig(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	old := kube.Backoff
	kube.Backoff.Duration = 20 * time.Millisecond
	t.Cleanup(func() { kube.Backoff = old })
	return namespaces, p, kc
}
