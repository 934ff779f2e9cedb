package cli

import (
	"context"
	"encoding/json"
	"fmt"
	"strings"
	"sync"
	"testing"
	"time"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/kubectl-waypoint/kubectl-waypoint/internal/faultproxy"
	"github.com/kubectl-waypoint/kubectl-waypoint/internal/testenv"
	"github.com/kubectl-waypoint/kubectl-waypoint/pkg/bulk"
	"github.com/kubectl-waypoint/kubectl-waypoint/pkg/kube"
)

// faultProfiles are the fault profiles bulk work must get right after at
// most one re-run. The rates are per request.
var faultProfiles = []faultproxy.Profile{
	{Name: "throttle", Throttle: 0.1},
	{Name: "5xx-before", ErrorBefore: 0.15},
	{Name: "5xx-after", ErrorAfter: 0.15},
	{Name: "5xx-after, Retry-After", ErrorAfter: 0.15, RetryAfter: true},
	{Name: "resets", ResetBefore: 0.05, ResetAfter: 0.05},
	{Name: "latency", Latency: 50 * time.Millisecond},
	{Name: "mixed", Throttle: 0.03, ErrorBefore: 0.05, ErrorAfter: 0.05, ResetBefore: 0.03, ResetAfter: 0.03},
}

// faultFixture is the set of namespaces bulk work runs over, and one
// outside it that must never change.
type faultFixture struct {
	namespaces []string
	outsider   string
	kubeconfig string
	proxy      *faultproxy.Proxy
}

const faultNamespaces = 50

func newFaultFixture(t *testing.T) *faultFixture {
	t.Helper()
	fx := &faultFixture{}
	for range faultNamespaces {
		ns := env.Namespace(t, map[string]string{"istio.io/dataplane-mode": "ambient", "team": "payments"})
		env.Service(t, ns, "app", map[string]string{"team": "payments"})
		fx.namespaces = append(fx.namespaces, ns)
	}
	fx.outsider = env.Namespace(t, map[string]string{"istio.io/use-waypoint": "theirs"})
	env.Waypoint(t, fx.outsider, "waypoint", nil)
	env.Service(t, fx.outsider, "app", map[string]string{"istio.io/use-waypoint": "theirs"})
	p, err := faultproxy.Start(env.Config, faultproxy.Profile{}, 1)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = p.Close() })
	fx.proxy = p
	if fx.kubeconfig, err = p.WriteKubeconfig(t.TempDir()); err != nil {
		t.Fatal(err)
	}
	old := kube.Backoff
	kube.Backoff.Duration = 50 * time.Millisecond
	t.Cleanup(func() { kube.Backoff = old })
	return fx
}

// run runs the tool through the proxy with -o json and returns the report.
func (fx *faultFixture) run(t *testing.T, args ...string) (*bulk.Report, int, string) {
	t.Helper()
	args = append(args, "-n", strings.Join(fx.namespaces, ","), "-o", "json", "--kubeconfig", fx.kubeconfig)
	stdout, stderr, code := run(t, false, args...)
	var rep bulk.Report
	if err := json.Unmarshal([]byte(stdout), &rep); err != nil {
		t.Fatalf("%v: exit %d, no report (%v); stdout %q stderr %q", args[:3], code, err, stdout, stderr)
	}
	if (code == 0) != (rep.Summary.Failed == 0) {
		t.Errorf("%v: exit %d but the report says %d failed", args[:3], code, rep.Summary.Failed)
	}
	return &rep, code, stderr
}

// faultTally is what docs/reliability.md reports per profile.
type faultTally struct {
	runs, reruns, wrongRecords, lostLabels int
}

// state is what the cluster holds for one namespace of the fixture.
type state struct {
	gateway       bool
	nsWaypoint    string
	svcWaypoint   string
	nsTeam        string
	svcTeam       string
	nsHasWaypoint bool
	svcHas        bool
}

func (fx *faultFixture) read(t *testing.T, ns string) state {
	t.Helper()
	c := context.Background()
	n, err := env.Kube.CoreV1().Namespaces().Get(c, ns, metav1.GetOptions{})
	if err != nil {
		t.Fatal(err)
	}
	s, err := env.Kube.CoreV1().Services(ns).Get(c, "app", metav1.GetOptions{})
	if err != nil {
		t.Fatal(err)
	}
	_, gwErr := env.Gateway.GatewayV1().Gateways(ns).Get(c, "waypoint", metav1.GetOptions{})
	st := state{gateway: gwErr == nil, nsTeam: n.Labels["team"], svcTeam: s.Labels["team"]}
	st.nsWaypoint, st.nsHasWaypoint = n.Labels["istio.io/use-waypoint"]
	st.svcWaypoint, st.svcHas = s.Labels["istio.io/use-waypoint"]
	return st
}

