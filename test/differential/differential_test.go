package differential_test

import (
	"fmt"
	"maps"
	"math/rand/v2"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/kubectl-waypoint/kubectl-waypoint/pkg/enroll"
	"github.com/kubectl-waypoint/kubectl-waypoint/pkg/istio"
)

// staticSize is the world of TestDifferentialAgainstIstiod: 2 namespaces
// of 10 waypoints and 6 others of 2, 66 objects in each namespace (528 in
// all).
var staticSize = worldSize{waypointNamespaces: 2, otherNamespaces: 6, waypointsPerNamespace: 10, waypointsPerOther: 2, objectsPerNamespace: 66}

// TestUnitGenerator checks, without a server, that the generated world of
// the seed CI runs has the size the done-when of the differential asks and
// reaches every dimension.
func TestUnitGenerator(t *testing.T) {
	w := newWorld(rand.New(rand.NewPCG(uint64(defaultSeed), 0)), "gen", staticSize)
	kinds := map[enroll.Kind]int{}
	seen := map[string]bool{}
	for _, o := range w.objects {
		kinds[o.kind]++
		if seen[o.key()] {
			t.Errorf("duplicate %s", o.key())
		}
		seen[o.key()] = true
		for k, v := range o.labels {
			switch {
			case k == istio.LabelUseWaypoint && v == "":
				seen["object names the empty waypoint"] = true
			case k == istio.LabelUseWaypoint && v == istio.NoWaypoint:
				seen["object opts out"] = true
			case k == istio.LabelUseWaypoint && v == "missing":
				seen["object names a missing waypoint"] = true
			case k == istio.LabelUseWaypointCanary:
				seen["canary"] = true
			case k == istio.LabelGatewayName:
				seen["claims a waypoint instance"] = true
			case k == istio.LabelGatewayManaged:
				seen["east-west"] = true
			}
		}
		if o.externalName {
			seen["ExternalName"] = true
		}
		if o.kind == enroll.KindPod && o.app != "" {
			seen["pod with a service"] = true
		}
		if o.kind == enroll.KindPod && o.app == "" {
			seen["pod without a service"] = true
		}
		if o.labels[istio.LabelUseWaypointNamespace] != "" && o.labels[istio.LabelUseWaypointNamespace] != o.ns {
			seen["cross-namespace"] = true
		}
	}
	for _, ns := range w.namespaces {
		if ns.labels[istio.LabelUseWaypoint] != "" {
			seen["namespace names a waypoint"] = true
		}
		if ns.labels[visibilityLabel] != "" {
			seen["NAMESPACE visibility"] = true
		}
		if ns.labels[istio.LabelDataplaneMode] == "" {
			seen["namespace not ambient"] = true
		}
	}
	for _, g := range w.waypoints {
		switch {
		case g.class != "":
			seen["type from class"] = true
		case g.labels[istio.LabelWaypointFor] != "":
			seen["type from label"] = true
		default:
			seen["type from nowhere"] = true
		}
		seen["from "+string(g.from)+" "+g.selector] = true
		if g.binding {
			seen["inbound binding"] = true
		}
		if g.held {
			seen["held"] = true
		}
		if g.labels[istio.LabelRev] != "" {
			seen["revision"] = true
		}
	}
	for _, want := range []string{
		"object names the empty waypoint", "object opts out", "object names a missing waypoint", "canary",
		"claims a waypoint instance", "east-west", "ExternalName", "pod with a service", "pod without a service",
		"cross-namespace", "namespace names a waypoint", "NAMESPACE visibility", "namespace not ambient",
		"type from class", "type from label", "type from nowhere", "from  ", "from Same ", "from All ",
		"from Selector team", "from Selector names", "inbound binding", "held", "revision",
	} {
		if !seen[want] {
			t.Errorf("the world of seed %d lacks %q", defaultSeed, want)
		}
	}
	if len(w.objects) < 500 || kinds[enroll.KindPod] == 0 {
		t.Errorf("%d objects %v, want at least 500 with pods", len(w.objects), kinds)
	}
	t.Logf("%d objects %v, %d waypoints", len(w.objects), kinds, len(w.waypoints))
}

