package enroll

import (
	"context"
	"errors"
	"slices"
	"strings"
	"testing"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	k8stesting "k8s.io/client-go/testing"
	gatewayv1 "sigs.k8s.io/gateway-api/apis/v1"

	"github.com/kubectl-waypoint/kubectl-waypoint/pkg/istio"
	"github.com/kubectl-waypoint/kubectl-waypoint/pkg/mesh"
)

func TestReasonNames(t *testing.T) {
	// istiod's spelling of the WaypointBound condition and its reasons
	// (pilot/pkg/serviceregistry/ambient/waypoints.go and the labels it reads).
	for got, want := range map[string]string{
		ConditionWaypointBound:                "istio.io/WaypointBound",
		ReasonAccepted:                        "WaypointAccepted",
		ReasonNotReady:                        "WaypointIsNotReady",
		ReasonAttachmentDenied:                "AttachmentDenied",
		ReasonUnsupportedTrafficType:          "UnsupportedTrafficType",
		ReasonCrossNamespaceForbidden:         "CrossNamespaceWaypointForbidden",
		ReasonCanaryInvalidWeight:             "CanaryInvalidWeight",
		ReasonCanarySameAsPrimary:             "CanarySameAsPrimary",
		LabelGatewayName:                      "gateway.networking.k8s.io/gateway-name",
		LabelGatewayManaged:                   "gateway.istio.io/managed",
		ManagedMeshController:                 "istio.io-mesh-controller",
		istio.ManagedEastWestController:       "istio.io-eastwest-controller",
		istio.LabelUseWaypoint:                "istio.io/use-waypoint",
		istio.LabelUseWaypointNamespace:       "istio.io/use-waypoint-namespace",
		istio.LabelUseWaypointCanary:          "istio.io/use-waypoint-canary",
		istio.LabelUseWaypointCanaryNamespace: "istio.io/use-waypoint-canary-namespace",
		istio.AnnotationCanaryWeight:          "istio.io/use-waypoint-canary-weight",
		istio.LabelDataplaneMode:              "istio.io/dataplane-mode",
		istio.DataplaneModeAmbient:            "ambient",
		istio.NoWaypoint:                      "none",
	} {
		if got != want {
			t.Errorf("%q, want %q", got, want)
		}
	}
}

func waypointClass(labels map[string]string) *gatewayv1.GatewayClass {
	return &gatewayv1.GatewayClass{ObjectMeta: metav1.ObjectMeta{Name: istio.ClassWaypoint, Labels: labels},
		Spec: gatewayv1.GatewayClassSpec{ControllerName: "istio.io/mesh-controller"}}
}

var app = map[string]string{istio.LabelUseWaypoint: "wp", istio.LabelDataplaneMode: "ambient"}

// scene is namespace app enrolled into waypoint app/wp (traffic all),
// waypoint infra/shared (service, admits all), an ingress, and users of
// each kind; namespace later is enrolled into app's waypoint gone, which
// does not exist; the waypoint class says workload.
func scene(extra ...runtime.Object) *fakeCluster {
	objs := []runtime.Object{
		nsObj("app", app), nsObj("infra", nil), nsObj("plain", nil),
		nsObj("later", map[string]string{istio.LabelUseWaypoint: "gone", istio.LabelUseWaypointNamespace: "app"}),
		gw("app", "wp", forType("all")),
		gw("infra", "shared", forType("service"), allowedFrom(gatewayv1.NamespacesFromAll, nil)),
		gw("app", "ingress", class("istio")),
		waypointClass(map[string]string{istio.LabelWaypointFor: "workload"}),
		svcObj("app", "reviews", map[string]string{"app": "reviews"}, boundCondition(ReasonAccepted), func(s *corev1.Service) {
			s.Spec.Selector = map[string]string{"app": "reviews"}
		}),
		svcObj("app", "all-pods", nil, func(s *corev1.Service) { s.Spec.Selector = map[string]string{"tier": "web"} }),
		svcObj("app", "headless", nil),
		svcObj("app", "ratings", use("none")),
		svcObj("app", "ext", nil, externalName),
		svcObj("app", "shared", useIn("shared", "infra"), boundCondition(ReasonNotReady)),
		svcObj("app", "wp", map[string]string{LabelGatewayManaged: ManagedMeshController}),
		podObj("app", "reviews-v1", map[string]string{"app": "reviews", "tier": "web"}),
		podObj("app", "wp-0", map[string]string{LabelGatewayName: "wp"}),
		istioObj("ServiceEntry", "app", "api", nil),
		istioObj("WorkloadEntry", "app", "vm", nil),
		svcObj("plain", "cross", useIn("wp", "app")),
		svcObj("plain", "own", use("wp")),
		svcObj("later", "s", nil),
		podObj("later", "p", nil),
	}
	return newFakeCluster(append(objs, extra...)...)
}

