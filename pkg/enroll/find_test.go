package enroll

import (
	"context"
	"errors"
	"slices"
	"strings"
	"testing"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	k8stesting "k8s.io/client-go/testing"

	"github.com/kubectl-waypoint/kubectl-waypoint/pkg/istio"
	"github.com/kubectl-waypoint/kubectl-waypoint/pkg/kube"
)

func TestResourceViews(t *testing.T) {
	for _, tc := range []struct {
		r      Resource
		key    string
		labels map[string]string
	}{
		{Resource{Kind: KindNamespace, Name: "app", Enrollment: Enrollment{Waypoint: "wp"}}, "app/wp", map[string]string{istio.LabelUseWaypoint: "wp"}},
		{Resource{Kind: KindService, Namespace: "app", Name: "s", Enrollment: Enrollment{Waypoint: "wp"}}, "app/wp", map[string]string{istio.LabelUseWaypoint: "wp"}},
		{Resource{Kind: KindPod, Namespace: "app", Name: "p", Enrollment: Enrollment{Waypoint: "wp", Namespace: "infra"}}, "infra/wp",
			map[string]string{istio.LabelUseWaypoint: "wp", istio.LabelUseWaypointNamespace: "infra"}},
		// Without istio.io/use-waypoint the labels name no waypoint, whatever
		// the namespace label says (the first reading gave "infra/" and "app/").
		{Resource{Kind: KindService, Namespace: "app", Name: "s", Enrollment: Enrollment{Namespace: "infra"}}, "",
			map[string]string{istio.LabelUseWaypointNamespace: "infra"}},
		{Resource{Kind: KindService, Namespace: "app", Name: "s"}, "", map[string]string{}},
		{Resource{Kind: KindService, Namespace: "app", Name: "s", Enrollment: Enrollment{Waypoint: "none"}}, "", map[string]string{istio.LabelUseWaypoint: "none"}},
		// An empty namespace label names namespace "" (the first reading
		// gave "app/wp"); empty labels are kept for the conditional write.
		{Resource{Kind: KindService, Namespace: "app", Name: "s", Enrollment: Enrollment{Waypoint: "wp", EmptyNamespace: true}}, "/wp",
			map[string]string{istio.LabelUseWaypoint: "wp", istio.LabelUseWaypointNamespace: ""}},
		{Resource{Kind: KindNamespace, Name: "app", Enrollment: Enrollment{EmptyWaypoint: true}}, "app/", map[string]string{istio.LabelUseWaypoint: ""}},
	} {
		if got := tc.r.WaypointKey(); got != tc.key {
			t.Errorf("%+v: WaypointKey %q, want %q", tc.r, got, tc.key)
		}
		if got := tc.r.Labels(); !mapsEqual(got, tc.labels) {
			t.Errorf("%+v: Labels %v, want %v", tc.r, got, tc.labels)
		}
	}
	w := Resource{Kind: KindService, Namespace: "app", Name: "s", Enrollment: Enrollment{Waypoint: "wp"}, ResourceVersion: "7"}.UnenrollWrite(kube.DryRunServer)
	if w.Kind != KindService || w.Namespace != "app" || w.Name != "s" || w.ResourceVersion != "7" || w.DryRun != kube.DryRunServer ||
		w.Labels[istio.LabelUseWaypoint] != "wp" || len(w.Change) != 5 || w.Change[istio.LabelUseWaypoint] != nil {
		t.Errorf("UnenrollWrite %+v", w)
	}
}

func mapsEqual(a, b map[string]string) bool {
	if len(a) != len(b) {
		return false
	}
	for k, v := range a {
		if w, ok := b[k]; !ok || w != v {
			return false
		}
	}
	return true
}

func TestGVR(t *testing.T) {
	for k, want := range map[Kind]string{
		KindNamespace:     "/v1, Resource=namespaces",
		KindService:       "/v1, Resource=services",
		KindPod:           "/v1, Resource=pods",
		KindServiceEntry:  "networking.istio.io/v1, Resource=serviceentries",
		KindWorkloadEntry: "networking.istio.io/v1, Resource=workloadentries",
	} {
		if got := k.GVR().String(); got != want {
			t.Errorf("%s: %s, want %s", k, got, want)
		}
	}
}