// TestDifferentialAgainstIstiod creates a generated world of more than 500
// objects and compares, for each, explain's answer with istiod's.
func TestDifferentialAgainstIstiod(t *testing.T) {
	t.Parallel()
	setup(t)
	s := seed(t)
	w := newWorld(rand.New(rand.NewPCG(uint64(s), 0)), "gen", staticSize)
	start := time.Now()
	w.create(t)
	t.Logf("seed %d: created %d namespaces, %d waypoints and %d objects in %s", s, len(w.namespaces), len(w.waypoints), len(w.objects), time.Since(start).Round(time.Millisecond))

	var names []string
	for _, ns := range w.namespaces {
		names = append(names, ns.name)
	}
	start = time.Now()
	r, err := agree(t.Context(), w.objects, names, 2*time.Minute, time.Second)
	if err != nil {
		t.Fatalf("seed %d: %v", s, err)
	}
	if len(r.mismatches) > 0 {
		t.Fatalf("seed %d: explain and istiod disagree on %d of %d objects:\n  %s", s, len(r.mismatches), len(w.objects), strings.Join(r.mismatches, "\n  "))
	}
	t.Logf("seed %d: explain agrees with istiod on all %d objects (%d not in ambientz) in %s: %s", s, len(w.objects), r.absent, time.Since(start).Round(time.Millisecond), tally(r.answers))
	// An agreement proves something only where istiod said something:
	// every kind bound to a waypoint, every reason istiod writes.
	covered := map[string]bool{}
	for k := range r.answers {
		covered[k] = true
		if _, reason, ok := strings.Cut(k, ": none, "); ok {
			covered[reason] = true
		}
	}
	for _, want := range []string{"service: a waypoint", "serviceentry: a waypoint", "workloadentry: a waypoint", "pod: a waypoint",
		enroll.ReasonNotReady, enroll.ReasonAttachmentDenied, enroll.ReasonUnsupportedTrafficType, enroll.ReasonCrossNamespaceForbidden} {
		if !covered[want] {
			t.Errorf("seed %d: no object got %q: the world does not cover it", s, want)
		}
	}
}

// tally prints counts sorted by key.
func tally(m map[string]int) string {
	keys := slices.Sorted(maps.Keys(m))
	var b strings.Builder
	for _, k := range keys {
		fmt.Fprintf(&b, "\n  %4d %s", m[k], k)
	}
	return b.String()
}

// transitionSize is each world of TestTransitionsAgainstIstiod: one
// namespace of 3 waypoints and 2 of 1, 6 objects in each.
var transitionSize = worldSize{waypointNamespaces: 1, otherNamespaces: 2, waypointsPerNamespace: 3, waypointsPerOther: 1, objectsPerNamespace: 6}

// Transitions: worlds × steps is the number of steps CI runs.
const (
	transitionWorlds = 4
	transitionSteps  = 50
)

// TestTransitionsAgainstIstiod walks random sequences of writes, most of
// them the tool's own (apply, delete, enroll, unenroll) and some by another
// hand (relabelling an object, a namespace or a waypoint), in small
// generated worlds that run side by side; after each step explain must
// agree with istiod on every object of the world.
func TestTransitionsAgainstIstiod(t *testing.T) {
	t.Parallel()
	setup(t)
	s := seed(t)
	var mu sync.Mutex
	outcomes := map[string]int{}
	for i := range transitionWorlds {
		t.Run(fmt.Sprintf("world%d", i), func(t *testing.T) {
			t.Parallel()
			w := newWorld(rand.New(rand.NewPCG(uint64(s), uint64(i+1))), fmt.Sprintf("t%d", i), transitionSize)
			w.create(t)
			var names []string
			for _, ns := range w.namespaces {
				names = append(names, ns.name)
			}
			var history []string
			check := func(step string) {
				t.Helper()
				history = append(history, step)
				r, err := agree(t.Context(), w.objects, names, 45*time.Second, 300*time.Millisecond)
				if err != nil {
					t.Fatalf("seed %d, world %d, after step %d: %v", s, i, len(history)-1, err)
				}
				if len(r.mismatches) > 0 {
					t.Fatalf("seed %d, world %d: after step %d, explain and istiod disagree on %d of %d objects:\n  %s\nthe steps:\n  %s",
						s, i, len(history)-1, len(r.mismatches), len(w.objects), strings.Join(r.mismatches, "\n  "), strings.Join(history, "\n  "))
				}
			}
			check("0. the generated world")
			for n := 1; n <= transitionSteps; n++ {
				desc, outcome := w.step(t)
				mu.Lock()
				outcomes[outcome]++
				mu.Unlock()
				check(fmt.Sprintf("%d. %s", n, desc))
			}
		})
	}
	t.Cleanup(func() {
		if !t.Failed() {
			t.Logf("seed %d: %d steps in %d worlds, explain agreeing with istiod after each; outcomes:%s", s, transitionWorlds*transitionSteps, transitionWorlds, tally(outcomes))
		}
	})
}
