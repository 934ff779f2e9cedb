package cli

import (
	"context"
	"encoding/json"
	"fmt"
	"os"
	"strconv"
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
	if stdout == "" && code != 0 && strings.Contains(stderr, "; nothing was ") {
		// A check that guards the writes could not be made: refused
		// before any write, with no report.
		return nil, code, stderr
	}
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
	runs, reruns, refusedWhole, records, wrongRecords, lostLabels int
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
// it failed, audits every report against the cluster read before and after
// it, and checks the final state with want. about says which objects of a
// namespace, in the state before the run, the command is about: each gets
// exactly one record.
func (fx *faultFixture) step(t *testing.T, tally *faultTally, about func(kind string, before state) bool, want func(state) bool, args ...string) {
	t.Helper()
	for attempt := 0; attempt < 2; attempt++ {
		tally.runs++
		if attempt > 0 {
			tally.reruns++
		}
		before := fx.readAll(t)
		rep, code, stderr := fx.run(t, args...)
		after := fx.readAll(t)
		if rep == nil {
			tally.refusedWhole++
			rep = &bulk.Report{}
		}
		tally.records += len(rep.Records)
		tally.wrongRecords += fx.audit(t, rep, before, after, about)
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

// readAll reads the state of every namespace of the fixture, directly
// from the API server.
func (fx *faultFixture) readAll(t *testing.T) map[string]state {
	t.Helper()
	// Three lists across the cluster, not three reads per namespace.
	c := context.Background()
	nss, err := env.Kube.CoreV1().Namespaces().List(c, metav1.ListOptions{})
	if err != nil {
		t.Fatal(err)
	}
	svcs, err := env.Kube.CoreV1().Services("").List(c, metav1.ListOptions{FieldSelector: "metadata.name=app"})
	if err != nil {
		t.Fatal(err)
	}
	gws, err := env.Gateway.GatewayV1().Gateways("").List(c, metav1.ListOptions{FieldSelector: "metadata.name=waypoint"})
	if err != nil {
		t.Fatal(err)
	}
	out := map[string]state{}
	for _, ns := range fx.namespaces {
		out[ns] = state{}
	}
	for _, n := range nss.Items {
		st, ok := out[n.Name]
		if !ok {
			continue
		}
		st.nsTeam = n.Labels["team"]
		st.nsWaypoint, st.nsHasWaypoint = n.Labels["istio.io/use-waypoint"]
		out[n.Name] = st
	}
	for _, svc := range svcs.Items {
		if st, ok := out[svc.Namespace]; ok {
			st.svcTeam = svc.Labels["team"]
			st.svcWaypoint, st.svcHas = svc.Labels["istio.io/use-waypoint"]
			out[svc.Namespace] = st
		}
	}
	for _, gw := range gws.Items {
		if st, ok := out[gw.Namespace]; ok {
			st.gateway = true
			out[gw.Namespace] = st
		}
	}
	return out
}

// audit counts the wrong records of a report: a record whose action, before
// or after does not match what the cluster held before and after the run, a
// second record of one object, and a missing record of an object the run was
// about. A record that did nothing (failed, skipped, not started,
// unchanged) must leave its object as it was.
func (fx *faultFixture) audit(t *testing.T, rep *bulk.Report, before, after map[string]state, about func(kind string, before state) bool) int {
	t.Helper()
	wrong := 0
	seen := map[string]bool{}
	for _, r := range rep.Records {
		ns := r.Namespace
		if r.Kind == "Namespace" {
			ns = r.Name
		}
		key := r.Kind + " " + ns
		b, known := before[ns]
		a := after[ns]
		if !known || seen[key] || !about(r.Kind, b) {
			wrong++
			t.Errorf("record %+v: a second record, or of an object the run is not about", r)
			continue
		}
		seen[key] = true
		if why := recordMismatch(r, b, a); why != "" {
			wrong++
			t.Errorf("record %+v: %s; before %+v, after %+v", r, why, b, a)
		}
	}
	for _, ns := range fx.namespaces {
		for _, kind := range []string{"Gateway", "Namespace", "Service"} {
			if about(kind, before[ns]) && !seen[kind+" "+ns] && rep.Summary.Total > 0 {
				wrong++
				t.Errorf("no record of %s %s", kind, ns)
			}
		}
	}
	return wrong
}

// recordMismatch says how one record differs from the cluster read before
// and after its run, or "" when it is true.
func recordMismatch(r bulk.Record, b, a state) string {
	if r.Kind == "Gateway" {
		switch r.Action {
		case bulk.Created:
			if b.gateway || !a.gateway {
				return "created, but it existed before or does not now"
			}
		case bulk.Configured, bulk.Unchanged:
			if !b.gateway || !a.gateway {
				return string(r.Action) + ", but it did not exist before or does not now"
			}
		case bulk.Deleted:
			if !b.gateway || a.gateway {
				return "deleted, but it did not exist before or still does"
			}
		default:
			if a.gateway != b.gateway {
				return string(r.Action) + ", but the Gateway was created or deleted"
			}
		}
		return ""
	}
	bv, bHas, av, aHas := b.nsWaypoint, b.nsHasWaypoint, a.nsWaypoint, a.nsHasWaypoint
	if r.Kind == "Service" {
		bv, bHas, av, aHas = b.svcWaypoint, b.svcHas, a.svcWaypoint, a.svcHas
	}
	if r.Before != nil {
		if v, ok := r.Before["istio.io/use-waypoint"]; v != bv || ok != bHas {
			return fmt.Sprintf("before says use-waypoint %q (%v)", v, ok)
		}
	}
	if r.After != nil {
		if v, ok := r.After["istio.io/use-waypoint"]; v != av || ok != aHas {
			return fmt.Sprintf("after says use-waypoint %q (%v)", v, ok)
		}
	}
	switch r.Action {
	case bulk.Enrolled:
		if bv == av || av != "waypoint" {
			return "enrolled, but the label did not change to waypoint"
		}
	case bulk.Unenrolled:
		if !bHas || aHas {
			return "unenrolled, but the label was not there before or still is"
		}
	default:
		if bv != av || bHas != aHas {
			return string(r.Action) + ", but the label changed"
		}
	}
	return ""
}

// TestBulkUnderFaults runs bulk apply (create, then configure), enroll,
// unenroll and delete over 50
// namespaces under each fault profile: after at most one re-run the state
// is right, every record of every run is audited against the cluster read
// before and after it (and every object the run was about has exactly one),
// nothing outside the target set changed and no label of another writer
// was lost. make faults runs 4 rounds (docs/reliability.md).
func TestBulkUnderFaults(t *testing.T) {
	fx := newFaultFixture(t)
	var summary []string
	for _, profile := range faultProfiles {
		t.Run(profile.Name, func(t *testing.T) {
			fx.proxy.SetProfile(faultproxy.Profile{})
			before := fx.proxy.Counts()
			fx.proxy.SetProfile(profile)
			tally := &faultTally{}
			for range faultRounds(t) {
				fx.step(t, tally, func(kind string, _ state) bool { return kind == "Gateway" || kind == "Namespace" },
					func(s state) bool { return s.gateway && s.nsWaypoint == "waypoint" },
					"apply", "--enroll-namespace")
				fx.step(t, tally, func(kind string, _ state) bool { return kind == "Service" },
					func(s state) bool { return s.svcWaypoint == "waypoint" },
					"enroll", "service", "app", "--waypoint", "waypoint")
				fx.step(t, tally, func(kind string, _ state) bool { return kind == "Service" },
					func(s state) bool { return !s.svcHas },
					"unenroll", "service", "app")
				// A change of every waypoint (configured), which keeps the
				// enrolled namespaces bound.
				fx.step(t, tally, func(kind string, _ state) bool { return kind == "Gateway" },
					func(s state) bool { return s.gateway && s.nsWaypoint == "waypoint" },
					"apply", "--for", "all")
				// delete --all is about the waypoints there are, and the
				// namespaces enrolled in them.
				fx.step(t, tally, func(kind string, b state) bool {
					return kind == "Gateway" && b.gateway || kind == "Namespace" && b.nsHasWaypoint
				}, func(s state) bool { return !s.gateway && !s.nsHasWaypoint },
					"delete", "--all", "--unenroll")
			}
			after := fx.proxy.Counts()
			faults := (after.Throttled - before.Throttled) + (after.ErrorsBefore - before.ErrorsBefore) + (after.ErrorsAfter - before.ErrorsAfter) +
				(after.ResetsBefore - before.ResetsBefore) + (after.ResetsAfter - before.ResetsAfter) + (after.WatchesCut - before.WatchesCut)
			if profile.Latency == 0 && faults == 0 {
				t.Errorf("no fault was injected in %d requests: the profile proves nothing", after.Requests-before.Requests)
			}
			summary = append(summary, fmt.Sprintf("| %s | %d | %d | %d | %d | %d | %d | %d | %d |", profile.Name, after.Requests-before.Requests, faults,
				tally.runs, tally.reruns, tally.refusedWhole, tally.records, tally.wrongRecords, tally.lostLabels))
		})
	}
	t.Logf("profile | requests | faults injected | runs | re-runs | refused whole | records | wrong records | lost labels\n%s", strings.Join(summary, "\n"))
}

// faultRounds is how many times TestBulkUnderFaults runs its four commands
// per profile: 1, or WAYPOINT_FAULT_ROUNDS (make faults), for the figure of
// docs/reliability.md.
func faultRounds(t *testing.T) int {
	v := os.Getenv("WAYPOINT_FAULT_ROUNDS")
	if v == "" {
		return 1
	}
	n, err := strconv.Atoi(v)
	if err != nil || n < 1 {
		t.Fatalf("WAYPOINT_FAULT_ROUNDS=%q: want a number of rounds", v)
	}
	return n
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
				// Every namespace in turn (7 and 50 are coprime), each
				// pass over them giving every other one the other kind of
				// change (only team, or team and use-waypoint), so that
				// two passes race both on every namespace.
				n := len(fx.namespaces)
				for i := 0; ctx.Err() == nil; i++ {
					ns := fx.namespaces[(i*7)%n]
					enrolls := (i%n+i/n)%2 == 1
					v := fmt.Sprintf("other-%d", i)
					labels := map[string]string{"team": v}
					if enrolls {
						labels["istio.io/use-waypoint"] = v
					}
					body, _ := json.Marshal(map[string]any{"metadata": map[string]any{"labels": labels}})
					if _, err := env.Kube.CoreV1().Namespaces().Patch(context.Background(), ns, "application/merge-patch+json", body, metav1.PatchOptions{}); err != nil {
						continue
					}
					mu.Lock()
					team[ns] = v
					if enrolls {
						touched[ns] = v
					}
					mu.Unlock()
					time.Sleep(time.Millisecond)
				}
			}()
			// The tool's requests are slowed and two at a time, so that the
			// writer, straight to the server, races on every namespace.
			fx.proxy.SetProfile(faultproxy.Profile{Name: "slow", Latency: 30 * time.Millisecond})
			defer fx.proxy.SetProfile(faultproxy.Profile{})
			args := []string{"apply", "--enroll-namespace", "--concurrency", "2"}
			if wait {
				args = append(args, "--wait", "--timeout", "60s")
			}
			rep, _, _ := fx.run(t, args...)
			cancel()
			<-done
			if len(team) != len(fx.namespaces) || len(touched) == 0 {
				t.Errorf("the other writer raced on %d of %d namespaces (%d with use-waypoint): the test proves less than it says", len(team), len(fx.namespaces), len(touched))
			}
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
