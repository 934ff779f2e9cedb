package enroll

import (
	"context"
	"errors"
	"slices"
	"strings"
	"testing"

	"k8s.io/apimachinery/pkg/runtime"
	k8stesting "k8s.io/client-go/testing"
	gatewayv1 "sigs.k8s.io/gateway-api/apis/v1"

	"github.com/kubectl-waypoint/kubectl-waypoint/pkg/bulk"
	"github.com/kubectl-waypoint/kubectl-waypoint/pkg/istio"
	"github.com/kubectl-waypoint/kubectl-waypoint/pkg/mesh"
)

// selection is a cluster of three namespaces with services and pods.
func selection() *fakeCluster {
	return newFakeCluster(
		nsObj("a", map[string]string{"team": "x"}), nsObj("b", map[string]string{"team": "y"}), nsObj("c", nil),
		svcObj("a", "s1", map[string]string{"tier": "web"}), svcObj("a", "s2", nil),
		svcObj("b", "s1", map[string]string{"tier": "web"}), svcObj("b", "s3", map[string]string{"tier": "web"}),
		podObj("a", "p", nil),
		istioObj("ServiceEntry", "a", "se", nil),
	)
}

func targetKeys(ts []Target) []string {
	var out []string
	for _, t := range ts {
		out = append(out, t.Own()+"/"+t.Name)
	}
	return out
}

func TestSelectInNamespaces(t *testing.T) {
	ctx := context.Background()
	c := selection()
	// Named (with one missing), in the order asked.
	sel := SelectIn(ctx, c.clients(), KindNamespace, []string{"x"}, []string{"b", "nope", "a"}, "", 2)
	if !slices.Equal(targetKeys(sel.Targets), []string{"b/b", "a/a"}) || len(sel.Missing) != 1 || sel.Missing[0] != (Missing{Name: "nope"}) || len(sel.Failed) != 0 {
		t.Errorf("named: %v %v %v", targetKeys(sel.Targets), sel.Missing, sel.Failed)
	}
	if sel.Targets[0].Kind != KindNamespace || sel.Targets[0].Labels["team"] != "y" || sel.Targets[0].ResourceVersion != "1" {
		t.Errorf("target %+v", sel.Targets[0])
	}
	// Neither names nor a selector: the namespaces themselves.
	sel = SelectIn(ctx, c.clients(), KindNamespace, []string{"c", "a"}, nil, "", 2)
	if !slices.Equal(targetKeys(sel.Targets), []string{"c/c", "a/a"}) {
		t.Errorf("the namespaces: %v", targetKeys(sel.Targets))
	}
	// A selector.
	sel = SelectIn(ctx, c.clients(), KindNamespace, []string{"c"}, nil, "team", 2)
	if !slices.Equal(targetKeys(sel.Targets), []string{"a/a", "b/b"}) || sel.Missing != nil {
		t.Errorf("selected: %v", targetKeys(sel.Targets))
	}
	c.fail("list", "namespaces", errors.New("boom"))
	sel = SelectIn(ctx, c.clients(), KindNamespace, nil, nil, "team", 2)
	if len(sel.Targets) != 0 || len(sel.Failed) != 1 || sel.Failed[0].Name != "" || sel.Failed[0].Err.Error() != "cannot read namespaces: boom" {
		t.Errorf("a failing selection: %+v", sel)
	}
}

