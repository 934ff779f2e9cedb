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

// FuzzAllowNamespaceSelector renders --allow-namespace-selector values.
// An arbitrary value is refused, or becomes a selector the API server
// accepts and that lets in exactly the namespaces the value selects in
// kubectl's syntax, once printed and read back as istiod reads it. A valid
// selector drawn from gen must be rendered, and let in the labels it was
// drawn to select and not the ones drawn to miss it.
func FuzzAllowNamespaceSelector(f *testing.F) {
	for i, s := range []string{"team=a", "team in (a,b),!legacy", "env!=prod", "x", "!x", "a==b", "a notin (b)",
		"a>1", "a in ()", "a=", "kubernetes.io/metadata.name=default", "a,b", "a in (b", "=", "x=y=z", " team = a "} {
		f.Add(s, "team", "a", []byte{byte(i), byte(i * 37), 7, 200, 3})
	}
	f.Fuzz(func(t *testing.T, selector, nsKey, nsValue string, gen []byte) {
		checkSelector(t, selector, nsKey, nsValue)
		checkValidSelector(t, drawSelector(&choices{b: gen}))
	})
}

// checkSelector holds an arbitrary selector to "refused, or rendered as
// kubectl's parser reads it".
func checkSelector(t *testing.T, selector, nsKey, nsValue string) {
	t.Helper()
	gw, err := Gateway(Request{AllowNamespaceSelector: selector})
	if err != nil {
		if gw != nil {
			t.Fatalf("%q: refused with %v, but built a Gateway", selector, err)
		}
		return
	}
	if selector == "" {
		// An empty value is the flag left out: the own namespace only.
		if routes := gw.Spec.Listeners[0].AllowedRoutes; routes != nil {
			t.Fatalf("no selector, but allowedRoutes %+v", routes)
		}
		return
	}
	want, err := labels.Parse(selector)
	if err != nil {
		t.Fatalf("%q rendered, but kubectl's parser refuses it: %v", selector, err)
	}
	w := renderedSelector(t, selector, gw)
	for _, ns := range []map[string]string{{nsKey: nsValue}, {}, {nsKey: nsValue, "team": "a", "x": "", "a": "2"}} {
		if got := w.Allows("elsewhere", ns); got != want.Matches(labels.Set(ns)) {
			t.Fatalf("%q: namespace labels %v let in %v, the selector says %v", selector, ns, got, !got)
		}
	}
}

// checkValidSelector holds a valid selector to "rendered, and selecting
// what it was drawn to select".
func checkValidSelector(t *testing.T, s drawnSelector) {
	t.Helper()
	gw, err := Gateway(Request{AllowNamespaceSelector: s.text})
	if err != nil {
		t.Fatalf("valid selector %q refused: %v", s.text, err)
	}
	w := renderedSelector(t, s.text, gw)
	if !w.Allows("elsewhere", s.match) {
		t.Fatalf("%q: does not let in namespace labels %v", s.text, s.match)
	}
	if w.Allows("elsewhere", s.miss) {
		t.Fatalf("%q: lets in namespace labels %v", s.text, s.miss)
	}
}

// renderedSelector checks that gw's selector is one the API server accepts
// and reads it back as istiod will.
func renderedSelector(t *testing.T, selector string, gw *gatewayv1.Gateway) mesh.Waypoint {
	t.Helper()
	sel := gw.Spec.Listeners[0].AllowedRoutes.Namespaces.Selector
	if errs := metav1validation.ValidateLabelSelector(sel, metav1validation.LabelSelectorValidationOptions{}, field.NewPath("selector")); len(errs) > 0 {
		t.Fatalf("%q renders a selector the API server refuses: %v", selector, errs.ToAggregate())
	}
	w := reread(t, gw)
	if w.From != gatewayv1.NamespacesFromSelector {
		t.Fatalf("%q: from %q", selector, w.From)
	}
	return w
}

// FuzzAllowNamespaces renders --allow-namespace lists (comma-separated here):
// each name is refused, or the Gateway lets in exactly those namespaces. A
// list of valid names drawn from gen, duplicates included, must be rendered.
func FuzzAllowNamespaces(f *testing.F) {
	for i, s := range []string{"a", "a,b", "a,a", "b,a,b", "A", "a.b", "", ",", "-a", strings.Repeat("a", 64)} {
		f.Add(s, "c", []byte{byte(i), 3, byte(i * 41), 0, 9})
	}
	f.Fuzz(func(t *testing.T, list, other string, gen []byte) {
		if names := strings.Split(list, ","); allowedNamespaces(t, names) {
			checkAllowedNamespaces(t, names, other)
		}
		c := &choices{b: gen}
		names := drawNamespaces(c)
		if !allowedNamespaces(t, names) {
			t.Fatalf("valid namespaces %q refused", names)
		}
		checkAllowedNamespaces(t, names, c.dnsLabel())
	})
}

// allowedNamespaces reports whether Gateway takes names; a refusal must
// build nothing.
func allowedNamespaces(t *testing.T, names []string) bool {
	t.Helper()
	gw, err := Gateway(Request{AllowNamespaces: names})
	if err != nil && gw != nil {
		t.Fatalf("%q: refused with %v, but built a Gateway", names, err)
	}
	return err == nil
}

