package policy

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"
	"testing"

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/runtime/schema"
	dynamicfake "k8s.io/client-go/dynamic/fake"
	"k8s.io/client-go/kubernetes/fake"
	k8stesting "k8s.io/client-go/testing"
	gatewayv1 "sigs.k8s.io/gateway-api/apis/v1"
	gatewayfake "sigs.k8s.io/gateway-api/pkg/client/clientset/versioned/fake"

	"github.com/kubectl-waypoint/kubectl-waypoint/pkg/enroll"
	"github.com/kubectl-waypoint/kubectl-waypoint/pkg/kube"
)

// cluster is a fake cluster for the Reader: typed clients for namespaces,
// Services, Gateways and classes, a dynamic one for the policies and
// ServiceEntries.
type cluster struct {
	kube    *fake.Clientset
	gateway *gatewayfake.Clientset
	dynamic *dynamicfake.FakeDynamicClient
}

func (c cluster) clients() *kube.Clients {
	return &kube.Clients{Kube: c.kube, Gateway: c.gateway, Dynamic: c.dynamic}
}

// count is how many requests of verb on resource the fakes served.
func (c cluster) count(verb, resource string) int {
	n := 0
	for _, f := range []*k8stesting.Fake{&c.kube.Fake, &c.gateway.Fake, &c.dynamic.Fake} {
		for _, a := range f.Actions() {
			if a.GetVerb() == verb && a.GetResource().Resource == resource {
				n++
			}
		}
	}
	return n
}

func newCluster(typed []runtime.Object, gw []runtime.Object, dyn []runtime.Object) cluster {
	listKinds := map[schema.GroupVersionResource]string{enroll.ServiceEntryGVR: "ServiceEntryList"}
	for _, k := range Kinds {
		for _, g := range k.GVRs {
			listKinds[g] = k.Name + "List"
		}
	}
	var classes []runtime.Object
	gateways := map[string]*gatewayv1.Gateway{}
	for _, o := range gw {
		if g, ok := o.(*gatewayv1.Gateway); ok {
			gateways[g.Namespace+"/"+g.Name] = g
		} else {
			classes = append(classes, o)
		}
	}
	c := cluster{
		kube:    fake.NewClientset(typed...),
		gateway: gatewayfake.NewClientset(classes...),
		dynamic: dynamicfake.NewSimpleDynamicClientWithCustomListKinds(runtime.NewScheme(), listKinds, dyn...),
	}
	// Gateways are served by hand: the fake's tracker files them under
	// v1beta1, whose Gateway is the same Go type.
	c.gateway.PrependReactor("get", "gateways", func(a k8stesting.Action) (bool, runtime.Object, error) {
		get := a.(k8stesting.GetAction)
		if g := gateways[get.GetNamespace()+"/"+get.GetName()]; g != nil {
			return true, g.DeepCopy(), nil
		}
		return true, nil, apierrors.NewNotFound(schema.GroupResource{Group: "gateway.networking.k8s.io", Resource: "gateways"}, get.GetName())
	})
	return c
}

// absent makes the API server serve no version of resource in group
// (versions empty) or not these versions, as when the CRD is missing.
func (c cluster) absent(group, resource string, versions ...string) {
	c.dynamic.PrependReactor("list", resource, func(a k8stesting.Action) (bool, runtime.Object, error) {
		if len(versions) > 0 && !slices.Contains(versions, a.GetResource().Version) {
			return false, nil, nil
		}
		return true, nil, apierrors.NewNotFound(schema.GroupResource{Group: group, Resource: resource}, "")
	})
}

func obj(apiVersion, kind, namespace, name string, generation int64, spec map[string]any) *unstructured.Unstructured {
	u := &unstructured.Unstructured{Object: map[string]any{"spec": spec}}
	u.SetAPIVersion(apiVersion)
	u.SetKind(kind)
	u.SetNamespace(namespace)
	u.SetName(name)
	u.SetGeneration(generation)
	return u
}

func withStatus(u *unstructured.Unstructured, status map[string]any) *unstructured.Unstructured {
	u.Object["status"] = status
	return u
}

