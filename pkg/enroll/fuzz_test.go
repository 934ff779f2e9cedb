package enroll

import (
	"context"
	"testing"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	gatewayv1 "sigs.k8s.io/gateway-api/apis/v1"

	"github.com/kubectl-waypoint/kubectl-waypoint/pkg/istio"
)

// FuzzResolveLabels resolves objects whose enrollment labels (and their
// namespace's) hold arbitrary values, against the scene's cluster: it must
// never panic or fail to read, and the answer must hang together: a
// reason and a message always, a waypoint used only when one is named
// and exists, and never one for an object that opts out. An enrollment
// drawn from gen, into a waypoint drawn to exist, serve the object's kind
// and admit its namespace, must be accepted: the object uses that waypoint.
func FuzzResolveLabels(f *testing.F) {
	f.Add(uint8(0), "wp", "", "", "", []byte{0, 0, 0, 0, 4, 1})
	f.Add(uint8(1), "shared", "infra", "wp", "app", []byte{1, 1, 1, 1, 5, 2, 9})
	f.Add(uint8(2), "none", "", "gone", "app", []byte{2, 2, 2, 0, 6, 3, 8, 1})
	f.Add(uint8(3), "", "app", "", "", []byte{3, 0, 1, 2, 7, 4, 7, 2, 1})
	f.Add(uint8(4), "Bad Name!", "x/y", "wp", "", []byte{4, 1, 2, 3, 62, 5, 6, 3, 2, 1})
	f.Add(uint8(1), "ingress", "app", "", "infra", []byte{5, 2, 0, 1, 8, 6, 5, 4, 3, 2})
	f.Fuzz(func(t *testing.T, kind uint8, use, useNS, nsUse, nsUseNS string, gen []byte) {
		kinds := []Kind{KindService, KindPod, KindServiceEntry, KindWorkloadEntry, KindNamespace}
		k := kinds[int(kind)%len(kinds)]
		c := scene(nsObj("fuzz", map[string]string{istio.LabelUseWaypoint: nsUse, istio.LabelUseWaypointNamespace: nsUseNS}))
		r := NewReader(c.clients())
		labels := map[string]string{istio.LabelUseWaypoint: use, istio.LabelUseWaypointNamespace: useNS}
		s := Subject{Kind: k, Namespace: "fuzz", Name: "obj", Labels: labels}
		if k == KindNamespace {
			s.Name = "fuzz"
		}
		res, err := r.Resolve(context.Background(), s)
		if err != nil {
			t.Fatalf("%+v: %v", s, err)
		}
		if res.Reason == "" || res.Message == "" {
			t.Fatalf("%+v: no reason or message: %+v", s, res)
		}
		if res.Uses && (res.Waypoint == "" || res.Facts == nil) {
			t.Fatalf("%+v: uses a waypoint that is not named or does not exist: %+v", s, res)
		}
		if use == "none" && res.Uses {
			t.Fatalf("%+v: opted out, but uses %s", s, res.Waypoint)
		}

		checkDrawnEnrollment(t, drawEnrollment(&choices{b: gen}))
	})
}

// drawnEnrollment is an object enrolled, by its own labels or its
// namespace's, into a waypoint that exists with an address, serves the
// object's kind and admits its namespace; cluster holds the namespaces,
// the waypoint and its class.
type drawnEnrollment struct {
	subject  Subject
	cluster  []runtime.Object
	waypoint string
	source   Source
}