// step runs one bulk command under the proxy's faults, re-runs it once if
// it failed, and checks the records against the cluster and the final
// state with want.
func (fx *faultFixture) step(t *testing.T, tally *faultTally, want func(state) bool, args ...string) {
	t.Helper()
	for attempt := 0; attempt < 2; attempt++ {
		tally.runs++
		if attempt > 0 {
			tally.reruns++
		}
		rep, code, stderr := fx.run(t, args...)
		tally.wrongRecords += fx.checkRecords(t, rep)
		if code == 0 {
			break
		}
		if attempt == 1 {
			t.Errorf("%v still failed after one re-run: exit %d, %s", args, code, stderr)
		}
	}
	for _, ns := range fx.namespaces {
		st := fx.read(t, ns)
		if st.nsTeam != "payments" || st.svcTeam != "payments" {
			tally.lostLabels++
			t.Errorf("%s: another writer's label was lost: %+v", ns, st)
		}
		if !want(st) {
			t.Errorf("%v: %s ends as %+v", args, ns, st)
		}
	}
	o := fx.read(t, fx.outsider)
	if !o.gateway || o.nsWaypoint != "theirs" || o.svcWaypoint != "theirs" {
		t.Errorf("%v changed namespace %s outside the target set: %+v", args, fx.outsider, o)
	}
}

// checkRecords counts the records that do not match the cluster: an object
// reported done must be as the action says.
func (fx *faultFixture) checkRecords(t *testing.T, rep *bulk.Report) int {
	t.Helper()
	wrong := 0
	states := map[string]state{}
	for _, r := range rep.Records {
		if r.Action == bulk.Failed || r.Action == bulk.Skipped {
			continue
		}
		ns := r.Namespace
		if r.Kind == "Namespace" {
			ns = r.Name
		}
		st, seen := states[ns]
		if !seen {
			st = fx.read(t, ns)
			states[ns] = st
		}
		ok := true
		switch {
		case r.Kind == "Gateway" && r.Action == bulk.Deleted:
			ok = !st.gateway
		case r.Kind == "Gateway":
			ok = st.gateway
		case r.Kind == "Namespace" && (r.Action == bulk.Enrolled || r.Action == bulk.Unchanged) && rep.Summary.Counts[bulk.Unenrolled] == 0:
			ok = st.nsWaypoint == "waypoint"
		case r.Kind == "Namespace" && r.Action == bulk.Unenrolled:
			ok = !st.nsHasWaypoint
		case r.Kind == "Service" && r.Action == bulk.Enrolled:
			ok = st.svcWaypoint == "waypoint"
		case r.Kind == "Service" && r.Action == bulk.Unenrolled:
			ok = !st.svcHas
		}
		if !ok {
			wrong++
			t.Errorf("record %+v does not match the cluster: %+v", r, st)
		}
	}
	return wrong
}

// TestBulkUnderFaults runs bulk apply, enroll, unenroll and delete over 50
// namespaces under each fault profile: after at most one re-run the state
// is right, every record matches the cluster, nothing outside the target
// set changed and no label of another writer was lost.
func TestBulkUnderFaults(t *testing.T) {
	fx := newFaultFixture(t)
	var summary []string
	for _, profile := range faultProfiles {
		t.Run(profile.Name, func(t *testing.T) {
			fx.proxy.SetProfile(faultproxy.Profile{})
			before := fx.proxy.Counts()
			fx.proxy.SetProfile(profile)
			tally := &faultTally{}
			fx.step(t, tally, func(s state) bool { return s.gateway && s.nsWaypoint == "waypoint" },
				"apply", "--enroll-namespace")
			fx.step(t, tally, func(s state) bool { return s.svcWaypoint == "waypoint" },
				"enroll", "service", "app", "--waypoint", "waypoint")
			fx.step(t, tally, func(s state) bool { return !s.svcHas },
				"unenroll", "service", "app")
			fx.step(t, tally, func(s state) bool { return !s.gateway && !s.nsHasWaypoint },
				"delete", "--all", "--unenroll")
			after := fx.proxy.Counts()
			faults := (after.Throttled - before.Throttled) + (after.ErrorsBefore - before.ErrorsBefore) + (after.ErrorsAfter - before.ErrorsAfter) +
				(after.ResetsBefore - before.ResetsBefore) + (after.ResetsAfter - before.ResetsAfter) + (after.WatchesCut - before.WatchesCut)
			summary = append(summary, fmt.Sprintf("| %s | %d | %d | %d | %d | %d | %d |", profile.Name, after.Requests-before.Requests, faults,
				tally.runs, tally.reruns, tally.wrongRecords, tally.lostLabels))
		})
	}
	t.Logf("profile | requests | faults injected | runs | re-runs | wrong records | lost labels\n%s", strings.Join(summary, "\n"))
}