func accepted(reason, status string, observed any) map[string]any {
	return map[string]any{"observedGeneration": observed, "conditions": []any{
		map[string]any{"type": "WaypointAccepted", "status": status, "reason": reason},
	}}
}

func ref(kind, name string) map[string]any {
	m := map[string]any{"kind": kind, "name": name}
	if kind == "Gateway" || kind == "GatewayClass" {
		m["group"] = "gateway.networking.k8s.io"
	}
	return m
}

func targets(refs ...map[string]any) map[string]any {
	l := make([]any, len(refs))
	for i, r := range refs {
		l[i] = r
	}
	return map[string]any{"targetRefs": l}
}

func parents(refs ...map[string]any) map[string]any {
	l := make([]any, len(refs))
	for i, r := range refs {
		l[i] = r
	}
	return map[string]any{"parentRefs": l}
}

func waypointGateway(ns, name, class string, bound bool) *gatewayv1.Gateway {
	all := gatewayv1.NamespacesFromAll
	g := &gatewayv1.Gateway{
		ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: name},
		Spec: gatewayv1.GatewaySpec{GatewayClassName: gatewayv1.ObjectName(class), Listeners: []gatewayv1.Listener{{
			Name: "mesh", Port: 15008, Protocol: "HBONE",
			AllowedRoutes: &gatewayv1.AllowedRoutes{Namespaces: &gatewayv1.RouteNamespaces{From: &all}},
		}}},
	}
	if bound {
		g.Status.Addresses = []gatewayv1.GatewayStatusAddress{{Value: "10.0.0.1"}}
		g.Status.Conditions = []metav1.Condition{{Type: "Programmed", Status: metav1.ConditionTrue, Reason: "Programmed"}}
	}
	return g
}

func gatewayClass(name, controller string) *gatewayv1.GatewayClass {
	return &gatewayv1.GatewayClass{ObjectMeta: metav1.ObjectMeta{Name: name},
		Spec: gatewayv1.GatewayClassSpec{ControllerName: gatewayv1.GatewayController(controller)}}
}

func service(ns, name string, labels map[string]string, external bool) *corev1.Service {
	s := &corev1.Service{ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: name, Labels: labels}}
	if external {
		s.Spec.Type = corev1.ServiceTypeExternalName
		s.Spec.ExternalName = "example.com"
	}
	return s
}

func namespace(name string) *corev1.Namespace {
	return &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: name, Labels: map[string]string{"kubernetes.io/metadata.name": name}}}
}

var useInfra = map[string]string{"istio.io/use-waypoint": "wp", "istio.io/use-waypoint-namespace": "infra"}

// smallMesh is a small mesh: waypoint infra/wp (bound, admits all), an ingress
// app/ingress, waypoint app/unbound without an address; Services
// app/reviews (on infra/wp), app/ratings (on none), app/ext (ExternalName,
// labelled); ServiceEntry app/api (on infra/wp).
func smallMesh(policies ...runtime.Object) cluster {
	se := obj("networking.istio.io/v1", "ServiceEntry", "app", "api", 1, map[string]any{"hosts": []any{"api.example.com"}})
	se.SetLabels(useInfra)
	return newCluster(
		[]runtime.Object{namespace("app"), namespace("infra"), namespace("istio-system"),
			service("app", "reviews", useInfra, false), service("app", "ratings", nil, false), service("app", "ext", useInfra, true)},
		[]runtime.Object{waypointGateway("infra", "wp", "istio-waypoint", true), waypointGateway("app", "ingress", "istio", true),
			waypointGateway("app", "unbound", "istio-waypoint", false),
			gatewayClass("istio-waypoint", "istio.io/mesh-controller"), gatewayClass("istio", "istio.io/gateway-controller")},
		append([]runtime.Object{se}, policies...),
	)
}

const (
	apV1    = "security.istio.io/v1"
	telV1   = "telemetry.istio.io/v1"
	routeV1 = "gateway.networking.k8s.io/v1"
)

