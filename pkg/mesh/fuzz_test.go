package mesh

import (
	"maps"
	"strconv"
	"strings"
	"testing"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/labels"
	gatewayv1 "sigs.k8s.io/gateway-api/apis/v1"

	"github.com/kubectl-waypoint/kubectl-waypoint/pkg/istio"
)

// istiodListener is which listener istiod reads for attachment, written from
// istiod's makeInboundBinding and makeAllowedRoutes
// (pilot/pkg/serviceregistry/ambient/waypoints.go) with strconv, as istiod
// parses the annotation: "" when there is none.
func istiodListener(gw *gatewayv1.Gateway, binding string, has bool) string {
	type inbound struct {
		port  uint32
		proxy bool
	}
	var b *inbound
	if parts := strings.Split(binding, "/"); has && len(parts) <= 2 && (parts[0] == "NONE" || parts[0] == "PROXY") {
		b = &inbound{proxy: parts[0] == "PROXY"}
		if len(parts) == 2 {
			parsed, _ := strconv.ParseUint(parts[1], 10, 32) // istiod logs the error and uses the value
			b.port = uint32(parsed)
		}
	}
	if b != nil {
		for _, l := range gw.Spec.Listeners {
			if (b.port != 0 && l.Port == gatewayv1.PortNumber(b.port)) ||
				(b.port == 0 && b.proxy && l.Protocol == istio.ListenerProtocolProxy) {
				return string(l.Name)
			}
		}
	}
	for _, l := range gw.Spec.Listeners {
		if l.Protocol == "HBONE" && l.Port == 15008 {
			return string(l.Name)
		}
	}
	return ""
}

// FuzzParse feeds Parse the labels, annotation and listeners istiod reads
// on a Gateway and its class: it must never panic, must pick the listener
// and traffic type istiod picks, and what it says about who may attach must
// agree with itself: the selector it prints parses back to the same
// decisions, and the names it lists are let in. A Gateway drawn from gen,
// whose bound listener admits namespaces by a valid selector, must let in
// the labels the selector was drawn to select and keep out the others.
func FuzzParse(f *testing.F) {
	f.Add("service", true, "", false, "PROXY/15088", true, "", false, int32(15088), "istio.io/PROXY", "Selector", "team", "a", "In", "b", "team", "a", []byte{0, 0, 3, 0, 40, 1})
	f.Add("", true, "workload", true, "NONE", true, "PROXY", true, int32(15009), "HBONE", "All", "k", "", "Exists", "", "k", "", []byte{1, 3, 3, 0, 41, 1})
	f.Add("all", false, "all", true, "PROXY", false, "PROXY/", true, int32(15008), "istio.io/PROXY", "Same", "", "", "", "", "", "", []byte{2, 6, 3, 0, 42, 1})
	f.Add("bogus", true, "", false, "PROXY/4294967296", true, "", false, int32(15008), "istio.io/PROXY", "Selector", "kubernetes.io/metadata.name", "x", "NotIn", "y", "kubernetes.io/metadata.name", "y", []byte{3, 9, 3, 0, 43, 1})
	f.Add("", false, "", false, "PROXY/015088/x", true, "NONE/15088", true, int32(15088), "TCP", "Other", "a b", "c", "Gt", "1", "a", "c", []byte{4, 12, 3, 0, 44, 1})
	f.Add("none", true, "service", true, "PROXY/+15088", true, "", false, int32(65535), "istio.io/PROXY", "Selector", "", "", "DoesNotExist", "", "x", "", []byte{5, 15, 3, 0, 45, 1})
	f.Fuzz(func(t *testing.T, gwFor string, gwHasFor bool, classFor string, classHasFor bool,
		binding string, gwHasBinding bool, classBinding string, classHasBinding bool,
		port int32, proto, from, matchKey, matchValue, op, exprValue, nsKey, nsValue string, gen []byte) {
		checkDrawnWaypoint(t, drawWaypoint(&choices{b: gen}))
		gw := gateway()
		if gwHasFor {
			gw.Labels[istio.LabelWaypointFor] = gwFor
		}
		if gwHasBinding {
			gw.Annotations[istio.AnnotationInboundBinding] = binding
		}
		sel := &metav1.LabelSelector{}
		if matchKey != "" {
			sel.MatchLabels = map[string]string{matchKey: matchValue}
		}
		if op != "" {
			sel.MatchExpressions = []metav1.LabelSelectorRequirement{{Key: matchKey, Operator: metav1.LabelSelectorOperator(op), Values: strings.Split(exprValue, ",")}}
		}
		fromNs := gatewayv1.FromNamespaces(from)
		ar := &gatewayv1.AllowedRoutes{Namespaces: &gatewayv1.RouteNamespaces{From: &fromNs, Selector: sel}}
		// Two more listeners besides "mesh": one the binding may name, and a
		// second HBONE one that must never win over the first.
		listener("bound", port, proto, ar)(gw)
		listener("second", 15008, "HBONE", routes(gatewayv1.NamespacesFromAll, nil))(gw)
		class := &Class{Name: istio.ClassWaypoint, Labels: map[string]string{}, Annotations: map[string]string{}}
		if classHasFor {
			class.Labels[istio.LabelWaypointFor] = classFor
		}
		if classHasBinding {
			class.Annotations[istio.AnnotationInboundBinding] = classBinding
		}

		w := Parse(gw, class)

		wantType, wantFrom := istio.TrafficService, FromDefault
		if classHasFor {
			wantType, wantFrom = istio.TrafficType(classFor), FromClass
		}
		if gwHasFor {
			wantType, wantFrom = istio.TrafficType(gwFor), FromGateway
		}
		if w.TrafficType != wantType || w.TrafficTypeFrom != wantFrom {
			t.Fatalf("traffic type %q from %s, istiod reads %q from %s", w.TrafficType, w.TrafficTypeFrom, wantType, wantFrom)
		}
		b, hasB := binding, gwHasBinding
		if !hasB {
			b, hasB = classBinding, classHasBinding
		}
		if want := istiodListener(gw, b, hasB); w.Listener != want {
			t.Fatalf("binding %q (%v): listener %q, istiod reads %q", b, hasB, w.Listener, want)
		}
		switch w.From {
		case gatewayv1.NamespacesFromAll, gatewayv1.NamespacesFromSame, gatewayv1.NamespacesFromSelector:
		default:
			t.Fatalf("from %q: not one istiod knows", w.From)
		}
		_ = w.ListenerText() + w.StateText() + w.AllowedFrom

		nsLabels := map[string]string{nsKey: nsValue}
		allowed := w.Allows("elsewhere", nsLabels)
		if w.From == gatewayv1.NamespacesFromSame && (allowed || !w.Allows(gw.Namespace, nil)) {
			t.Fatalf("Same lets in %v, its own namespace %v", allowed, w.Allows(gw.Namespace, nil))
		}
		if s := w.Selector(); s != "" {
			parsed, err := labels.Parse(s)
			if err != nil {
				t.Fatalf("selector %q (of %+v) does not parse back: %v", s, sel, err)
			}
			if parsed.Matches(labels.Set(nsLabels)) != allowed {
				t.Fatalf("selector %q says %v for %v, Allows says %v", s, !allowed, nsLabels, allowed)
			}
		}
		if names, ok := w.AllowedNames(); ok {
			for _, n := range names {
				if !w.Allows("elsewhere", map[string]string{istio.LabelNamespaceName: n}) {
					t.Fatalf("AllowedNames lists %q, which is not let in (%+v)", n, sel)
				}
			}
		}
		if ml, ok := w.MatchLabels(); ok && !w.Allows("elsewhere", ml) {
			t.Fatalf("MatchLabels %v are not let in", ml)
		}
	})
}

