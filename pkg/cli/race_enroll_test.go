package cli

import (
	"context"
	"encoding/json"
	"fmt"
	"sync"
	"testing"
	"time"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/kubectl-waypoint/kubectl-waypoint/pkg/bulk"
)

// serviceFlipper is another writer of the fixture's services: while it
// runs it patches team (and, every other time, istio.io/use-waypoint) on
// them, and remembers the last value it wrote to each.
type serviceFlipper struct {
	mu      sync.Mutex
	team    map[string]string // namespace → last team written
	touched map[string]string // namespace → last use-waypoint written
	cancel  context.CancelFunc
	done    chan struct{}
}

func flipServices(namespaces []string) *serviceFlipper {
	ctx, cancel := context.WithCancel(context.Background())
	f := &serviceFlipper{team: map[string]string{}, touched: map[string]string{}, cancel: cancel, done: make(chan struct{})}
	go func() {
		defer close(f.done)
		for i := 0; ctx.Err() == nil; i++ {
			if i%3 == 0 {
				continue
			}
			ns := namespaces[(i*7)%len(namespaces)]
			v := fmt.Sprintf("other-%d", i)
			labels := map[string]string{"team": v}
			if i%2 == 0 {
				labels["istio.io/use-waypoint"] = v
			}
			body, _ := json.Marshal(map[string]any{"metadata": map[string]any{"labels": labels}})
			if _, err := env.Kube.CoreV1().Services(ns).Patch(context.Background(), "app", "application/merge-patch+json", body, metav1.PatchOptions{}); err != nil {
				continue
			}
			f.mu.Lock()
			f.team[ns] = v
			if i%2 == 0 {
				f.touched[ns] = v
			}
			f.mu.Unlock()
			time.Sleep(5 * time.Millisecond)
		}
	}()
	return f
}

func (f *serviceFlipper) stop() {
	f.cancel()
	<-f.done
}

// TestBulkEnrollConcurrentWriter flips istio.io/use-waypoint and team on
// the services while bulk enroll and then bulk unenroll run over 50
// namespaces (neither has --wait; apply's is TestBulkConcurrentWriter):
// the other writer's team label always survives, enroll never replaces its
// enrollment (no --overwrite), unenroll never puts ours back, and every
// record of a service it did not touch matches the cluster. Both replace
// or remove a value they read, as asked; what matters is a value written
// after the read, which the record's Before tells apart.
func TestBulkEnrollConcurrentWriter(t *testing.T) {
	fx := newFaultFixture(t)
	if rep, code, stderr := fx.run(t, "apply"); code != 0 {
		t.Fatalf("apply: exit %d, %+v: %s", code, rep.Summary, stderr)
	}

	w := flipServices(fx.namespaces)
	rep, _, _ := fx.run(t, "enroll", "service", "app", "--waypoint", "waypoint")
	w.stop()
	before := readBefore(rep)
	for _, ns := range fx.namespaces {
		st := fx.read(t, ns)
		if want, ok := w.team[ns]; ok && st.svcTeam != want {
			t.Errorf("enroll: %s: team %q, the other writer last wrote %q", ns, st.svcTeam, want)
		}
		// enroll replaces a value it read (that is what it is for), never
		// one written after its read.
		if want, ok := w.touched[ns]; ok && st.svcWaypoint != want &&
			(st.svcWaypoint != "waypoint" || before[ns] != want) {
			t.Errorf("enroll: %s: use-waypoint %q; the other writer last wrote %q, after enroll read %q", ns, st.svcWaypoint, want, before[ns])
		}
	}
	checked := 0
	for _, r := range rep.Records {
		if _, ok := w.touched[r.Namespace]; ok || r.Kind != "Service" || r.Action != bulk.Enrolled {
			continue
		}
		checked++
		if st := fx.read(t, r.Namespace); st.svcWaypoint != "waypoint" {
			t.Errorf("enroll: record %+v, but the service has use-waypoint %q", r, st.svcWaypoint)
		}
	}
	if checked == 0 || len(w.touched) == 0 {
		t.Fatalf("nothing to check: %d records enrolled untouched services, the writer touched %d", checked, len(w.touched))
	}

	// Every service enrolled again, then unenroll under the same writer.
	for _, ns := range fx.namespaces {
		body := []byte(`{"metadata":{"labels":{"team":"payments","istio.io/use-waypoint":"waypoint"}}}`)
		if _, err := env.Kube.CoreV1().Services(ns).Patch(context.Background(), "app", "application/merge-patch+json", body, metav1.PatchOptions{}); err != nil {
			t.Fatal(err)
		}
	}
	w = flipServices(fx.namespaces)
	rep, _, _ = fx.run(t, "unenroll", "service", "app")
	w.stop()
	before = readBefore(rep)
	for _, ns := range fx.namespaces {
		st := fx.read(t, ns)
		if want, ok := w.team[ns]; ok && st.svcTeam != want {
			t.Errorf("unenroll: %s: team %q, the other writer last wrote %q", ns, st.svcTeam, want)
		}
		// What the writer set after unenroll read the service stays; what
		// it set before, unenroll was asked to remove.
		if want, ok := w.touched[ns]; ok && st.svcWaypoint != want && (st.svcHas || before[ns] != want) {
			t.Errorf("unenroll: %s: use-waypoint %q (set: %v); the other writer last wrote %q, after unenroll read %q", ns, st.svcWaypoint, st.svcHas, want, before[ns])
		}
	}
	checked = 0
	for _, r := range rep.Records {
		if _, ok := w.touched[r.Namespace]; ok || r.Kind != "Service" || r.Action != bulk.Unenrolled {
			continue
		}
		checked++
		if st := fx.read(t, r.Namespace); st.svcHas {
			t.Errorf("unenroll: record %+v, but the service has use-waypoint %q", r, st.svcWaypoint)
		}
	}
	if checked == 0 {
		t.Fatal("no record of an untouched service was unenrolled")
	}
}

// readBefore is, per namespace, the istio.io/use-waypoint of its service
// as the command read it (its record's Before).
func readBefore(rep *bulk.Report) map[string]string {
	out := map[string]string{}
	for _, r := range rep.Records {
		if r.Kind == "Service" {
			out[r.Namespace] = r.Before["istio.io/use-waypoint"]
		}
	}
	return out
}