type want struct {
	enforced bool
	reason   string
	// attachments, as Target=reason
	attachments []string
	waypoints   []string
}

func describePolicy(p Policy) (string, want) {
	w := want{enforced: p.Enforced, reason: p.Reason}
	for _, a := range p.Attachments {
		w.attachments = append(w.attachments, a.Target.String()+"="+a.Reason)
		w.waypoints = append(w.waypoints, a.Waypoint)
	}
	return p.Kind + " " + p.Key(), w
}

func TestList(t *testing.T) {
	c := smallMesh(
		withStatus(obj(apV1, "AuthorizationPolicy", "app", "allow-reviews", 2, targets(ref("Service", "reviews"))), accepted("Accepted", "True", "2")),
		obj(apV1, "AuthorizationPolicy", "app", "selector-only", 1, map[string]any{"selector": map[string]any{"matchLabels": map[string]any{"app": "x"}}}),
		obj(apV1, "AuthorizationPolicy", "app", "ext", 1, targets(ref("Service", "ext"))),
		obj(apV1, "RequestAuthentication", "infra", "jwt", 1, map[string]any{"targetRef": ref("Gateway", "wp")}),
		obj(telV1, "Telemetry", "istio-system", "mesh", 1, targets(ref("GatewayClass", "istio-waypoint"))),
		obj(telV1, "Telemetry", "istio-system", "ingress-class", 1, targets(ref("GatewayClass", "istio"))),
		obj(telV1, "Telemetry", "istio-system", "no-class", 1, targets(ref("GatewayClass", "missing"))),
		obj(telV1, "Telemetry", "app", "class-outside-root", 1, targets(ref("GatewayClass", "istio-waypoint"))),
		obj(routeV1, "HTTPRoute", "app", "ingress-only", 1, parents(map[string]any{"name": "ingress"})),
		obj(routeV1, "HTTPRoute", "app", "ext", 1, parents(ref("Service", "reviews"), map[string]any{"name": "ingress"})),
		obj(routeV1, "HTTPRoute", "app", "to-unbound", 1, parents(map[string]any{"name": "unbound"})),
		obj(routeV1, "HTTPRoute", "app", "to-missing", 1, parents(map[string]any{"name": "gone"}, ref("ServiceEntry", "gone"))),
		obj(routeV1, "GRPCRoute", "app", "api", 1, parents(map[string]any{"kind": "ServiceEntry", "group": "networking.istio.io", "name": "api"})),
		obj("gateway.networking.k8s.io/v1alpha2", "TCPRoute", "app", "tcp", 1, parents(ref("Service", "reviews"), ref("Service", "ratings"))),
	)
	c.absent("extensions.istio.io", "wasmplugins")
	c.absent("gateway.networking.k8s.io", "tcproutes", "v1")
	c.absent("gateway.networking.k8s.io", "tlsroutes")

	res, err := NewReader(c.clients()).List(context.Background(), "")
	if err != nil {
		t.Fatal(err)
	}
	if !slices.Equal(res.Absent, []string{"WasmPlugin", "TLSRoute"}) {
		t.Errorf("absent kinds %v", res.Absent)
	}
	wants := []struct {
		key string
		want
	}{
		{"AuthorizationPolicy app/allow-reviews", want{true, "Accepted", []string{"Service/app/reviews=Accepted"}, []string{"infra/wp"}}},
		{"AuthorizationPolicy app/ext", want{false, "AncestorNotBound", []string{"Service/app/ext=AncestorNotBound"}, []string{""}}},
		{"HTTPRoute app/ext", want{true, "Accepted", []string{"Service/app/reviews=Accepted"}, []string{"infra/wp"}}},
		{"GRPCRoute app/api", want{true, "Accepted", []string{"ServiceEntry/app/api=Accepted"}, []string{"infra/wp"}}},
		{"TCPRoute app/tcp", want{true, "PartiallyInvalid", []string{"Service/app/reviews=Accepted", "Service/app/ratings=AncestorNotBound"}, []string{"infra/wp", ""}}},
		{"HTTPRoute app/to-missing", want{false, "Invalid", []string{"Gateway/app/gone=TargetNotFound", "ServiceEntry/app/gone=TargetNotFound"}, []string{"", ""}}},
		{"HTTPRoute app/to-unbound", want{false, "TargetNotFound", []string{"Gateway/app/unbound=TargetNotFound"}, []string{""}}},
		{"RequestAuthentication infra/jwt", want{true, "Accepted", []string{"Gateway/infra/wp=Accepted"}, []string{"infra/wp"}}},
		{"Telemetry istio-system/ingress-class", want{false, "Invalid", []string{"GatewayClass/istio=Invalid"}, []string{""}}},
		{"Telemetry istio-system/mesh", want{true, "Accepted", []string{"GatewayClass/istio-waypoint=Accepted"}, []string{"istio-waypoint"}}},
		{"Telemetry istio-system/no-class", want{false, "TargetNotFound", []string{"GatewayClass/missing=TargetNotFound"}, []string{""}}},
	}
	// Telemetry app/class-outside-root sorts between app/ext and app/tcp.
	wants = slices.Insert(wants, 4, struct {
		key string
		want
	}{"Telemetry app/class-outside-root", want{false, "Invalid", []string{"GatewayClass/istio-waypoint=Invalid"}, []string{""}}})
	var got []string
	for _, p := range res.Policies {
		k, _ := describePolicy(p)
		got = append(got, k)
	}
	var order []string
	for _, w := range wants {
		order = append(order, w.key)
	}
	// Sorted by namespace, then name, then kind.
	sortedWant := []string{
		"AuthorizationPolicy app/allow-reviews", "GRPCRoute app/api", "Telemetry app/class-outside-root",
		"AuthorizationPolicy app/ext", "HTTPRoute app/ext", "TCPRoute app/tcp", "HTTPRoute app/to-missing", "HTTPRoute app/to-unbound",
		"RequestAuthentication infra/jwt",
		"Telemetry istio-system/ingress-class", "Telemetry istio-system/mesh", "Telemetry istio-system/no-class",
	}
	if !slices.Equal(got, sortedWant) {
		t.Errorf("policies\n got %v\nwant %v", got, sortedWant)
	}
	for _, p := range res.Policies {
		k, g := describePolicy(p)
		i := slices.Index(order, k)
		if i < 0 {
			continue
		}
		w := wants[i].want
		if g.enforced != w.enforced || g.reason != w.reason || !slices.Equal(g.attachments, w.attachments) || !slices.Equal(g.waypoints, w.waypoints) {
			t.Errorf("%s: got %+v\nwant %+v", k, g, w)
		}
	}

	// One list per version tried, Services and ServiceEntries listed once
	// per namespace, each waypoint read once. A class is read at most twice:
	// once for its controller (a GatewayClass target), once by mesh.Classes
	// for its labels (the class of a waypoint).
	for _, tc := range []struct {
		verb, resource string
		n              int
	}{
		{"list", "authorizationpolicies", 1}, {"list", "tcproutes", 2}, {"list", "tlsroutes", 2},
		{"list", "services", 1}, {"list", "serviceentries", 1},
		{"get", "gatewayclasses", 5}, {"get", "gateways", 4}, {"get", "namespaces", 1},
	} {
		if n := c.count(tc.verb, tc.resource); n != tc.n {
			t.Errorf("%s %s: %d requests, want %d", tc.verb, tc.resource, n, tc.n)
		}
	}
}