func TestSelectIn(t *testing.T) {
	ctx := context.Background()
	c := selection()
	sel := SelectIn(ctx, c.clients(), KindService, []string{"b", "a", "gone"}, []string{"s1", "s3"}, "", 2)
	if want := []string{"a/s1", "b/s1", "b/s3"}; !slices.Equal(targetKeys(sel.Targets), want) {
		t.Errorf("named: %v", targetKeys(sel.Targets))
	}
	if !slices.Equal(sel.Missing, []Missing{{Namespace: "a", Name: "s3"}}) {
		t.Errorf("missing %v", sel.Missing)
	}
	// A namespace that does not exist fails its objects, not the others.
	if len(sel.Failed) != 2 || sel.Failed[0].Namespace != "gone" || sel.Failed[0].Name != "s1" || sel.Failed[1].Name != "s3" ||
		sel.Failed[0].Err.Error() != `namespace "gone" not found; pick another with -n` {
		t.Errorf("failed %+v", sel.Failed)
	}
	if len(sel.NamespaceLabels) != 2 || sel.NamespaceLabels["a"]["team"] != "x" || sel.NamespaceLabels["b"]["team"] != "y" {
		t.Errorf("namespace labels %v", sel.NamespaceLabels)
	}
	if n := c.requests("get", "namespaces"); n != 0 {
		t.Errorf("several namespaces are listed once, not read: %d reads", n)
	}

	// By selector.
	c = selection()
	sel = SelectIn(ctx, c.clients(), KindService, []string{"b", "a"}, nil, "tier=web", 2)
	if want := []string{"a/s1", "b/s1", "b/s3"}; !slices.Equal(targetKeys(sel.Targets), want) || sel.Missing != nil || sel.Failed != nil {
		t.Errorf("selected: %v %v %v", targetKeys(sel.Targets), sel.Missing, sel.Failed)
	}

	// One namespace: read, not listed.
	c = selection()
	sel = SelectIn(ctx, c.clients(), KindPod, []string{"a"}, []string{"p"}, "", 2)
	if !slices.Equal(targetKeys(sel.Targets), []string{"a/p"}) || sel.NamespaceLabels["a"]["team"] != "x" ||
		c.requests("get", "namespaces") != 1 || c.requests("list", "namespaces") != 0 {
		t.Errorf("one namespace: %v %v", targetKeys(sel.Targets), sel.NamespaceLabels)
	}
	sel = SelectIn(ctx, c.clients(), KindPod, []string{"gone"}, nil, "", 2)
	if len(sel.Failed) != 1 || sel.Failed[0].Name != "" || sel.Failed[0].Err.Error() != `namespace "gone" not found; pick another with -n` {
		t.Errorf("one missing namespace: %+v", sel.Failed)
	}

	// No right to list namespaces: each is read.
	c = selection()
	c.fail("list", "namespaces", forbidden("namespaces"))
	sel = SelectIn(ctx, c.clients(), KindService, []string{"a", "b"}, []string{"s1"}, "", 2)
	if len(sel.Targets) != 2 || c.requests("get", "namespaces") != 2 {
		t.Errorf("namespaces read one by one: %v, %d reads", targetKeys(sel.Targets), c.requests("get", "namespaces"))
	}
	c.fail("get", "namespaces", forbidden("namespaces"))
	sel = SelectIn(ctx, c.clients(), KindService, []string{"a", "b"}, []string{"s1"}, "", 2)
	slices.SortFunc(sel.Failed, func(a, b ReadFailure) int { return strings.Compare(a.Namespace, b.Namespace) })
	if len(sel.Targets) != 0 || len(sel.Failed) != 2 || !strings.HasPrefix(sel.Failed[0].Err.Error(), "cannot read namespace a: forbidden") ||
		!strings.HasPrefix(sel.Failed[1].Err.Error(), "cannot read namespace b: forbidden") {
		t.Errorf("namespaces that cannot be read: %+v", sel.Failed)
	}
}