func TestExplain(t *testing.T) {
	c := scene()
	r := NewReader(c.clients())
	ctx := context.Background()
	cases := []struct {
		kind                 Kind
		ns, name             string
		reason, verdict      string
		waypoint             string
		uses, cond, disagree bool
		message              string
	}{
		{KindNamespace, "", "app", ReasonAccepted, ReasonAccepted, "app/wp", true, false, false,
			"its services, ServiceEntries, pods and WorkloadEntries use waypoint app/wp unless their own label says otherwise"},
		{KindNamespace, "ignored", "plain", ReasonNoWaypoint, ReasonNoWaypoint, "", false, false, false, "names no waypoint"},
		{KindService, "app", "reviews", ReasonAccepted, ReasonAccepted, "app/wp", true, true, false, "uses waypoint app/wp"},
		{KindService, "app", "ratings", ReasonOptedOut, ReasonOptedOut, "", false, false, false, "uses no waypoint: opted out by its own label"},
		{KindService, "app", "ext", ReasonExternalName, ReasonExternalName, "", false, false, false, "uses no waypoint: an ExternalName service"},
		{KindService, "app", "shared", ReasonAccepted, ReasonNotReady, "infra/shared", true, true, true, "uses waypoint infra/shared"},
		{KindService, "app", "wp", ReasonIsWaypoint, ReasonIsWaypoint, "", false, false, false, "uses no waypoint: it belongs to a waypoint"},
		{KindService, "plain", "cross", ReasonAttachmentDenied, ReasonAttachmentDenied, "app/wp", false, false, true,
			"uses no waypoint: waypoint app/wp does not allow namespace plain"},
		{KindPod, "app", "reviews-v1", ReasonAccepted, ReasonAccepted, "app/wp", true, false, false, "uses waypoint app/wp"},
		{KindPod, "app", "wp-0", ReasonIsWaypoint, ReasonIsWaypoint, "", false, false, false, "uses no waypoint: it is an instance of waypoint app/wp"},
		{KindServiceEntry, "app", "api", ReasonAccepted, ReasonAccepted, "app/wp", true, false, true, "uses waypoint app/wp"},
		{KindWorkloadEntry, "app", "vm", ReasonAccepted, ReasonAccepted, "app/wp", true, false, true, "uses waypoint app/wp"},
	}
	for _, tc := range cases {
		t.Run(string(tc.kind)+" "+tc.name, func(t *testing.T) {
			ex, err := r.Explain(ctx, tc.kind, tc.ns, tc.name)
			if err != nil {
				t.Fatal(err)
			}
			if ex.Reason != tc.reason || ex.Verdict != tc.verdict || ex.Waypoint != tc.waypoint || ex.Uses != tc.uses ||
				(ex.Condition != nil) != tc.cond || (ex.Disagreement != "") != tc.disagree || ex.Message != tc.message {
				t.Errorf("got reason %s verdict %s waypoint %q uses %v condition %v disagreement %q message %q",
					ex.Reason, ex.Verdict, ex.Waypoint, ex.Uses, ex.Condition, ex.Disagreement, ex.Message)
			}
			if ex.Name != tc.name || (tc.kind != KindNamespace && ex.Namespace != tc.ns) {
				t.Errorf("explained %s %s/%s", ex.Kind, ex.Namespace, ex.Name)
			}
		})
	}
	// Each namespace and waypoint was read once.
	if n := c.requests("get", "namespaces"); n != 2 {
		t.Errorf("%d reads of namespaces, want 2 (app and plain: the first Explain read app itself)", n)
	}
	if n := c.requests("get", "gateways"); n != 2 {
		t.Errorf("%d reads of gateways, want 2 (app/wp, infra/shared: none for an opted-out or ExternalName service)", n)
	}
}