func TestListCondition(t *testing.T) {
	c := smallMesh(
		withStatus(obj(apV1, "AuthorizationPolicy", "app", "agrees", 2, targets(ref("Service", "reviews"))), accepted("Accepted", "True", "2")),
		withStatus(obj(apV1, "AuthorizationPolicy", "app", "disagrees", 4, targets(ref("Service", "ratings"))), accepted("Accepted", "True", int64(4))),
		withStatus(obj(apV1, "AuthorizationPolicy", "app", "stale", 3, targets(ref("Service", "ratings"))), accepted("Accepted", "True", "2")),
		withStatus(obj(apV1, "AuthorizationPolicy", "app", "denied", 5, targets(ref("Service", "reviews"))), accepted("AncestorNotBound", "False", "5")),
		withStatus(obj(routeV1, "HTTPRoute", "app", "route", 1, parents(ref("Service", "ratings"))), accepted("Accepted", "True", "1")),
	)
	res, err := NewReader(c.clients()).List(context.Background(), "app")
	if err != nil {
		t.Fatal(err)
	}
	type verdict struct {
		condition, disagrees, enforced bool
		reason                         string
	}
	want := map[string]verdict{
		"AuthorizationPolicy app/agrees":    {true, false, true, "Accepted"},
		"AuthorizationPolicy app/disagrees": {true, true, true, "Accepted"},
		"AuthorizationPolicy app/stale":     {true, false, false, "AncestorNotBound"},
		"AuthorizationPolicy app/denied":    {true, true, false, "AncestorNotBound"},
		// istiod writes no WaypointAccepted on routes: it is not read.
		"HTTPRoute app/route": {false, false, false, "AncestorNotBound"},
	}
	if len(res.Policies) != len(want) {
		t.Fatalf("got %d policies", len(res.Policies))
	}
	for _, p := range res.Policies {
		k, _ := describePolicy(p)
		enforced, reason := p.Verdict()
		got := verdict{p.Condition != nil, p.Disagreement != "", enforced, reason}
		if got != want[k] {
			t.Errorf("%s: got %+v, want %+v (disagreement %q)", k, got, want[k], p.Disagreement)
		}
	}
	for _, p := range res.Policies {
		if p.Name == "disagrees" {
			if want := "istiod reports WaypointAccepted=True (Accepted) where the rules say AncestorNotBound: trusting istiod (it may not have seen the latest change yet)"; p.Disagreement != want {
				t.Errorf("disagreement %q", p.Disagreement)
			}
		}
	}
}