func TestSelectInFailures(t *testing.T) {
	ctx := context.Background()
	c := selection()
	c.metadata.PrependReactor("get", "services", func(a k8stesting.Action) (bool, runtime.Object, error) {
		if a.(k8stesting.GetAction).GetName() == "s2" {
			return true, nil, forbidden("services")
		}
		return false, nil, nil
	})
	sel := SelectIn(ctx, c.clients(), KindService, []string{"a"}, []string{"s1", "s2"}, "", 2)
	if !slices.Equal(targetKeys(sel.Targets), []string{"a/s1"}) || len(sel.Failed) != 1 || sel.Failed[0].Name != "s2" ||
		!strings.HasPrefix(sel.Failed[0].Err.Error(), "cannot read services: forbidden") {
		t.Errorf("one read fails: %v %+v", targetKeys(sel.Targets), sel.Failed)
	}

	// Without the Istio CRDs.
	c = selection()
	c.fail("get", "serviceentries", missingType("networking.istio.io", "serviceentries"))
	c.fail("list", "workloadentries", missingType("networking.istio.io", "workloadentries"))
	sel = SelectIn(ctx, c.clients(), KindServiceEntry, []string{"a"}, []string{"se"}, "", 2)
	if len(sel.Failed) != 1 || !errors.Is(sel.Failed[0].Err, ErrNoServiceEntries) || len(sel.Missing) != 0 {
		t.Errorf("no ServiceEntry CRD, by name: %+v %v", sel.Failed, sel.Missing)
	}
	sel = SelectIn(ctx, c.clients(), KindWorkloadEntry, []string{"a"}, nil, "x", 2)
	if len(sel.Failed) != 1 || !errors.Is(sel.Failed[0].Err, ErrNoWorkloadEntries) {
		t.Errorf("no WorkloadEntry CRD, by selector: %+v", sel.Failed)
	}

	// Stopped before it starts: every object fails as interrupted.
	stop := make(chan struct{})
	close(stop)
	c = selection()
	sel = SelectIn(bulk.WithStop(ctx, stop), c.clients(), KindService, []string{"a", "b"}, []string{"s1"}, "", 2)
	if len(sel.Targets) != 0 || len(sel.Failed) != 2 || !errors.Is(sel.Failed[0].Err, bulk.ErrInterrupted) || sel.Failed[1].Namespace != "b" {
		t.Errorf("stopped: %+v", sel)
	}
	got, missing, failed := selectIn(bulk.WithStop(ctx, stop), c.clients(), KindService, "a", []string{"s1", "s2"}, "", 2)
	if got != nil || missing != nil || len(failed) != 2 || !errors.Is(failed[1].Err, bulk.ErrInterrupted) {
		t.Errorf("stopped selectIn: %v %v %+v", got, missing, failed)
	}
}

func TestFailAll(t *testing.T) {
	boom := errors.New("boom")
	if got := failAll("ns", nil, boom); len(got) != 1 || got[0] != (ReadFailure{Namespace: "ns", Err: boom}) {
		t.Errorf("the namespace's selection: %+v", got)
	}
	if got := failAll("ns", []string{"a", "b"}, boom); len(got) != 2 || got[1] != (ReadFailure{Namespace: "ns", Name: "b", Err: boom}) {
		t.Errorf("each named object: %+v", got)
	}
}