func TestExplainPodServices(t *testing.T) {
	c := scene()
	ex, err := NewReader(c.clients()).Explain(context.Background(), KindPod, "app", "reviews-v1")
	if err != nil {
		t.Fatal(err)
	}
	var got []string
	for _, s := range ex.Services {
		got = append(got, s.Name+"="+s.Verdict)
	}
	// The services whose selector matches the pod; headless (no selector)
	// selects nothing.
	if !slices.Equal(got, []string{"all-pods=WaypointAccepted", "reviews=WaypointAccepted"}) {
		t.Errorf("services %v", got)
	}
	if ex.Services[1].Condition == nil || ex.Services[0].Disagreement == "" {
		t.Errorf("the services' conditions are read: %+v", ex.Services)
	}
	ex, err = NewReader(c.clients()).Explain(context.Background(), KindPod, "app", "wp-0")
	if err != nil || len(ex.Services) != 0 {
		t.Errorf("a pod no service selects: %+v, %v", ex.Services, err)
	}

	c = scene()
	c.fail("list", "services", forbidden("services"))
	if _, err := NewReader(c.clients()).Explain(context.Background(), KindPod, "app", "reviews-v1"); err == nil ||
		!strings.Contains(err.Error(), "cannot list the services of namespace app: forbidden") {
		t.Errorf("services cannot be listed: %v", err)
	}
}

func TestExplainPodServicesPages(t *testing.T) {
	c := scene()
	first := &corev1.ServiceList{Items: []corev1.Service{*svcObj("app", "one", nil, func(s *corev1.Service) { s.Spec.Selector = map[string]string{"app": "reviews"} })}}
	first.Continue = "more"
	second := &corev1.ServiceList{Items: []corev1.Service{*svcObj("app", "two", nil, func(s *corev1.Service) { s.Spec.Selector = map[string]string{"app": "reviews"} })}}
	calls := 0
	c.kube.PrependReactor("list", "services", func(k8stesting.Action) (bool, runtime.Object, error) {
		calls++
		if calls == 1 {
			return true, first, nil
		}
		return true, second, nil
	})
	ex, err := NewReader(c.clients()).Explain(context.Background(), KindPod, "app", "reviews-v1")
	if err != nil || len(ex.Services) != 2 || ex.Services[0].Name != "one" || ex.Services[1].Name != "two" || calls != 2 {
		t.Errorf("two pages: %+v, %v, %d lists", ex, err, calls)
	}
}