// paged serves a list of resource in two pages (the second after a
// continue token); second, when not nil, replaces the second page's answer.
func paged(f *k8stesting.Fake, resource string, first, rest runtime.Object, second error) *int {
	calls := 0
	f.PrependReactor("list", resource, func(a k8stesting.Action) (bool, runtime.Object, error) {
		calls++
		if calls%2 == 1 {
			return true, first, nil
		}
		if second != nil {
			return true, nil, second
		}
		return true, rest, nil
	})
	return &calls
}

func uList(items ...*unstructured.Unstructured) *unstructured.UnstructuredList {
	l := &unstructured.UnstructuredList{Object: map[string]any{"apiVersion": "v1", "kind": "List"}}
	for _, i := range items {
		l.Items = append(l.Items, *i)
	}
	return l
}

func TestListPages(t *testing.T) {
	c := smallMesh()
	first := uList(obj(apV1, "AuthorizationPolicy", "app", "a", 1, targets(ref("Service", "reviews"))))
	first.SetContinue("more")
	rest := uList(obj(apV1, "AuthorizationPolicy", "app", "b", 1, targets(ref("ServiceEntry", "api"))))
	calls := paged(&c.dynamic.Fake, "authorizationpolicies", first, rest, nil)
	svcFirst := &corev1.ServiceList{Items: []corev1.Service{*service("app", "ratings", nil, false)}}
	svcFirst.Continue = "more"
	paged(&c.kube.Fake, "services", svcFirst, &corev1.ServiceList{Items: []corev1.Service{*service("app", "reviews", useInfra, false)}}, nil)
	seFirst := uList()
	seFirst.SetContinue("more")
	se := obj("networking.istio.io/v1", "ServiceEntry", "app", "api", 1, nil)
	se.SetLabels(useInfra)
	paged(&c.dynamic.Fake, "serviceentries", seFirst, uList(se), nil)

	res, err := NewReader(c.clients()).List(context.Background(), "app")
	if err != nil {
		t.Fatal(err)
	}
	if *calls != 2 || len(res.Policies) != 2 || !res.Policies[0].Enforced || !res.Policies[1].Enforced {
		t.Errorf("%d list calls, policies %+v", *calls, res.Policies)
	}

	// A page that fails after the first is an error, not a missing kind.
	c = smallMesh()
	paged(&c.dynamic.Fake, "authorizationpolicies", first, nil, apierrors.NewNotFound(schema.GroupResource{Resource: "authorizationpolicies"}, "x"))
	if _, err := NewReader(c.clients()).List(context.Background(), "app"); err == nil {
		t.Error("a failed second page: no error")
	}
}