// dangling is a cluster whose resources name waypoints, most of which are gone.
func dangling() *fakeCluster {
	return newFakeCluster(
		nsObj("a", use("gone")), nsObj("b", use("none")), nsObj("c", nil),
		svcObj("a", "s2", use("gone")), svcObj("a", "s1", use("gone")), svcObj("b", "s", useIn("gone", "a")),
		svcObj("b", "kept", use("kept")), svcObj("c", "other", use("elsewhere")),
		podObj("a", "p", use("gone")), podObj("c", "p", use("none")),
		istioObj("ServiceEntry", "a", "se", use("gone")), istioObj("WorkloadEntry", "b", "we", use("kept")),
	)
}

func keys(rs []Resource) []string {
	var out []string
	for _, r := range rs {
		ns := r.Namespace
		if ns != "" {
			ns += "/"
		}
		out = append(out, string(r.Kind)+" "+ns+r.Name)
	}
	return out
}

func TestFindEnrolled(t *testing.T) {
	ctx := context.Background()
	gone := func(key string) bool { return key == "a/gone" }

	c := dangling()
	found, failed, narrowed := FindEnrolled(ctx, c.clients(), []string{"gone", "kept", "gone"}, nil, 2, gone)
	want := []string{"namespace a", "pod a/p", "service a/s1", "service a/s2", "service b/s", "serviceentry a/se"}
	if !slices.Equal(keys(found), want) || len(failed) != 0 || narrowed {
		t.Errorf("by name: %v %v %v", keys(found), failed, narrowed)
	}
	if found[0].Enrollment.Waypoint != "gone" || found[0].ResourceVersion != "1" {
		t.Errorf("found %+v", found[0])
	}
	sel := listSelectors(c, "services")
	if !slices.Equal(sel, []string{"istio.io/use-waypoint in (gone,kept)"}) {
		t.Errorf("selectors %v", sel)
	}

	// No names: any waypoint but none; match decides.
	c = dangling()
	found, _, _ = FindEnrolled(ctx, c.clients(), nil, nil, 2, func(key string) bool { return key != "b/kept" })
	want = []string{"namespace a", "pod a/p", "service a/s1", "service a/s2", "service b/s", "service c/other", "serviceentry a/se"}
	if !slices.Equal(keys(found), want) {
		t.Errorf("any name: %v", keys(found))
	}
	if sel := listSelectors(c, "pods"); !slices.Equal(sel, []string{"istio.io/use-waypoint,istio.io/use-waypoint!=none"}) {
		t.Errorf("selectors %v", sel)
	}

	// Too many names for a selector: all of them, filtered here.
	many := make([]string, maxNamesInSelector+1)
	for i := range many {
		many[i] = "w" + strings.Repeat("x", i)
	}
	c = dangling()
	found, _, _ = FindEnrolled(ctx, c.clients(), many, nil, 2, gone)
	if len(found) != 6 || !slices.Equal(listSelectors(c, "pods"), []string{"istio.io/use-waypoint,istio.io/use-waypoint!=none"}) {
		t.Errorf("many names: %v %v", keys(found), listSelectors(c, "pods"))
	}
	c = dangling()
	FindEnrolled(ctx, c.clients(), many[:maxNamesInSelector], nil, 2, gone)
	if sel := listSelectors(c, "pods"); len(sel) != 1 || !strings.HasPrefix(sel[0], "istio.io/use-waypoint in (") {
		t.Errorf("%d names: %v", maxNamesInSelector, sel)
	}
}

// listSelectors are the label selectors of the metadata lists of resource.
func listSelectors(c *fakeCluster, resource string) []string {
	var out []string
	for _, a := range c.metadata.Actions() {
		if a.GetVerb() == "list" && a.GetResource().Resource == resource {
			out = append(out, a.(k8stesting.ListAction).GetListRestrictions().Labels.String())
		}
	}
	return out
}