func TestExplainErrors(t *testing.T) {
	ctx := context.Background()
	cases := []struct {
		kind     Kind
		ns, name string
		breaks   func(c *fakeCluster)
		want     string
		notFound bool
	}{
		{KindNamespace, "", "nope", nil, `namespace "nope" not found`, true},
		{KindService, "app", "nope", nil, `service "nope" not found in namespace app`, true},
		{KindPod, "app", "nope", nil, `pod "nope" not found in namespace app`, true},
		{KindServiceEntry, "app", "nope", nil, `ServiceEntry "nope" not found in namespace app`, true},
		{KindWorkloadEntry, "app", "nope", nil, `WorkloadEntry "nope" not found in namespace app`, true},
		{KindNamespace, "", "app", func(c *fakeCluster) { c.fail("get", "namespaces", forbidden("namespaces")) }, "cannot read namespace app: forbidden", false},
		{KindService, "app", "reviews", func(c *fakeCluster) { c.fail("get", "services", forbidden("services")) }, "cannot read service app/reviews: forbidden", false},
		{KindPod, "app", "wp-0", func(c *fakeCluster) { c.fail("get", "pods", forbidden("pods")) }, "cannot read pod app/wp-0: forbidden", false},
		{KindServiceEntry, "app", "api", func(c *fakeCluster) { c.fail("get", "serviceentries", forbidden("serviceentries")) }, "cannot read serviceentry app/api: forbidden", false},
		{KindServiceEntry, "app", "api", func(c *fakeCluster) {
			c.fail("get", "serviceentries", missingType("networking.istio.io", "serviceentries"))
		},
			ErrNoServiceEntries.Error(), false},
		{KindWorkloadEntry, "app", "vm", func(c *fakeCluster) {
			c.fail("get", "workloadentries", missingType("networking.istio.io", "workloadentries"))
		}, ErrNoWorkloadEntries.Error(), false},
		{KindService, "app", "reviews", func(c *fakeCluster) { c.fail("get", "namespaces", forbidden("namespaces")) }, "cannot read namespace app: forbidden", false},
		{KindService, "app", "reviews", func(c *fakeCluster) { c.fail("get", "gateways", broken("gateways")) }, "cannot read waypoint app/wp", false},
		{Kind("deployment"), "app", "x", nil, `cannot explain kind "deployment"`, false},
	}
	for _, tc := range cases {
		t.Run(tc.want, func(t *testing.T) {
			c := scene()
			if tc.breaks != nil {
				tc.breaks(c)
			}
			ex, err := NewReader(c.clients()).Explain(ctx, tc.kind, tc.ns, tc.name)
			if err == nil || err.Error() != tc.want && !strings.HasPrefix(err.Error(), tc.want) {
				t.Fatalf("got %+v, %v; want %q", ex, err, tc.want)
			}
			var nf *NotFoundError
			if errors.As(err, &nf) != tc.notFound {
				t.Errorf("NotFoundError: %v", errors.As(err, &nf))
			}
		})
	}
}

func TestReaderCaches(t *testing.T) {
	ctx := context.Background()
	c := scene(&corev1.ConfigMap{ObjectMeta: metav1.ObjectMeta{Namespace: "istio-system", Name: "istio"},
		Data: map[string]string{"mesh": "serviceEntryVisibility:\n  defaultVisibility: NAMESPACE\n"}},
		istioObj("ServiceEntry", "plain", "far", useIn("shared", "infra")))
	r := NewReader(c.clients())
	for range 2 {
		res, err := r.Resolve(ctx, Subject{Kind: KindServiceEntry, Namespace: "plain", Name: "far", Labels: useIn("shared", "infra")})
		if err != nil || res.Reason != ReasonCrossNamespaceForbidden {
			t.Fatalf("a NAMESPACE-visible ServiceEntry on a waypoint elsewhere: %+v, %v", res, err)
		}
	}
	if n := c.requests("get", "configmaps"); n != 1 {
		t.Errorf("the mesh config read %d times", n)
	}
	if n := c.requests("get", "namespaces"); n != 1 {
		t.Errorf("namespace plain read %d times", n)
	}

	// A namespace that does not exist has no labels; a waypoint key
	// without a namespace or a name names no Gateway.
	res, err := r.Resolve(ctx, Subject{Kind: KindService, Namespace: "ghost", Name: "s"})
	if err != nil || res.Reason != ReasonNoWaypoint {
		t.Errorf("in a namespace that does not exist: %+v, %v", res, err)
	}
	if _, err := r.Resolve(ctx, Subject{Kind: KindService, Namespace: "ghost", Name: "s"}); err != nil || c.requests("get", "namespaces") != 2 {
		t.Errorf("a missing namespace is remembered: %d reads", c.requests("get", "namespaces"))
	}
	before := c.requests("get", "gateways")
	for _, key := range []string{"app/", "/wp", "", "app"} {
		if w, err := r.Waypoint(ctx, key); w != nil || err != nil {
			t.Errorf("Waypoint(%q) = %+v, %v", key, w, err)
		}
	}
	if c.requests("get", "gateways") != before {
		t.Error("a key without namespace or name was read")
	}

	// Know: a waypoint given is not read.
	w := mesh.Parse(gw("x", "known"), nil)
	r.Know(&w)
	if got, err := r.Waypoint(ctx, "x/known"); got != &w || err != nil || c.requests("get", "gateways") != before {
		t.Errorf("Know: %+v, %v", got, err)
	}

	// Without the Gateway API no waypoint can exist: that is the answer,
	// not "this one does not exist".
	c = scene()
	c.fail("get", "gateways", missingType("gateway.networking.k8s.io", "gateways"))
	if w, err := NewReader(c.clients()).Waypoint(ctx, "app/wp"); w != nil || err == nil || !strings.Contains(err.Error(), "the Gateway API CRDs are not installed") {
		t.Errorf("no Gateway API: %+v, %v", w, err)
	}
}