func TestListErrors(t *testing.T) {
	forbidden := func(resource string) error {
		return apierrors.NewForbidden(schema.GroupResource{Resource: resource}, "", errors.New("no"))
	}
	fail := func(f *k8stesting.Fake, verb, resource string, err error) {
		f.PrependReactor(verb, resource, func(k8stesting.Action) (bool, runtime.Object, error) { return true, nil, err })
	}
	cases := []struct {
		name   string
		policy runtime.Object
		break_ func(c cluster)
		want   string
	}{
		{"policies cannot be listed", nil,
			func(c cluster) {
				fail(&c.dynamic.Fake, "list", "authorizationpolicies", forbidden("authorizationpolicies"))
			},
			"cannot list authorizationpolicies: forbidden"},
		{"services cannot be listed", obj(apV1, "AuthorizationPolicy", "app", "p", 1, targets(ref("Service", "reviews"))),
			func(c cluster) { fail(&c.kube.Fake, "list", "services", forbidden("services")) },
			"cannot list the services of namespace app: forbidden"},
		{"ServiceEntries cannot be listed", obj(apV1, "AuthorizationPolicy", "app", "p", 1, targets(ref("ServiceEntry", "api"))),
			func(c cluster) { fail(&c.dynamic.Fake, "list", "serviceentries", forbidden("serviceentries")) },
			"cannot list the ServiceEntries of namespace app: forbidden"},
		{"a class cannot be read", obj(telV1, "Telemetry", "istio-system", "t", 1, targets(ref("GatewayClass", "istio-waypoint"))),
			func(c cluster) { fail(&c.gateway.Fake, "get", "gatewayclasses", forbidden("gatewayclasses")) },
			"cannot read GatewayClass istio-waypoint: forbidden"},
		{"a waypoint cannot be read", obj(apV1, "AuthorizationPolicy", "infra", "p", 1, targets(ref("Gateway", "wp"))),
			func(c cluster) { fail(&c.gateway.Fake, "get", "gateways", forbidden("gateways")) },
			"cannot read waypoint infra/wp: forbidden"},
		{"the waypoint of a service cannot be read", obj(apV1, "AuthorizationPolicy", "app", "p", 1, targets(ref("Service", "reviews"))),
			func(c cluster) { fail(&c.gateway.Fake, "get", "gateways", forbidden("gateways")) },
			"cannot read waypoint infra/wp: forbidden"},
		{"the waypoint of a ServiceEntry cannot be read", obj(apV1, "AuthorizationPolicy", "app", "p", 1, targets(ref("ServiceEntry", "api"))),
			func(c cluster) { fail(&c.gateway.Fake, "get", "gateways", forbidden("gateways")) },
			"cannot read waypoint infra/wp: forbidden"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			var objs []runtime.Object
			if tc.policy != nil {
				objs = append(objs, tc.policy)
			}
			c := smallMesh(objs...)
			tc.break_(c)
			res, err := NewReader(c.clients()).List(context.Background(), "")
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Errorf("got %v, %v; want an error with %q", res, err, tc.want)
			}
		})
	}
}