func TestCheckWaypoints(t *testing.T) {
	ctx := context.Background()
	c := newFakeCluster(
		gw("a", "wp"), gw("infra", "wp", forType("workload")),
		gw("b", "wp", allowedFrom(gatewayv1.NamespacesFromSelector, nil)), gw("d", "wp", class("istio")),
	)
	ambient := map[string]string{istio.LabelDataplaneMode: istio.DataplaneModeAmbient}
	targets := []Target{
		{Kind: KindService, Namespace: "a", Name: "s1"}, {Kind: KindService, Namespace: "a", Name: "s2"},
		{Kind: KindService, Namespace: "b", Name: "s"}, {Kind: KindService, Namespace: "c", Name: "s"},
		{Kind: KindService, Namespace: "d", Name: "s"},
	}
	nsLabels := map[string]map[string]string{"a": ambient, "b": nil, "c": nil, "d": nil}
	checks := CheckWaypoints(ctx, c.clients(), mesh.NewClasses(c.gateway), KindService, "wp", "", targets, nsLabels, 2)
	var got []string
	for _, ch := range checks {
		r := ch.Result
		got = append(got, ch.Key+" "+strings.Join(slices.Sorted(mapsKeys(ch.Namespaces)), ",")+
			" missing="+yes(r.Missing)+" denied="+strings.Join(r.Denied, ",")+" notWaypoint="+yes(r.NotAWaypoint)+" mismatch="+yes(r.TrafficMismatch))
		if ch.Namespace+"/"+ch.Name != ch.Key || ch.Err != nil || ch.ReadErr != nil {
			t.Errorf("check %+v", ch)
		}
	}
	want := []string{
		"a/wp a missing=no denied= notWaypoint=no mismatch=no",
		"b/wp b missing=no denied=b notWaypoint=no mismatch=no",
		"c/wp c missing=yes denied= notWaypoint=no mismatch=no",
		"d/wp d missing=no denied= notWaypoint=yes mismatch=no",
	}
	if !slices.Equal(got, want) {
		t.Errorf("checks\n got %v\nwant %v", got, want)
	}
	if checks[0].Result.Facts == nil || checks[0].Result.Facts.Key() != "a/wp" {
		t.Errorf("facts %+v", checks[0].Result.Facts)
	}

	// One waypoint elsewhere, for namespaces: grouped, each namespace with its own labels.
	nsTargets := []Target{{Kind: KindNamespace, Name: "a", Labels: ambient}, {Kind: KindNamespace, Name: "b"}}
	checks = CheckWaypoints(ctx, c.clients(), mesh.NewClasses(c.gateway), KindNamespace, "wp", "infra", nsTargets, nil, 2)
	if len(checks) != 1 || checks[0].Key != "infra/wp" || len(checks[0].Namespaces) != 2 || checks[0].Namespaces["a"][istio.LabelDataplaneMode] != "ambient" ||
		!slices.Equal(checks[0].Result.Denied, []string{"a", "b"}) || !slices.Equal(checks[0].Result.NotAmbient, []string{"b"}) || checks[0].Result.NoTraffic {
		t.Errorf("namespaces into infra/wp: %+v", checks)
	}
	if n := c.requests("get", "gateways"); n != 5 {
		t.Errorf("%d reads of waypoints, want 5: one per waypoint", n)
	}
}

func mapsKeys(m map[string]map[string]string) func(func(string) bool) {
	return func(yield func(string) bool) {
		for k := range m {
			if !yield(k) {
				return
			}
		}
	}
}

func yes(b bool) string {
	if b {
		return "yes"
	}
	return "no"
}

func TestCheckWaypointsFaults(t *testing.T) {
	ctx := context.Background()
	targets := []Target{{Kind: KindPod, Namespace: "a", Name: "p"}}
	cases := []struct {
		name          string
		err           error
		readErr, fail string
	}{
		{"forbidden: unchecked", forbidden("gateways"), "cannot read waypoint a/wp: forbidden", ""},
		{"no Gateway API", missingType("gateway.networking.k8s.io", "gateways"), "", "cannot read waypoint a/wp"},
		{"another fault", errors.New("boom"), "", "cannot read waypoint a/wp to check it: boom"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			c := newFakeCluster(gw("a", "wp"))
			c.fail("get", "gateways", tc.err)
			checks := CheckWaypoints(ctx, c.clients(), mesh.NewClasses(c.gateway), KindPod, "wp", "", targets, nil, 1)
			if len(checks) != 1 {
				t.Fatalf("%+v", checks)
			}
			ch := checks[0]
			if (ch.ReadErr == nil) != (tc.readErr == "") || (ch.ReadErr != nil && !strings.HasPrefix(ch.ReadErr.Error(), tc.readErr)) {
				t.Errorf("ReadErr %v", ch.ReadErr)
			}
			if (ch.Err == nil) != (tc.fail == "") || (ch.Err != nil && !strings.HasPrefix(ch.Err.Error(), tc.fail)) {
				t.Errorf("Err %v", ch.Err)
			}
			if ch.Result.Facts != nil || ch.Result.Missing {
				t.Errorf("a waypoint not read is not checked: %+v", ch.Result)
			}
		})
	}
}