func TestMeshConfigUnreadable(t *testing.T) {
	c := scene(istioObj("ServiceEntry", "plain", "far", useIn("shared", "infra")))
	c.fail("get", "configmaps", forbidden("configmaps"))
	r := NewReader(c.clients())
	res, err := r.Resolve(context.Background(), Subject{Kind: KindServiceEntry, Namespace: "plain", Name: "far", Labels: useIn("shared", "infra")})
	if err != nil || res.Reason != ReasonAccepted || !slices.ContainsFunc(res.Steps, func(s string) bool { return strings.Contains(s, "could not be read") }) {
		t.Errorf("an unreadable mesh config: PUBLIC, said: %+v, %v", res, err)
	}
	if _, err := r.Resolve(context.Background(), Subject{Kind: KindServiceEntry, Namespace: "plain", Name: "far"}); err != nil {
		t.Fatal(err)
	}
	if n := c.requests("get", "configmaps"); n != 1 {
		t.Errorf("an unreadable mesh config is tried once, not %d times", n)
	}
}

func TestExplainWaypoint(t *testing.T) {
	c := scene()
	r := NewReader(c.clients())
	users, err := r.ExplainWaypoint(context.Background(), "app", "wp")
	if err != nil {
		t.Fatal(err)
	}
	if users.Waypoint != "app/wp" || users.Facts == nil || users.Facts.TrafficType != "all" {
		t.Errorf("waypoint %s facts %+v", users.Waypoint, users.Facts)
	}
	var got []string
	for _, u := range users.Users {
		got = append(got, string(u.Kind)+" "+u.Key()+"="+u.Reason)
	}
	// Namespace app names it, so do plain/cross (denied: Same) and the
	// unlabelled resources of app; its own Service and pod, ratings (none),
	// shared (another waypoint) and plain/own (plain/wp) do not count.
	want := []string{
		"namespace app=WaypointAccepted",
		"service app/all-pods=WaypointAccepted", "service app/ext=ExternalName", "service app/headless=WaypointAccepted",
		"service app/reviews=WaypointAccepted", "service plain/cross=AttachmentDenied",
		"pod app/reviews-v1=WaypointAccepted",
		"serviceentry app/api=WaypointAccepted",
		"workloadentry app/vm=WaypointAccepted",
	}
	if !slices.Equal(got, want) {
		t.Errorf("users\n got %v\nwant %v", got, want)
	}
	typeLists := map[string]int{}
	for _, a := range c.kube.Actions() {
		if a.GetVerb() == "list" && a.GetResource().Resource == "services" {
			typeLists[a.GetNamespace()]++
		}
	}
	if len(typeLists) != 2 || typeLists["app"] != 1 || typeLists["plain"] != 1 {
		t.Errorf("the services of each namespace are listed once for their types: %v", typeLists)
	}

	if _, err := r.ExplainWaypoint(context.Background(), "app", "ingress"); err == nil ||
		err.Error() != `gateway app/ingress is not a waypoint: its class is "istio", not istio-waypoint or istio-agentgateway-waypoint` {
		t.Errorf("an ingress: %v", err)
	}
	var naw *NotAWaypointError
	if _, err := r.ExplainWaypoint(context.Background(), "app", "ingress"); !errors.As(err, &naw) || naw.Class != "istio" || naw.Key != "app/ingress" {
		t.Errorf("NotAWaypointError: %v", err)
	}
}