func TestListMissingTargets(t *testing.T) {
	// Without the ServiceEntry CRD or the Gateway API, targets are just missing.
	c := smallMesh(
		obj(apV1, "AuthorizationPolicy", "app", "se", 1, targets(ref("ServiceEntry", "api"))),
		obj(telV1, "Telemetry", "istio-system", "class", 1, targets(ref("GatewayClass", "istio-waypoint"))),
		obj(apV1, "AuthorizationPolicy", "app", "svc", 1, targets(ref("Service", "nope"))),
	)
	c.absent("networking.istio.io", "serviceentries")
	c.gateway.PrependReactor("get", "gatewayclasses", func(k8stesting.Action) (bool, runtime.Object, error) {
		return true, nil, apierrors.NewNotFound(schema.GroupResource{Group: "gateway.networking.k8s.io", Resource: "gatewayclasses"}, "")
	})
	res, err := NewReader(c.clients()).List(context.Background(), "")
	if err != nil {
		t.Fatal(err)
	}
	if len(res.Policies) != 3 {
		t.Fatalf("got %+v", res.Policies)
	}
	for _, p := range res.Policies {
		if p.Enforced || p.Reason != ReasonTargetNotFound {
			t.Errorf("%s: %v %s", p.Key(), p.Enforced, p.Reason)
		}
	}
}

func TestListFor(t *testing.T) {
	c := smallMesh(
		obj(apV1, "AuthorizationPolicy", "app", "on-reviews", 1, targets(ref("Service", "reviews"), ref("Service", "ratings"))),
		obj(apV1, "AuthorizationPolicy", "app", "on-ratings", 1, targets(ref("Service", "ratings"))),
		obj(apV1, "AuthorizationPolicy", "infra", "on-wp", 1, targets(ref("Gateway", "wp"))),
		obj(apV1, "AuthorizationPolicy", "elsewhere", "on-wp", 1, map[string]any{"targetRef": map[string]any{"kind": "Gateway", "name": "wp", "namespace": "infra"}}),
	)
	r := NewReader(c.clients())
	got, err := r.ListFor(context.Background(), "Service", "app", "reviews", "infra/wp")
	if err != nil {
		t.Fatal(err)
	}
	var keys []string
	for _, p := range got {
		keys = append(keys, p.Key()+fmt.Sprint(len(p.Attachments)))
	}
	if !slices.Equal(keys, []string{"app/on-reviews1", "infra/on-wp1"}) {
		t.Errorf("ListFor = %v", keys)
	}
	if n := c.count("list", "authorizationpolicies"); n != 2 {
		t.Errorf("%d lists of AuthorizationPolicies, want 2 (app and infra)", n)
	}

	// A waypoint in the object's own namespace: that namespace is read once.
	c = smallMesh(obj(apV1, "AuthorizationPolicy", "infra", "on-wp", 1, targets(ref("Gateway", "wp"))))
	got, err = NewReader(c.clients()).ListFor(context.Background(), "Service", "infra", "x", "infra/wp")
	if err != nil || len(got) != 1 || c.count("list", "authorizationpolicies") != 1 {
		t.Errorf("same namespace: %+v, %v, %d lists", got, err, c.count("list", "authorizationpolicies"))
	}

	// No waypoint: the object's namespace only.
	c = smallMesh()
	if _, err := NewReader(c.clients()).ListFor(context.Background(), "Service", "app", "ratings", ""); err != nil || c.count("list", "authorizationpolicies") != 1 {
		t.Errorf("no waypoint: %v, %d lists", err, c.count("list", "authorizationpolicies"))
	}

	c = smallMesh()
	c.dynamic.PrependReactor("list", "authorizationpolicies", func(k8stesting.Action) (bool, runtime.Object, error) {
		return true, nil, errors.New("boom")
	})
	if _, err := NewReader(c.clients()).ListFor(context.Background(), "Service", "app", "reviews", "infra/wp"); err == nil {
		t.Error("a failing list: no error")
	}
}