// TestBulkConcurrentWriter flips istio.io/use-waypoint and another label on
// the namespaces while bulk apply --enroll-namespace runs (with and without
// --wait): the other writer's labels are never lost, a namespace it
// enrolled elsewhere is never switched back without --overwrite, and every
// record of a namespace it did not touch matches the cluster.
func TestBulkConcurrentWriter(t *testing.T) {
	fx := newFaultFixture(t)
	for _, wait := range []bool{false, true} {
		t.Run(fmt.Sprintf("wait=%v", wait), func(t *testing.T) {
			ctx, cancel := context.WithCancel(context.Background())
			defer cancel()
			var mu sync.Mutex
			touched := map[string]string{} // namespace → last use-waypoint written
			team := map[string]string{}
			done := make(chan struct{})
			go func() {
				defer close(done)
				for i := 0; ctx.Err() == nil; i++ {
					ns := fx.namespaces[(i*7)%len(fx.namespaces)]
					if i%3 == 0 {
						continue
					}
					v := fmt.Sprintf("other-%d", i)
					labels := map[string]string{"team": v}
					if i%2 == 0 {
						labels["istio.io/use-waypoint"] = v
					}
					body, _ := json.Marshal(map[string]any{"metadata": map[string]any{"labels": labels}})
					if _, err := env.Kube.CoreV1().Namespaces().Patch(context.Background(), ns, "application/merge-patch+json", body, metav1.PatchOptions{}); err != nil {
						continue
					}
					mu.Lock()
					team[ns] = v
					if i%2 == 0 {
						touched[ns] = v
					}
					mu.Unlock()
					time.Sleep(5 * time.Millisecond)
				}
			}()
			args := []string{"apply", "--enroll-namespace"}
			if wait {
				args = append(args, "--wait", "--timeout", "60s")
			}
			rep, _, _ := fx.run(t, args...)
			cancel()
			<-done
			for _, ns := range fx.namespaces {
				st := fx.read(t, ns)
				if want, ok := team[ns]; ok && st.nsTeam != want {
					t.Errorf("%s: team label %q, the other writer last wrote %q", ns, st.nsTeam, want)
				}
				if want, ok := touched[ns]; ok && st.nsWaypoint != want {
					t.Errorf("%s: use-waypoint %q, the other writer last wrote %q and no --overwrite was given", ns, st.nsWaypoint, want)
				}
			}
			for _, r := range rep.Records {
				if _, ok := touched[r.Namespace+r.Name]; ok || r.Kind != "Namespace" || r.Action == bulk.Failed {
					continue
				}
				if st := fx.read(t, r.Name); st.nsWaypoint != "waypoint" {
					t.Errorf("record %+v, but the namespace has %+v", r, st)
				}
			}
			// Reset for the next round: delete the waypoints, unenroll.
			_, _, _ = fx.run(t, "delete", "--all", "--unenroll")
			labels := map[string]string{"team": "payments"}
			for _, ns := range fx.namespaces {
				body, _ := json.Marshal(map[string]any{"metadata": map[string]any{"labels": map[string]any{"team": labels["team"], "istio.io/use-waypoint": nil}}})
				if _, err := env.Kube.CoreV1().Namespaces().Patch(context.Background(), ns, "application/merge-patch+json", body, metav1.PatchOptions{}); err != nil {
					t.Fatal(err)
				}
			}
		})
	}
}

var _ = testenv.AmbientLabels