func TestExplainWaypointMissing(t *testing.T) {
	// A waypoint that is not there (yet) would take what its class gives:
	// workload traffic here, so the pods of a namespace that names it count.
	c := scene()
	users, err := NewReader(c.clients()).ExplainWaypoint(context.Background(), "app", "gone")
	if err != nil {
		t.Fatal(err)
	}
	var got []string
	for _, u := range users.Users {
		got = append(got, string(u.Kind)+" "+u.Key()+"="+u.Reason)
	}
	if want := []string{"namespace later=WaypointIsNotReady", "service later/s=WaypointIsNotReady", "pod later/p=WaypointIsNotReady"}; !slices.Equal(got, want) || users.Facts != nil {
		t.Errorf("users of a missing waypoint\n got %v\nwant %v", got, want)
	}

	// Without a class label: service traffic, the pods do not count.
	c2 := newFakeCluster(nsObj("later", map[string]string{istio.LabelUseWaypoint: "gone", istio.LabelUseWaypointNamespace: "app"}),
		waypointClass(nil), svcObj("later", "s", nil), podObj("later", "p", nil))
	users, err = NewReader(c2.clients()).ExplainWaypoint(context.Background(), "app", "gone")
	got = nil
	for _, u := range users.Users {
		got = append(got, u.Key())
	}
	if err != nil || !slices.Equal(got, []string{"later", "later/s"}) {
		t.Errorf("class without a traffic type: %v, %v", got, err)
	}
	if n := c2.requests("list", "pods"); n != 1 {
		t.Errorf("pods listed %d times: only the labelled ones across the cluster", n)
	}
}

// A service whose waypoint the user may not read is answered by istiod's
// WaypointBound condition on it.
func TestExplainUnreadWaypoint(t *testing.T) {
	c := scene()
	c.fail("get", "gateways", forbidden("gateways"))
	ex, err := NewReader(c.clients()).Explain(context.Background(), KindService, "app", "reviews")
	if err != nil {
		t.Fatal(err)
	}
	if ex.UnreadWaypoint != "app/wp" || ex.Condition == nil || ex.Verdict != ex.Condition.Reason || !strings.Contains(ex.Message, "says istiod") {
		t.Errorf("got %+v", ex)
	}
}

func TestExplainWaypointErrors(t *testing.T) {
	cases := []struct {
		name   string
		breaks func(c *fakeCluster)
		want   string
	}{
		{"the waypoint", func(c *fakeCluster) { c.fail("get", "gateways", forbidden("gateways")) }, "cannot read waypoint app/wp: forbidden"},
		{"labelled services", func(c *fakeCluster) { c.metadata.PrependReactor("list", "services", failOnSelector(true)) },
			"cannot list the services that use waypoint app/wp"},
		{"a namespace's pods", func(c *fakeCluster) { c.metadata.PrependReactor("list", "pods", failOnSelector(false)) },
			"cannot list the pods of namespace app"},
		{"the types of services", func(c *fakeCluster) {
			c.kube.PrependReactor("list", "services", func(k8stesting.Action) (bool, runtime.Object, error) {
				return true, nil, forbidden("services")
			})
		},
			"cannot list the services of namespace plain: forbidden"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			c := scene()
			tc.breaks(c)
			if _, err := NewReader(c.clients()).ExplainWaypoint(context.Background(), "app", "wp"); err == nil || !strings.HasPrefix(err.Error(), tc.want) {
				t.Errorf("got %v, want %q", err, tc.want)
			}
		})
	}

	// Without the Istio CRDs there are no ServiceEntries or WorkloadEntries.
	c := scene()
	c.fail("list", "serviceentries", missingType("networking.istio.io", "serviceentries"))
	c.fail("list", "workloadentries", missingType("networking.istio.io", "workloadentries"))
	users, err := NewReader(c.clients()).ExplainWaypoint(context.Background(), "app", "wp")
	if err != nil || len(users.Users) != 7 {
		t.Errorf("no Istio CRDs: %d users, %v", len(users.Users), err)
	}
}

// failOnSelector fails, with a bad request, the lists whose label selector
// names a waypoint (labelled true) or selects what has no label of its own
// (false). (A forbidden list across the cluster is narrowed to the waypoint's
// namespace instead, with a gap recorded.)
func failOnSelector(labelled bool) k8stesting.ReactionFunc {
	return func(a k8stesting.Action) (bool, runtime.Object, error) {
		sel := a.(k8stesting.ListAction).GetListRestrictions().Labels.String()
		if strings.HasPrefix(sel, "!") != labelled {
			return true, nil, broken(a.GetResource().Resource)
		}
		return false, nil, nil
	}
}

