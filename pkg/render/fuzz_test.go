package render

import (
	"bytes"
	"slices"
	"strings"
	"testing"

	metav1validation "k8s.io/apimachinery/pkg/apis/meta/v1/validation"
	"k8s.io/apimachinery/pkg/labels"
	"k8s.io/apimachinery/pkg/util/validation/field"
	gatewayv1 "sigs.k8s.io/gateway-api/apis/v1"
	"sigs.k8s.io/yaml"

	"github.com/kubectl-waypoint/kubectl-waypoint/pkg/mesh"
)

// reread prints gw as generate does and reads it back as istiod will.
func reread(t *testing.T, gw *gatewayv1.Gateway) mesh.Waypoint {
	t.Helper()
	var buf bytes.Buffer
	if err := Object(&buf, "yaml", gw); err != nil {
		t.Fatal(err)
	}
	var back gatewayv1.Gateway
	if err := yaml.UnmarshalStrict(buf.Bytes(), &back); err != nil {
		t.Fatalf("the printed Gateway does not read back: %v\n%s", err, buf.String())
	}
	return mesh.Parse(&back, nil)
}

// FuzzAllowNamespaceSelector renders --allow-namespace-selector values: each
// is refused, or becomes a selector the API server accepts and that lets in
// exactly the namespaces the value selects in kubectl's syntax, once printed
// and read back as istiod reads it.
func FuzzAllowNamespaceSelector(f *testing.F) {
	for _, s := range []string{"team=a", "team in (a,b),!legacy", "env!=prod", "x", "!x", "a==b", "a notin (b)",
		"a>1", "a in ()", "a=", "kubernetes.io/metadata.name=default", "a,b", "a in (b", "=", "x=y=z", " team = a "} {
		f.Add(s, "team", "a")
	}
	f.Fuzz(func(t *testing.T, selector, nsKey, nsValue string) {
		gw, err := Gateway(Request{AllowNamespaceSelector: selector})
		if err != nil {
			if gw != nil {
				t.Fatalf("%q: refused with %v, but built a Gateway", selector, err)
			}
			return
		}
		sel := gw.Spec.Listeners[0].AllowedRoutes.Namespaces.Selector
		if errs := metav1validation.ValidateLabelSelector(sel, metav1validation.LabelSelectorValidationOptions{}, field.NewPath("selector")); len(errs) > 0 {
			t.Fatalf("%q renders a selector the API server refuses: %v", selector, errs.ToAggregate())
		}
		want, err := labels.Parse(selector)
		if err != nil {
			t.Fatalf("%q rendered, but kubectl's parser refuses it: %v", selector, err)
		}
		w := reread(t, gw)
		if w.From != gatewayv1.NamespacesFromSelector {
			t.Fatalf("%q: from %q", selector, w.From)
		}
		for _, ns := range []map[string]string{{nsKey: nsValue}, {}, {nsKey: nsValue, "team": "a", "x": "", "a": "2"}} {
			if got := w.Allows("elsewhere", ns); got != want.Matches(labels.Set(ns)) {
				t.Fatalf("%q: namespace labels %v let in %v, the selector says %v (rendered %+v)", selector, ns, got, !got, sel)
			}
		}
	})
}

// FuzzAllowNamespaces renders --allow-namespace lists (comma-separated here):
// each name is refused, or the Gateway lets in exactly those namespaces.
func FuzzAllowNamespaces(f *testing.F) {
	for _, s := range []string{"a", "a,b", "a,a", "b,a,b", "A", "a.b", "", ",", "-a", strings.Repeat("a", 64)} {
		f.Add(s, "c")
	}
	f.Fuzz(func(t *testing.T, list, other string) {
		names := strings.Split(list, ",")
		gw, err := Gateway(Request{AllowNamespaces: names})
		if err != nil {
			return
		}
		w := reread(t, gw)
		got, ok := w.AllowedNames()
		want := slices.Clone(names)
		slices.Sort(want)
		want = slices.Compact(want)
		if !ok || !slices.Equal(got, want) {
			t.Fatalf("%q: the Gateway lets in %v (%v), want %v", list, got, ok, want)
		}
		if allowed := w.Allows(other, map[string]string{"kubernetes.io/metadata.name": other}); allowed != slices.Contains(want, other) {
			t.Fatalf("%q: namespace %q let in: %v", list, other, allowed)
		}
	})
}