// drawnWaypoint is a Gateway and its class, drawn so that the listener
// istiod reads (listener) admits namespaces by a valid selector: match
// are namespace labels it selects, miss the same with one requirement
// broken.
type drawnWaypoint struct {
	gw          *gatewayv1.Gateway
	class       *Class
	listener    string
	match, miss map[string]string
}

// drawWaypoint draws where the selector sits: on the HBONE listener, or on
// one the inbound binding (of the Gateway or of its class, by port or by
// the PROXY protocol) picks while the HBONE listener admits every
// namespace, which must then not count.
func drawWaypoint(c *choices) drawnWaypoint {
	d := drawnWaypoint{gw: gateway(), class: &Class{Name: istio.ClassWaypoint, Annotations: map[string]string{}}, listener: istio.ListenerName}
	layout := c.intn(5)
	port := int32(1 + (c.intn(256)<<8|c.intn(256))%65535)
	if port == istio.ListenerPort {
		port++
	}
	sel := drawSelector(c, &d)
	if layout == 0 {
		meshRoutes(routes(gatewayv1.NamespacesFromSelector, sel))(d.gw)
		return d
	}
	meshRoutes(routes(gatewayv1.NamespacesFromAll, nil))(d.gw)
	binding, proto := "PROXY/"+strconv.Itoa(int(port)), "TCP"
	if layout >= 3 {
		binding, proto = "PROXY", istio.ListenerProtocolProxy
	}
	if layout%2 == 1 {
		d.gw.Annotations[istio.AnnotationInboundBinding] = binding
	} else {
		d.class.Annotations[istio.AnnotationInboundBinding] = binding
	}
	d.listener = "bound"
	listener(d.listener, port, proto, routes(gatewayv1.NamespacesFromSelector, sel))(d.gw)
	return d
}