func TestCutOff(t *testing.T) {
	c := scene()
	r := NewReader(c.clients())
	ctx := context.Background()
	current, err := r.Waypoint(ctx, "app/wp")
	if err != nil || current == nil {
		t.Fatal(current, err)
	}
	next := mesh.Parse(gw("app", "wp", forType("service")), nil)
	cut, err := r.CutOff(ctx, "app/wp", &next)
	if err != nil {
		t.Fatal(err)
	}
	var got []string
	for _, u := range cut {
		got = append(got, string(u.Kind)+" "+u.Key()+"="+u.Reason)
	}
	// A service waypoint drops the workloads the namespace gave it (not
	// an error for them: they just use none).
	if want := []string{"pod app/reviews-v1=NoWaypoint", "workloadentry app/vm=NoWaypoint"}; !slices.Equal(got, want) {
		t.Errorf("cut off\n got %v\nwant %v", got, want)
	}
	if w, _ := r.Waypoint(ctx, "app/wp"); w != current {
		t.Error("CutOff leaves the reader with the current waypoint")
	}

	// A next that admits another namespace cuts nobody off.
	all := mesh.Parse(gw("app", "wp", forType("all"), allowedFrom(gatewayv1.NamespacesFromAll, nil)), nil)
	if cut, err := r.CutOff(ctx, "app/wp", &all); err != nil || len(cut) != 0 {
		t.Errorf("a wider waypoint: %+v, %v", cut, err)
	}
	// Nothing to cut from a waypoint that does not exist.
	if cut, err := r.CutOff(ctx, "app/gone", &next); err != nil || cut != nil {
		t.Errorf("a missing waypoint: %+v, %v", cut, err)
	}

	c = scene()
	c.metadata.PrependReactor("list", "pods", failOnSelector(true))
	if _, err := NewReader(c.clients()).CutOff(ctx, "app/wp", &next); err == nil {
		t.Error("a failing list: no error")
	}
	c = scene()
	c.fail("get", "gateways", forbidden("gateways"))
	if _, err := NewReader(c.clients()).CutOff(ctx, "app/wp", &next); err == nil {
		t.Error("an unreadable waypoint: no error")
	}
}

func TestSortResolutions(t *testing.T) {
	rs := []Resolution{
		{Kind: KindPod, Namespace: "a", Name: "p"},
		{Kind: Kind("other"), Namespace: "a", Name: "x"},
		{Kind: KindService, Namespace: "b", Name: "a"},
		{Kind: KindService, Namespace: "a", Name: "z"},
		{Kind: KindService, Namespace: "a", Name: "b"},
		{Kind: KindNamespace, Name: "n"},
		{Kind: KindWorkloadEntry, Namespace: "a", Name: "w"},
	}
	sortResolutions(rs)
	var got []string
	for _, r := range rs {
		got = append(got, string(r.Kind)+" "+r.Key())
	}
	want := []string{"namespace n", "service a/b", "service a/z", "service b/a", "pod a/p", "workloadentry a/w", "other a/x"}
	if !slices.Equal(got, want) {
		t.Errorf("got %v", got)
	}
}

func TestErrorTexts(t *testing.T) {
	for _, tc := range []struct {
		err  error
		want string
	}{
		{&NotFoundError{Kind: KindNamespace, Namespace: "x", Name: "n"}, `namespace "n" not found`},
		{&NotFoundError{Kind: KindService, Namespace: "x", Name: "s"}, `service "s" not found in namespace x`},
		{&NotFoundError{Kind: KindWorkloadEntry, Namespace: "x", Name: "w"}, `WorkloadEntry "w" not found in namespace x`},
		{&NotAWaypointError{Key: "a/b", Class: ""}, `gateway a/b is not a waypoint: its class is "", not istio-waypoint or istio-agentgateway-waypoint`},
	} {
		if tc.err.Error() != tc.want {
			t.Errorf("got %q, want %q", tc.err, tc.want)
		}
	}
	for k, want := range map[Kind]bool{KindService: true, KindServiceEntry: true, KindWorkloadEntry: true, KindPod: false, KindNamespace: false} {
		if k.HasCondition() != want {
			t.Errorf("%s HasCondition %v", k, !want)
		}
	}
}