func TestFindEnrolledNarrowed(t *testing.T) {
	// A user who may not list across the cluster reads the scope's
	// namespaces one by one, and says so.
	c := dangling()
	clusterWide := func(a k8stesting.Action) (bool, runtime.Object, error) {
		if a.GetNamespace() == "" && a.GetVerb() == "list" {
			return true, nil, forbidden(a.GetResource().Resource)
		}
		return false, nil, nil
	}
	c.metadata.PrependReactor("list", "*", clusterWide)
	found, failed, narrowed := FindEnrolled(context.Background(), c.clients(), []string{"gone"}, []string{"a", "b", "missing"}, 2,
		func(key string) bool { return key == "a/gone" })
	want := []string{"namespace a", "pod a/p", "service a/s1", "service a/s2", "service b/s", "serviceentry a/se"}
	if !narrowed || len(failed) != 0 || !slices.Equal(keys(found), want) {
		t.Errorf("narrowed %v failed %v found %v", narrowed, failed, keys(found))
	}
	if n := c.requests("get", "namespaces"); n != 3 {
		t.Errorf("each namespace of the scope read on its own: %d", n)
	}

	// Not forbidden, or no namespaces: the failure stands, per kind.
	c = dangling()
	c.metadata.PrependReactor("list", "pods", func(k8stesting.Action) (bool, runtime.Object, error) { return true, nil, errors.New("boom") })
	found, failed, narrowed = FindEnrolled(context.Background(), c.clients(), nil, []string{"a", "b"}, 2, func(string) bool { return true })
	if narrowed || len(failed) != 1 || slices.Contains(keys(found), "pod a/p") || len(found) == 0 {
		t.Fatalf("a failing list: %v %v %v", narrowed, failed, keys(found))
	}
	var lf *ListFailure
	if !errors.As(failed[0], &lf) || lf.Kind != KindPod || lf.Namespace != "" ||
		lf.Error() != "cannot list pods enrolled in the waypoints to delete: boom" || errors.Unwrap(lf) != lf.Err {
		t.Errorf("failure %+v: %v", lf, failed[0])
	}

	c = dangling()
	c.metadata.PrependReactor("list", "*", clusterWide)
	_, failed, narrowed = FindEnrolled(context.Background(), c.clients(), nil, nil, 2, func(string) bool { return true })
	if narrowed || len(failed) != len(Kinds) {
		t.Errorf("forbidden without namespaces: narrowed %v, %d failures", narrowed, len(failed))
	}

	// Narrowed, one namespace failing: that namespace's failure.
	c = dangling()
	c.metadata.PrependReactor("list", "*", clusterWide)
	c.metadata.PrependReactor("list", "services", func(a k8stesting.Action) (bool, runtime.Object, error) {
		if a.GetNamespace() == "b" {
			return true, nil, errors.New("boom")
		}
		return false, nil, nil
	})
	c.metadata.PrependReactor("get", "namespaces", func(a k8stesting.Action) (bool, runtime.Object, error) {
		if a.(k8stesting.GetAction).GetName() == "b" {
			return true, nil, errors.New("bang")
		}
		return false, nil, nil
	})
	_, failed, _ = FindEnrolled(context.Background(), c.clients(), nil, []string{"a", "b"}, 2, func(string) bool { return true })
	var msgs []string
	for _, f := range failed {
		msgs = append(msgs, f.Error())
	}
	slices.Sort(msgs)
	if want := []string{
		"cannot list namespaces enrolled in the waypoints to delete in namespace b: bang",
		"cannot list services enrolled in the waypoints to delete in namespace b: boom",
	}; !slices.Equal(msgs, want) {
		t.Errorf("failures\n got %v\nwant %v", msgs, want)
	}

	// Without the Istio CRDs: no ServiceEntries, not a failure.
	c = dangling()
	c.metadata.PrependReactor("list", "serviceentries", func(k8stesting.Action) (bool, runtime.Object, error) {
		return true, nil, missingType("networking.istio.io", "serviceentries")
	})
	found, failed, _ = FindEnrolled(context.Background(), c.clients(), nil, nil, 2, func(string) bool { return true })
	if len(failed) != 0 || slices.Contains(keys(found), "serviceentry a/se") {
		t.Errorf("no ServiceEntry CRD: %v %v", failed, keys(found))
	}
}