// drawEnrollment draws the object's kind and namespace, the waypoint's
// name and namespace (the object's or another), its traffic type (on the
// Gateway, on its class, or istiod's default) and how it admits the
// object's namespace, and which labels name it.
func drawEnrollment(c *choices) drawnEnrollment {
	kind := Kinds[c.intn(len(Kinds))]
	own, name, wpNS := c.dnsLabel(), c.dnsLabel(), c.dnsLabel()
	if name == istio.NoWaypoint {
		name += "-wp"
	}
	if c.intn(2) == 0 {
		wpNS = own
	}
	enrollment := map[string]string{istio.LabelUseWaypoint: name}
	if wpNS != own || c.intn(2) == 0 {
		enrollment[istio.LabelUseWaypointNamespace] = wpNS
	}
	d := drawnEnrollment{subject: Subject{Kind: kind, Namespace: own, Name: c.dnsLabel(), Labels: map[string]string{}},
		waypoint: wpNS + "/" + name, source: SourceOwn}
	nsLabels := map[string]string{}
	switch {
	case kind == KindNamespace:
		d.subject.Name, d.subject.Labels, nsLabels = own, enrollment, enrollment
	case c.intn(2) == 0:
		d.subject.Labels = enrollment
	default:
		nsLabels, d.source = enrollment, SourceNamespace
	}

	gwOpts := []func(*gatewayv1.Gateway){admitting(c, own, wpNS, nsLabels)}
	var classLabels map[string]string
	traffic := drawTraffic(c, kind)
	switch c.intn(3) {
	case 0:
		gwOpts = append(gwOpts, forType(traffic))
	case 1:
		classLabels = map[string]string{istio.LabelWaypointFor: traffic}
	default:
		if traffic != string(istio.TrafficService) {
			gwOpts = append(gwOpts, forType(traffic))
		}
	}
	d.cluster = []runtime.Object{nsObj(own, nsLabels), gw(wpNS, name, gwOpts...), waypointClass(classLabels)}
	if wpNS != own {
		d.cluster = append(d.cluster, nsObj(wpNS, nil))
	}
	return d
}

// drawTraffic draws a traffic type that serves kind.
func drawTraffic(c *choices, kind Kind) string {
	switch {
	case kind.IsService():
		return []string{"service", "all"}[c.intn(2)]
	case kind.IsWorkload():
		return []string{"workload", "all"}[c.intn(2)]
	}
	return []string{"service", "workload", "all"}[c.intn(3)]
}

// admitting draws allowedRoutes that admit namespace own (whose labels are
// nsLabels, to which it may add one) into a waypoint in wpNS: Same when
// they are one namespace, All, a selector on the name, or on a label.
func admitting(c *choices, own, wpNS string, nsLabels map[string]string) func(*gatewayv1.Gateway) {
	choice := c.intn(4)
	switch {
	case choice == 0 && own == wpNS:
		return func(*gatewayv1.Gateway) {}
	case choice <= 1:
		return allowedFrom(gatewayv1.NamespacesFromAll, nil)
	case choice == 2:
		return allowedFrom(gatewayv1.NamespacesFromSelector, &metav1.LabelSelector{MatchExpressions: []metav1.LabelSelectorRequirement{
			{Key: istio.LabelNamespaceName, Operator: metav1.LabelSelectorOpIn, Values: []string{wpNS, own}}}})
	}
	team := c.dnsLabel()
	nsLabels["team"] = team
	return allowedFrom(gatewayv1.NamespacesFromSelector, &metav1.LabelSelector{MatchLabels: map[string]string{"team": team}})
}

// checkDrawnEnrollment resolves the drawn object: it must use the drawn
// waypoint, named by the drawn labels.
func checkDrawnEnrollment(t *testing.T, d drawnEnrollment) {
	t.Helper()
	r := NewReader(newFakeCluster(d.cluster...).clients())
	res, err := r.Resolve(context.Background(), d.subject)
	if err != nil {
		t.Fatalf("%+v: %v", d.subject, err)
	}
	if !res.Uses || res.Reason != ReasonAccepted || res.Waypoint != d.waypoint || res.Source != d.source {
		t.Fatalf("%+v enrolled into %s by its %s: %s, uses %v %s from %q: %s\n%v",
			d.subject, d.waypoint, d.source, res.Reason, res.Uses, res.Waypoint, res.Source, res.Message, res.Steps)
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

// dnsLabel is a DNS-1123 label of 1 to 63 characters: the name of a
// namespace, a waypoint or an object.
func (c *choices) dnsLabel() string {
	const edge, inner = "abcdefghijklmnopqrstuvwxyz0123456789", "abcdefghijklmnopqrstuvwxyz0123456789-"
	b := make([]byte, 1+c.intn(63))
	for i := range b {
		set := inner
		if i == 0 || i == len(b)-1 {
			set = edge
		}
		b[i] = set[c.intn(len(set))]
	}
	return string(b)
}
