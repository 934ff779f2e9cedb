package render

import (
	"bytes"
	"reflect"
	"strings"
	"testing"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	gatewayv1 "sigs.k8s.io/gateway-api/apis/v1"
)

func TestWaypointName(t *testing.T) {
	if got := (Request{}).WaypointName(); got != "waypoint" {
		t.Errorf("default name = %q, want waypoint", got)
	}
	if got := (Request{Name: "w1"}).WaypointName(); got != "w1" {
		t.Errorf("name = %q, want w1", got)
	}
}

func TestGatewayDefault(t *testing.T) {
	gw, err := Gateway(Request{})
	if err != nil {
		t.Fatal(err)
	}
	if gw.APIVersion != "gateway.networking.k8s.io/v1" || gw.Kind != "Gateway" {
		t.Errorf("type = %s %s", gw.APIVersion, gw.Kind)
	}
	if gw.Name != "waypoint" || gw.Namespace != "" || gw.Labels != nil {
		t.Errorf("metadata = %+v", gw.ObjectMeta)
	}
	if gw.Spec.GatewayClassName != "istio-waypoint" || len(gw.Spec.Listeners) != 1 {
		t.Fatalf("spec = %+v", gw.Spec)
	}
	l := gw.Spec.Listeners[0]
	if l.Name != "mesh" || l.Port != 15008 || l.Protocol != "HBONE" || l.AllowedRoutes != nil {
		t.Errorf("listener = %+v", l)
	}
}

func TestGatewayLabelsAndNamespace(t *testing.T) {
	gw, err := Gateway(Request{Name: "w", Namespace: "ns1", For: "workload", Revision: "canary"})
	if err != nil {
		t.Fatal(err)
	}
	want := map[string]string{"istio.io/waypoint-for": "workload", "istio.io/rev": "canary"}
	if gw.Name != "w" || gw.Namespace != "ns1" || !reflect.DeepEqual(gw.Labels, want) {
		t.Errorf("metadata = %+v, want labels %v", gw.ObjectMeta, want)
	}
	gw, _ = Gateway(Request{Revision: "r1"})
	if !reflect.DeepEqual(gw.Labels, map[string]string{"istio.io/rev": "r1"}) {
		t.Errorf("labels = %v", gw.Labels)
	}
}

func routesOf(t *testing.T, r Request) *gatewayv1.AllowedRoutes {
	t.Helper()
	gw, err := Gateway(r)
	if err != nil {
		t.Fatal(err)
	}
	return gw.Spec.Listeners[0].AllowedRoutes
}

func TestGatewayAllowedRoutes(t *testing.T) {
	all := routesOf(t, Request{AllowAllNamespaces: true})
	if *all.Namespaces.From != gatewayv1.NamespacesFromAll || all.Namespaces.Selector != nil {
		t.Errorf("all = %+v", all.Namespaces)
	}
	one := routesOf(t, Request{AllowNamespaces: []string{"a"}})
	wantOne := &metav1.LabelSelector{MatchLabels: map[string]string{"kubernetes.io/metadata.name": "a"}}
	if *one.Namespaces.From != gatewayv1.NamespacesFromSelector || !reflect.DeepEqual(one.Namespaces.Selector, wantOne) {
		t.Errorf("one = %+v", one.Namespaces.Selector)
	}
	many := routesOf(t, Request{AllowNamespaces: []string{"a", "b", "a"}})
	wantMany := &metav1.LabelSelector{MatchExpressions: []metav1.LabelSelectorRequirement{{
		Key: "kubernetes.io/metadata.name", Operator: metav1.LabelSelectorOpIn, Values: []string{"a", "b"},
	}}}
	if !reflect.DeepEqual(many.Namespaces.Selector, wantMany) {
		t.Errorf("many = %+v", many.Namespaces.Selector)
	}
	// A duplicate of one name is still one name: matchLabels.
	dup := routesOf(t, Request{AllowNamespaces: []string{"a", "a"}})
	if !reflect.DeepEqual(dup.Namespaces.Selector, wantOne) {
		t.Errorf("dup = %+v", dup.Namespaces.Selector)
	}
	sel := routesOf(t, Request{AllowNamespaceSelector: "team in (a,b),!legacy"})
	// apimachinery sorts the requirements by key.
	wantSel := &metav1.LabelSelector{MatchLabels: map[string]string{}, MatchExpressions: []metav1.LabelSelectorRequirement{
		{Key: "legacy", Operator: metav1.LabelSelectorOpDoesNotExist, Values: []string{}},
		{Key: "team", Operator: metav1.LabelSelectorOpIn, Values: []string{"a", "b"}},
	}}
	if *sel.Namespaces.From != gatewayv1.NamespacesFromSelector || !reflect.DeepEqual(sel.Namespaces.Selector, wantSel) {
		t.Errorf("selector = %+v", sel.Namespaces.Selector)
	}
}