func TestReadNamespace(t *testing.T) {
	c := dangling()
	ctx := context.Background()
	got, err := readNamespace(ctx, c.clients(), "a", "istio.io/use-waypoint in (gone)")
	if err != nil || len(got) != 1 || got[0].Kind != KindNamespace || got[0].Name != "a" || got[0].Enrollment.Waypoint != "gone" || got[0].ResourceVersion != "1" {
		t.Errorf("a labelled namespace: %+v, %v", got, err)
	}
	if got, err := readNamespace(ctx, c.clients(), "c", "istio.io/use-waypoint in (gone)"); got != nil || err != nil {
		t.Errorf("a namespace the selector does not match: %+v, %v", got, err)
	}
	if got, err := readNamespace(ctx, c.clients(), "nope", "istio.io/use-waypoint"); got != nil || err != nil {
		t.Errorf("a missing namespace: %+v, %v", got, err)
	}
	if _, err := readNamespace(ctx, c.clients(), "a", "in in ("); err == nil {
		t.Error("a selector that does not parse")
	}
	c.fail("get", "namespaces", forbidden("namespaces"))
	if _, err := readNamespace(ctx, c.clients(), "a", "istio.io/use-waypoint"); err == nil {
		t.Error("a failing read")
	}
}

func TestListLabelled(t *testing.T) {
	c := dangling()
	got, err := ListLabelled(context.Background(), c.clients(), KindService, "a", istio.LabelUseWaypoint)
	if err != nil || !slices.Equal(keys(got), []string{"service a/s1", "service a/s2"}) {
		t.Errorf("ListLabelled %v, %v", keys(got), err)
	}
	c.fail("list", "services", errors.New("boom"))
	if got, err := ListLabelled(context.Background(), c.clients(), KindService, "a", ""); got != nil || err == nil {
		t.Errorf("a failing list: %v, %v", got, err)
	}
}

func TestEachMetadataPages(t *testing.T) {
	c := dangling()
	page := func(cont string, names ...string) *metav1.List {
		l := &metav1.List{ListMeta: metav1.ListMeta{Continue: cont}}
		for _, n := range names {
			l.Items = append(l.Items, runtime.RawExtension{Object: partial(KindPod, "Pod", metav1.ObjectMeta{Namespace: "a", Name: n})})
		}
		return l
	}
	calls := 0
	c.metadata.PrependReactor("list", "pods", func(k8stesting.Action) (bool, runtime.Object, error) {
		calls++
		if calls == 1 {
			return true, page("more", "p1", "p2"), nil
		}
		return true, page("", "p3"), nil
	})
	var got []string
	if err := eachMetadata(context.Background(), c.clients(), KindPod, "a", "", func(m *metav1.PartialObjectMetadata) { got = append(got, m.Name) }); err != nil {
		t.Fatal(err)
	}
	if !slices.Equal(got, []string{"p1", "p2", "p3"}) || calls != 2 {
		t.Errorf("pages: %v in %d lists", got, calls)
	}
}

// TestFindEnrolledEmptyNamespaceLabel: a label with an empty
// istio.io/use-waypoint-namespace names waypoint "/gone", in no namespace
// (istiod reads it so), not "a/gone": deleting a/gone leaves it alone,
// and the search hands its true key to match. The first reading counted
// it as a user of a/gone.
func TestFindEnrolledEmptyNamespaceLabel(t *testing.T) {
	c := newFakeCluster(nsObj("a", nil),
		svcObj("a", "uses", use("gone")), svcObj("a", "empty", useIn("gone", "")), podObj("a", "p", useIn("gone", "")))
	var seen []string
	found, failed, _ := FindEnrolled(context.Background(), c.clients(), []string{"gone"}, nil, 2, func(key string) bool {
		seen = append(seen, key)
		return key == "a/gone"
	})
	if !slices.Equal(keys(found), []string{"service a/uses"}) || len(failed) != 0 {
		t.Errorf("found %v, failed %v", keys(found), failed)
	}
	slices.Sort(seen)
	if !slices.Equal(seen, []string{"/gone", "/gone", "a/gone"}) {
		t.Errorf("match saw %q", seen)
	}
	if got := (Resource{Kind: KindService, Namespace: "a", Name: "empty", Enrollment: EnrollmentOf(useIn("gone", ""))}).Labels(); !mapsEqual(got, useIn("gone", "")) {
		t.Errorf("Labels %v: the empty namespace label must stay in the write's precondition", got)
	}
}