func TestRouteParents(t *testing.T) {
	cond := func(typ, status, reason string) map[string]any {
		return map[string]any{"type": typ, "status": status, "reason": reason}
	}
	parent := func(ref map[string]any, controller string, conds ...map[string]any) any {
		l := make([]any, len(conds))
		for i, c := range conds {
			l[i] = c
		}
		return map[string]any{"parentRef": ref, "controllerName": controller, "conditions": l}
	}
	route := withStatus(obj(routeV1, "HTTPRoute", "app", "r", 1, nil), map[string]any{"parents": []any{
		// istiod's answer for the waypoint, then another controller's: istiod's is kept.
		parent(map[string]any{"name": "wp", "namespace": "infra"}, IstioController,
			cond("Accepted", "True", "Accepted"), cond("ResolvedRefs", "False", "BackendNotFound")),
		parent(map[string]any{"name": "wp", "namespace": "infra"}, "example.com/other", cond("Accepted", "False", "NotAllowed")),
		// another controller first, then istiod's: istiod's replaces it.
		parent(ref("Service", "reviews"), "example.com/other", cond("Accepted", "False", "NotAllowed")),
		parent(ref("Service", "reviews"), IstioController, cond("Accepted", "True", "Accepted"), cond("ResolvedWaypoints", "True", "Resolved")),
		"not a map",
		map[string]any{"controllerName": IstioController}, // no parentRef
	}})
	got := routeParents(route)
	if len(got) != 2 {
		t.Fatalf("%d parents, want 2: %v", len(got), got)
	}
	wp := got[Target{Kind: "Gateway", Group: gatewayGroup, Namespace: "infra", Name: "wp"}]
	if wp == nil || wp.Controller != IstioController || wp.String() != "Accepted=True ResolvedRefs=False (BackendNotFound)" {
		t.Errorf("waypoint parent %+v: %q", wp, wp.String())
	}
	svc := got[Target{Kind: "Service", Namespace: "app", Name: "reviews"}]
	if svc == nil || svc.Controller != IstioController || svc.String() != "Accepted=True" || svc.ResolvedWaypoints == nil || svc.ResolvedWaypoints.Reason != "Resolved" {
		t.Errorf("service parent %+v", svc)
	}
	var none *ParentStatus
	if none.String() != "<none>" {
		t.Errorf("nil parent status: %q", none.String())
	}
}

func TestListPrefetchesAcrossTheCluster(t *testing.T) {
	// Ten namespaces, each with a Service on waypoint infra/wp and a policy
	// on that Service: more than prefetchAbove, so the targets are read
	// with one list per kind across the cluster, not one read each (no
	// ServiceEntry is a target: they are not listed).
	typed := []runtime.Object{namespace("infra")}
	var dyn []runtime.Object
	for i := range 10 {
		ns := fmt.Sprintf("team-%d", i)
		typed = append(typed, namespace(ns), service(ns, "api", useInfra, false))
		dyn = append(dyn, obj(apV1, "AuthorizationPolicy", ns, "on-api", 1, targets(ref("Service", "api"))))
	}
	wp := waypointGateway("infra", "wp", "istio-waypoint", true)
	c := newCluster(typed, []runtime.Object{wp, gatewayClass("istio-waypoint", "istio.io/mesh-controller")}, dyn)
	c.gateway.PrependReactor("list", "gateways", func(k8stesting.Action) (bool, runtime.Object, error) {
		return true, &gatewayv1.GatewayList{Items: []gatewayv1.Gateway{*wp.DeepCopy()}}, nil
	})
	res, err := NewReader(c.clients()).List(context.Background(), "")
	if err != nil {
		t.Fatal(err)
	}
	if len(res.Policies) != 10 {
		t.Fatalf("%d policies, want 10", len(res.Policies))
	}
	for _, p := range res.Policies {
		if !p.Enforced || len(p.Attachments) != 1 || p.Attachments[0].Waypoint != "infra/wp" {
			t.Errorf("%s: enforced %v (%s), attachments %+v", p.Key(), p.Enforced, p.Reason, p.Attachments)
		}
	}
	for _, tc := range []struct {
		verb, resource string
		n              int
	}{
		{"list", "services", 1}, {"list", "serviceentries", 0}, {"list", "gateways", 1}, {"list", "namespaces", 1},
		{"get", "gateways", 0}, {"get", "namespaces", 0},
	} {
		if n := c.count(tc.verb, tc.resource); n != tc.n {
			t.Errorf("%s %s: %d requests, want %d", tc.verb, tc.resource, n, tc.n)
		}
	}
}