// drawSelector draws a selector of one to four requirements, each on a key
// of its own so that all can hold at once, and fills d.match and d.miss.
func drawSelector(c *choices, d *drawnWaypoint) *metav1.LabelSelector {
	sel := &metav1.LabelSelector{}
	d.match = map[string]string{}
	var breakFirst func(map[string]string)
	used := map[string]bool{}
	for range 1 + c.intn(4) {
		op, key := c.intn(5), c.labelKey()
		if used[key] {
			continue
		}
		used[key] = true
		unset := func(m map[string]string) { delete(m, key) }
		setTo := func(v string) func(map[string]string) { return func(m map[string]string) { m[key] = v } }
		breaks := unset
		switch op {
		case 0:
			if sel.MatchLabels == nil {
				sel.MatchLabels = map[string]string{}
			}
			v := c.labelValue()
			sel.MatchLabels[key], d.match[key] = v, v
		case 1:
			vs := c.labelValues()
			d.match[key] = vs[c.intn(len(vs))]
			sel.MatchExpressions = append(sel.MatchExpressions, metav1.LabelSelectorRequirement{Key: key, Operator: metav1.LabelSelectorOpIn, Values: vs})
		case 2:
			vs := c.labelValues()
			breaks = setTo(vs[c.intn(len(vs))])
			sel.MatchExpressions = append(sel.MatchExpressions, metav1.LabelSelectorRequirement{Key: key, Operator: metav1.LabelSelectorOpNotIn, Values: vs})
		case 3:
			d.match[key] = c.labelValue()
			sel.MatchExpressions = append(sel.MatchExpressions, metav1.LabelSelectorRequirement{Key: key, Operator: metav1.LabelSelectorOpExists})
		default:
			breaks = setTo(c.labelValue())
			sel.MatchExpressions = append(sel.MatchExpressions, metav1.LabelSelectorRequirement{Key: key, Operator: metav1.LabelSelectorOpDoesNotExist})
		}
		if breakFirst == nil {
			breakFirst = breaks
		}
	}
	d.miss = maps.Clone(d.match)
	breakFirst(d.miss)
	return sel
}

// checkDrawnWaypoint holds Parse to what d was drawn to be.
func checkDrawnWaypoint(t *testing.T, d drawnWaypoint) {
	t.Helper()
	w := Parse(d.gw, d.class)
	if w.Listener != d.listener || w.From != gatewayv1.NamespacesFromSelector {
		t.Fatalf("listener %q from %q, want %q from Selector (%+v)", w.Listener, w.From, d.listener, d.gw.Spec.Listeners)
	}
	if !w.Allows("elsewhere", d.match) || w.Allows("elsewhere", d.miss) {
		t.Fatalf("%s: lets in %v: %v, %v: %v", w.AllowedFrom, d.match, w.Allows("elsewhere", d.match), d.miss, w.Allows("elsewhere", d.miss))
	}
	parsed, err := labels.Parse(w.Selector())
	if err != nil || !parsed.Matches(labels.Set(d.match)) || parsed.Matches(labels.Set(d.miss)) {
		t.Fatalf("selector %q (%v) does not select %v and only that of %v", w.Selector(), err, d.match, d.miss)
	}
	if ml, ok := w.MatchLabels(); ok != (len(w.labelSelector.MatchExpressions) == 0) || (ok && !maps.Equal(ml, d.match)) {
		t.Fatalf("MatchLabels %v (%v), drawn %v", ml, ok, d.match)
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

// labelKey is a label key: a name, with a DNS subdomain prefix or not.
func (c *choices) labelKey() string {
	name := c.word(63, nameEdge, nameInner)
	if c.intn(3) > 0 {
		return name
	}
	return c.word(63, dnsEdge, dnsInner) + "." + c.word(63, dnsEdge, dnsInner) + "/" + name
}

// labelValue is a label value, empty or up to 63 characters.
func (c *choices) labelValue() string {
	if c.intn(4) == 0 {
		return ""
	}
	return c.word(63, nameEdge, nameInner)
}

// labelValues are one to three label values.
func (c *choices) labelValues() []string {
	vs := []string{c.labelValue()}
	for range c.intn(3) {
		vs = append(vs, c.labelValue())
	}
	return vs
}

// FuzzInboundBinding holds the annotation's parser to istiod's: the same
// protocol, the same port, the same values refused.
func FuzzInboundBinding(f *testing.F) {
	for _, s := range []string{"PROXY", "NONE", "PROXY/15088", "PROXY/", "PROXY/x", "PROXY/4294967295", "PROXY/4294967296",
		"PROXY/99999999999999999999", "NONE/1/2", "proxy", "", "/", "PROXY/-1", "PROXY/+1", "PROXY/0015008", "PROXY/1_000"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, v string) {
		proto, port, ok := inboundBinding(v)
		parts := strings.Split(v, "/")
		wantOK := len(parts) <= 2 && (parts[0] == "NONE" || parts[0] == "PROXY")
		if ok != wantOK {
			t.Fatalf("%q: ok %v, istiod %v", v, ok, wantOK)
		}
		if !ok {
			return
		}
		var want uint64
		if len(parts) == 2 {
			want, _ = strconv.ParseUint(parts[1], 10, 32)
		}
		if proto != parts[0] || uint64(port) != want {
			t.Fatalf("%q: %s port %d, istiod %s port %d", v, proto, port, parts[0], want)
		}
	})
}