func TestRequestValidate(t *testing.T) {
	for _, tc := range []struct {
		r    Request
		want string
	}{
		{Request{Name: "none"}, `invalid waypoint name "none": "none" is reserved`},
		{Request{Name: "Bad"}, `invalid waypoint name "Bad"`},
		{Request{Name: "a.b"}, `invalid waypoint name "a.b"`},
		{Request{Namespace: "Bad_NS"}, `invalid namespace "Bad_NS"`},
		{Request{For: "everything"}, "--for: "},
		{Request{Revision: "bad rev"}, `invalid revision "bad rev"`},
		{Request{AllowNamespaces: []string{"UPPER"}}, `invalid --allow-namespace "UPPER"`},
		{Request{AllowNamespaceSelector: "a in ("}, `invalid --allow-namespace-selector "a in ("`},
		{Request{AllowAllNamespaces: true, AllowNamespaces: []string{"a"}}, "mutually exclusive"},
		{Request{AllowAllNamespaces: true, AllowNamespaceSelector: "a=b"}, "mutually exclusive"},
		{Request{AllowNamespaces: []string{"a"}, AllowNamespaceSelector: "a=b"}, "mutually exclusive"},
	} {
		err := tc.r.Validate()
		if err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("Validate(%+v) = %v, want %q", tc.r, err, tc.want)
		}
		if gw, err := Gateway(tc.r); err == nil || gw != nil {
			t.Errorf("Gateway(%+v) = %v, %v; want an error", tc.r, gw, err)
		}
	}
	for _, ok := range []Request{{}, {For: "service"}, {For: "all", Revision: "1-24"}, {Namespace: "ns"}, {AllowAllNamespaces: true}} {
		if err := ok.Validate(); err != nil {
			t.Errorf("Validate(%+v) = %v", ok, err)
		}
	}
}

func TestObject(t *testing.T) {
	obj := map[string]any{"b": "<x>", "a": 1}
	var buf bytes.Buffer
	if err := Object(&buf, "yaml", obj); err != nil || buf.String() != "a: 1\nb: <x>\n" {
		t.Errorf("yaml = %q, %v", buf.String(), err)
	}
	buf.Reset()
	// Indented by four blanks like kubectl, and no HTML escaping.
	if err := Object(&buf, "json", obj); err != nil || buf.String() != "{\n    \"a\": 1,\n    \"b\": \"<x>\"\n}\n" {
		t.Errorf("json = %q, %v", buf.String(), err)
	}
	buf.Reset()
	if err := Object(&buf, "xml", obj); err == nil || !strings.Contains(err.Error(), `unknown output format "xml"`) || buf.Len() != 0 {
		t.Errorf("xml: %v, wrote %q", err, buf.String())
	}
	if err := Object(&buf, "json", map[string]any{"f": func() {}}); err == nil {
		t.Error("unmarshalable value: no error")
	}
	if !IsObjectFormat("yaml") || !IsObjectFormat("json") || IsObjectFormat("wide") {
		t.Error("IsObjectFormat")
	}
}

func TestTable(t *testing.T) {
	tbl := NewTable("NAME", "STATUS")
	tbl.Append("a-long-name", "True")
	tbl.Append("b", "")
	var buf bytes.Buffer
	if err := tbl.Render(&buf); err != nil {
		t.Fatal(err)
	}
	want := "NAME          STATUS\na-long-name   True\nb\n"
	if buf.String() != want {
		t.Errorf("table:\n%q\nwant:\n%q", buf.String(), want)
	}
}