// checkAllowedNamespaces holds the Gateway of names to letting in exactly
// those namespaces: other only when it is one of them.
func checkAllowedNamespaces(t *testing.T, names []string, other string) {
	t.Helper()
	gw, err := Gateway(Request{AllowNamespaces: names})
	if err != nil {
		t.Fatal(err)
	}
	w := reread(t, gw)
	got, ok := w.AllowedNames()
	want := slices.Compact(slices.Sorted(slices.Values(names)))
	if !ok || !slices.Equal(got, want) {
		t.Fatalf("%q: the Gateway lets in %v (%v), want %v", names, got, ok, want)
	}
	for _, ns := range append(want, other) {
		if allowed := w.Allows(ns, map[string]string{"kubernetes.io/metadata.name": ns}); allowed != slices.Contains(want, ns) {
			t.Fatalf("%q: namespace %q let in: %v", names, ns, allowed)
		}
	}
}

// choices hands out the decisions of a generated input, one fuzzed byte
// each, so that the fuzzer's mutations walk among valid inputs as well as
// invalid ones. Once the bytes run out, every decision is the first option.
type choices struct{ b []byte }

// intn decides among n options: 0 to n-1.
func (c *choices) intn(n int) int {
	if n <= 1 || len(c.b) == 0 {
		return 0
	}
	v := int(c.b[0]) % n
	c.b = c.b[1:]
	return v
}

// space is nothing or a blank, which kubectl's selector syntax allows
// around its words.
func (c *choices) space() string { return []string{"", " "}[c.intn(2)] }

const (
	dnsEdge   = "abcdefghijklmnopqrstuvwxyz0123456789"
	dnsInner  = dnsEdge + "-"
	nameEdge  = dnsEdge + "ABCDEFGHIJKLMNOPQRSTUVWXYZ"
	nameInner = nameEdge + "-_."
)

// word is 1 to most characters of inner, the first and the last of edge.
func (c *choices) word(most int, edge, inner string) string {
	b := make([]byte, 1+c.intn(most))
	for i := range b {
		set := inner
		if i == 0 || i == len(b)-1 {
			set = edge
		}
		b[i] = set[c.intn(len(set))]
	}
	return string(b)
}

// dnsLabel is a DNS-1123 label: a namespace name, up to 63 characters.
func (c *choices) dnsLabel() string { return c.word(63, dnsEdge, dnsInner) }

// labelKey is a label key: a name, with a DNS subdomain prefix or not.
func (c *choices) labelKey() string {
	name := c.word(63, nameEdge, nameInner)
	if c.intn(3) > 0 {
		return name
	}
	prefix := c.dnsLabel()
	for range c.intn(3) {
		prefix += "." + c.dnsLabel()
	}
	return prefix + "/" + name
}

// labelValue is a label value, empty or up to 63 characters.
func (c *choices) labelValue() string {
	if c.intn(4) == 0 {
		return ""
	}
	return c.word(63, nameEdge, nameInner)
}

// drawNamespaces is one to four namespace names, some maybe repeated.
func drawNamespaces(c *choices) []string {
	names := []string{c.dnsLabel()}
	for range c.intn(4) {
		if c.intn(4) == 0 {
			names = append(names, names[c.intn(len(names))])
			continue
		}
		names = append(names, c.dnsLabel())
	}
	return names
}

// drawnSelector is a label selector in kubectl's syntax, namespace labels
// it selects, and labels it does not: match with one requirement broken.
type drawnSelector struct {
	text        string
	match, miss map[string]string
}

// drawSelector draws one to three requirements, each on a key of its own
// so that every one can hold at once, with every operator a
// LabelSelector can hold: =, ==, !=, in, notin, exists and !exists.
func drawSelector(c *choices) drawnSelector {
	s := drawnSelector{match: map[string]string{}}
	var parts []string
	var breakFirst func(map[string]string)
	used := map[string]bool{}
	for range 1 + c.intn(3) {
		op, key := c.intn(7), c.labelKey()
		if used[key] {
			continue
		}
		used[key] = true
		part, breaks := drawRequirement(c, op, key, s.match)
		parts = append(parts, part)
		if breakFirst == nil {
			breakFirst = breaks
		}
	}
	s.text = strings.Join(parts, c.space()+","+c.space())
	s.miss = map[string]string{}
	for k, v := range s.match {
		s.miss[k] = v
	}
	breakFirst(s.miss)
	return s
}

// drawRequirement draws one requirement on key with operator op (0 to 6):
// its text, the labels it needs set in match, and how to break it in a
// copy of match.
func drawRequirement(c *choices, op int, key string, match map[string]string) (string, func(map[string]string)) {
	unset := func(m map[string]string) { delete(m, key) }
	setTo := func(v string) func(map[string]string) { return func(m map[string]string) { m[key] = v } }
	values := func() []string {
		vs := []string{c.word(63, nameEdge, nameInner)}
		for range c.intn(3) {
			vs = append(vs, c.word(63, nameEdge, nameInner))
		}
		return vs
	}
	sp := c.space
	switch op {
	case 0:
		v := c.labelValue()
		match[key] = v
		return key + sp() + "=" + sp() + v, unset
	case 1:
		v := c.labelValue()
		match[key] = v
		return key + sp() + "==" + sp() + v, unset
	case 2:
		v := c.labelValue()
		return key + sp() + "!=" + sp() + v, setTo(v)
	case 3:
		vs := values()
		match[key] = vs[c.intn(len(vs))]
		return key + " in " + sp() + "(" + strings.Join(vs, ",") + ")", unset
	case 4:
		vs := values()
		return key + " notin " + sp() + "(" + strings.Join(vs, ",") + ")", setTo(vs[c.intn(len(vs))])
	case 5:
		match[key] = c.labelValue()
		return key, unset
	}
	return "!" + sp() + key, setTo(c.labelValue())
}
