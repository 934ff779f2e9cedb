package differential_test

import (
	"encoding/json"
	"fmt"
	"maps"
	"math/rand/v2"
	"slices"
	"testing"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/apimachinery/pkg/util/intstr"
	gatewayv1 "sigs.k8s.io/gateway-api/apis/v1"

	"github.com/kubectl-waypoint/kubectl-waypoint/internal/testenv"
	"github.com/kubectl-waypoint/kubectl-waypoint/pkg/enroll"
	"github.com/kubectl-waypoint/kubectl-waypoint/pkg/istio"
)

// A world is a generated configuration: namespaces with their labels, the
// waypoints of some of them, and the objects that name waypoints (or not).
type world struct {
	prefix     string
	namespaces []*nsSpec
	waypoints  []*gwSpec
	objects    []*objSpec
	// nextIP numbers the addresses of pods and WorkloadEntries.
	nextIP int
	rng    *rand.Rand
}

type nsSpec struct {
	name        string
	labels      map[string]string
	annotations map[string]string
	// waypoints is true for the namespaces that hold waypoints.
	waypoints bool
}

// gwSpec is a waypoint Gateway.
type gwSpec struct {
	ns, name string
	labels   map[string]string // istio.io/waypoint-for, istio.io/rev
	class    string            // its GatewayClass; "" is istio-waypoint
	// from and selector shape the HBONE listener's allowedRoutes; from ""
	// leaves them unset. selector, with from Selector: "team", "names",
	// "nil" (no selector) or "empty" (one that selects everything).
	from     gatewayv1.FromNamespaces
	selector string
	names    []string // the namespaces of selector "names"
	// binding adds the inbound-binding annotation and a PROXY listener on
	// 15088 whose allowedRoutes admit bindingFrom.
	binding     bool
	bindingFrom gatewayv1.FromNamespaces
	// held keeps the waypoint from becoming ready (testenv.HoldWaypoint).
	held bool
}

// objSpec is a Service, ServiceEntry, WorkloadEntry or pod.
type objSpec struct {
	kind         enroll.Kind
	ns, name     string
	labels       map[string]string
	annotations  map[string]string
	externalName bool   // a Service of type ExternalName
	app          string // a pod's app label: the Service that selects it, or ""
	ip           string // a pod's or WorkloadEntry's address
}

func (o *objSpec) key() string { return string(o.kind) + " " + o.ns + "/" + o.name }

// The GatewayClasses the generator uses besides istio-waypoint, each with
// the istio.io/waypoint-for label it carries (a key absent: no label).
var genClasses = map[string]map[string]string{
	"diff-class-all":      {istio.LabelWaypointFor: "all"},
	"diff-class-workload": {istio.LabelWaypointFor: "workload"},
	"diff-class-empty":    {istio.LabelWaypointFor: ""},
	"diff-class-none":     {istio.LabelWaypointFor: "none"},
	"diff-class-nolabel":  nil,
}

// teamLabel is the label the "team" selector of a waypoint matches.
const teamLabel = "diff-team"

// visibilityLabel on a namespace makes its ServiceEntries NAMESPACE-visible
// (setVisibility puts the rule in the mesh config).
const visibilityLabel = "diff-visibility"

// worldSize says how many namespaces of each role, waypoints and objects a
// world has.
type worldSize struct {
	waypointNamespaces, otherNamespaces int
	waypointsPerNamespace               int // in each namespace of waypoints
	waypointsPerOther                   int // in each other namespace
	objectsPerNamespace                 int
}

// newWorld generates a world from rng. Namespace names start with prefix.
func newWorld(rng *rand.Rand, prefix string, size worldSize) *world {
	w := &world{prefix: prefix, rng: rng}
	for i := range size.waypointNamespaces + size.otherNamespaces {
		role := "c"
		if i < size.waypointNamespaces {
			role = "wp"
		}
		w.namespaces = append(w.namespaces, &nsSpec{name: fmt.Sprintf("%s-%s%d", prefix, role, i), waypoints: role == "wp"})
	}
	for _, ns := range w.namespaces {
		n := size.waypointsPerOther
		if ns.waypoints {
			n = size.waypointsPerNamespace
		}
		for i := range n {
			w.waypoints = append(w.waypoints, w.newWaypoint(ns.name, fmt.Sprintf("w%d", i)))
		}
	}
	for _, ns := range w.namespaces {
		ns.labels, ns.annotations = w.namespaceLabels(ns)
	}
	for _, ns := range w.namespaces {
		for i := range size.objectsPerNamespace {
			w.objects = append(w.objects, w.newObject(ns.name, i))
		}
	}
	// Pods point at Services of their namespace that exist.
	for _, o := range w.objects {
		if o.kind == enroll.KindPod && o.app != "" {
			o.app = w.someService(o.ns)
			if o.app != "" {
				o.labels["app"] = o.app
			}
		}
	}
	return w
}

func (w *world) pick(weights ...int) int {
	total := 0
	for _, x := range weights {
		total += x
	}
	n := w.rng.IntN(total)
	for i, x := range weights {
		if n < x {
			return i
		}
		n -= x
	}
	return len(weights) - 1
}

func (w *world) chance(percent int) bool { return w.rng.IntN(100) < percent }

// newWaypoint generates a waypoint: its traffic type from a label, from its
// class or from nowhere; its allowedRoutes; an inbound binding; held back or
// not; a revision label now and then.
func (w *world) newWaypoint(ns, name string) *gwSpec {
	g := &gwSpec{ns: ns, name: name, labels: map[string]string{}}
	switch w.pick(45, 25, 30) {
	case 0:
		g.labels[istio.LabelWaypointFor] = []string{"service", "workload", "all", "all", "none", ""}[w.rng.IntN(6)]
	case 1:
		classes := slices.Sorted(maps.Keys(genClasses))
		g.class = classes[w.rng.IntN(len(classes))]
		if w.chance(20) {
			// A label overrides the class.
			g.labels[istio.LabelWaypointFor] = []string{"service", "workload", "all"}[w.rng.IntN(3)]
		}
	}
	switch w.pick(20, 10, 45, 25) {
	case 1:
		g.from = gatewayv1.NamespacesFromSame
	case 2:
		g.from = gatewayv1.NamespacesFromAll
	case 3:
		g.from = gatewayv1.NamespacesFromSelector
		g.selector = []string{"team", "names", "nil", "empty"}[w.rng.IntN(4)]
	}
	if w.chance(15) {
		g.binding = true
		g.bindingFrom = []gatewayv1.FromNamespaces{gatewayv1.NamespacesFromSame, gatewayv1.NamespacesFromAll}[w.rng.IntN(2)]
	}
	if g.selector == "names" {
		for _, ns := range w.namespaces {
			if ns.name == g.ns || w.rng.IntN(3) == 0 {
				g.names = append(g.names, ns.name)
			}
		}
	}
	g.held = w.chance(10)
	if w.chance(5) {
		g.labels[istio.LabelRev] = "other-revision"
	}
	return g
}

// ref returns the labels that name a waypoint from namespace from: one that
// exists, one that does not, one of the right name in the wrong namespace,
// the empty name, or none. key is the label (use-waypoint or
// use-waypoint-canary) and nsKey the one of its namespace override.
func (w *world) ref(from, key, nsKey string) map[string]string {
	l := map[string]string{}
	var name, ns string
	switch w.pick(60, 12, 10, 8, 10) {
	case 0:
		// A waypoint of the same namespace half of the time, when there is one.
		g := w.waypoints[w.rng.IntN(len(w.waypoints))]
		if local := w.waypointsIn(from); len(local) > 0 && w.chance(50) {
			g = local[w.rng.IntN(len(local))]
		}
		name, ns = g.name, g.ns
	case 1:
		name, ns = "missing", w.waypointNamespace()
	case 2:
		// The name of a waypoint of another namespace, without saying
		// which: the forgotten --waypoint-namespace.
		g := w.waypoints[w.rng.IntN(len(w.waypoints))]
		name, ns = g.name, from
	case 3:
		name, ns = "", from
	case 4:
		name, ns = istio.NoWaypoint, from
	}
	l[key] = name
	if ns != from || w.chance(20) {
		l[nsKey] = ns
	}
	return l
}

func (w *world) waypointsIn(ns string) []*gwSpec {
	var in []*gwSpec
	for _, g := range w.waypoints {
		if g.ns == ns {
			in = append(in, g)
		}
	}
	return in
}

func (w *world) waypointNamespace() string {
	var names []string
	for _, ns := range w.namespaces {
		if ns.waypoints {
			names = append(names, ns.name)
		}
	}
	return names[w.rng.IntN(len(names))]
}

// namespaceLabels generates the labels of a namespace: ambient or not, the
// team label, NAMESPACE visibility, and the waypoint (and canary) it names.
func (w *world) namespaceLabels(ns *nsSpec) (labels, annotations map[string]string) {
	labels = map[string]string{}
	if w.chance(85) {
		labels[istio.LabelDataplaneMode] = "ambient"
	}
	if w.chance(50) {
		labels[teamLabel] = "a"
	}
	if !ns.waypoints && w.chance(20) {
		labels[visibilityLabel] = "namespace"
	}
	switch w.pick(40, 50, 10) {
	case 1:
		maps.Copy(labels, w.ref(ns.name, istio.LabelUseWaypoint, istio.LabelUseWaypointNamespace))
	case 2:
		// A namespace override alone names nothing.
		labels[istio.LabelUseWaypointNamespace] = w.waypointNamespace()
	}
	if w.chance(10) {
		maps.Copy(labels, w.ref(ns.name, istio.LabelUseWaypointCanary, istio.LabelUseWaypointCanaryNamespace))
		annotations = w.canaryWeight()
	}
	return labels, annotations
}

func (w *world) canaryWeight() map[string]string {
	switch w.pick(20, 50, 15, 15) {
	case 1:
		return map[string]string{istio.AnnotationCanaryWeight: fmt.Sprint(w.rng.IntN(101))}
	case 2:
		return map[string]string{istio.AnnotationCanaryWeight: "250"}
	case 3:
		return map[string]string{istio.AnnotationCanaryWeight: "half"}
	}
	return nil
}

// newObject generates the i-th object of namespace ns.
func (w *world) newObject(ns string, i int) *objSpec {
	kinds := []enroll.Kind{enroll.KindService, enroll.KindServiceEntry, enroll.KindWorkloadEntry, enroll.KindPod}
	k := kinds[w.pick(30, 20, 20, 30)]
	o := &objSpec{kind: k, ns: ns, name: fmt.Sprintf("%s-%d", shortKind[k], i), labels: map[string]string{}}
	switch w.pick(35, 50, 5, 10) {
	case 1:
		maps.Copy(o.labels, w.ref(ns, istio.LabelUseWaypoint, istio.LabelUseWaypointNamespace))
	case 2:
		o.labels[istio.LabelUseWaypointNamespace] = w.waypointNamespace()
	case 3:
		// Special objects of their kind.
		switch k {
		case enroll.KindService:
			switch w.pick(1, 1) {
			case 0:
				o.externalName = true
			case 1:
				o.labels[istio.LabelGatewayManaged] = istio.ManagedEastWestController
			}
		case enroll.KindWorkloadEntry, enroll.KindPod:
			// It claims to be an instance of a waypoint, which may exist.
			o.labels[istio.LabelGatewayName] = []string{"w0", "w1", "missing"}[w.rng.IntN(3)]
		}
		if w.chance(50) {
			maps.Copy(o.labels, w.ref(ns, istio.LabelUseWaypoint, istio.LabelUseWaypointNamespace))
		}
	}
	if (k == enroll.KindService || k == enroll.KindServiceEntry) && w.chance(12) {
		maps.Copy(o.labels, w.ref(ns, istio.LabelUseWaypointCanary, istio.LabelUseWaypointCanaryNamespace))
		o.annotations = w.canaryWeight()
	}
	if k == enroll.KindPod || k == enroll.KindWorkloadEntry {
		w.nextIP++
		o.ip = fmt.Sprintf("10.%d.%d.%d", 200+w.nextIP/60000, w.nextIP/250%240, w.nextIP%250+1)
		if k == enroll.KindPod && w.chance(50) {
			o.app = "pending" // resolved once the Services are known
		}
	}
	return o
}

var shortKind = map[enroll.Kind]string{
	enroll.KindService:       "svc",
	enroll.KindServiceEntry:  "se",
	enroll.KindWorkloadEntry: "we",
	enroll.KindPod:           "pod",
}

// someService names a Service of namespace ns (not ExternalName), or "".
func (w *world) someService(ns string) string {
	var names []string
	for _, o := range w.objects {
		if o.kind == enroll.KindService && o.ns == ns && !o.externalName {
			names = append(names, o.name)
		}
	}
	if len(names) == 0 {
		return ""
	}
	return names[w.rng.IntN(len(names))]
}

// create makes the world in the API server. Its objects go when their
// namespaces are deleted at the end of the test.
func (w *world) create(t *testing.T) {
	t.Helper()
	for _, ns := range w.namespaces {
		env.NamedNamespace(t, ns.name, nil)
	}
	// Labels once every namespace exists, as selectors name them.
	for _, ns := range w.namespaces {
		patchMeta(t, enroll.KindNamespace.GVR(), "", ns.name, ns.labels, ns.annotations)
	}
	for _, g := range w.waypoints {
		if g.held {
			env.HoldWaypoint(t, g.ns, g.name)
		}
		if _, err := env.Gateway.GatewayV1().Gateways(g.ns).Create(t.Context(), w.gateway(g), metav1.CreateOptions{}); err != nil {
			t.Fatalf("creating waypoint %s/%s: %v", g.ns, g.name, err)
		}
	}
	for _, o := range w.objects {
		createObject(t, o)
	}
}

// gateway is the Gateway of g.
func (w *world) gateway(g *gwSpec) *gatewayv1.Gateway {
	gw := testenv.WaypointGateway(g.ns, g.name, g.labels)
	if g.class != "" {
		gw.Spec.GatewayClassName = gatewayv1.ObjectName(g.class)
	}
	if g.from != "" {
		from := g.from
		rn := &gatewayv1.RouteNamespaces{From: &from}
		switch g.selector {
		case "team":
			rn.Selector = &metav1.LabelSelector{MatchLabels: map[string]string{teamLabel: "a"}}
		case "names":
			rn.Selector = &metav1.LabelSelector{MatchExpressions: []metav1.LabelSelectorRequirement{
				{Key: istio.LabelNamespaceName, Operator: metav1.LabelSelectorOpIn, Values: g.names}}}
		case "empty":
			rn.Selector = &metav1.LabelSelector{}
		}
		gw.Spec.Listeners[0].AllowedRoutes = &gatewayv1.AllowedRoutes{Namespaces: rn}
	}
	if g.binding {
		from := g.bindingFrom
		gw.Annotations = map[string]string{istio.AnnotationInboundBinding: "PROXY/15088"}
		gw.Spec.Listeners = append(gw.Spec.Listeners, gatewayv1.Listener{Name: "proxy", Port: 15088, Protocol: gatewayv1.TCPProtocolType,
			AllowedRoutes: &gatewayv1.AllowedRoutes{Namespaces: &gatewayv1.RouteNamespaces{From: &from}}})
	}
	return gw
}

// createObject creates o; a pod gets its IP, as a kubelet would give it.
func createObject(t *testing.T, o *objSpec) {
	t.Helper()
	c := t.Context()
	meta := metav1.ObjectMeta{Name: o.name, Namespace: o.ns, Labels: maps.Clone(o.labels), Annotations: maps.Clone(o.annotations)}
	var err error
	switch o.kind {
	case enroll.KindService:
		svc := &corev1.Service{ObjectMeta: meta, Spec: corev1.ServiceSpec{
			Selector: map[string]string{"app": o.name},
			Ports:    []corev1.ServicePort{{Name: "http", Port: 80, TargetPort: intstr.FromInt32(8080)}},
		}}
		if o.externalName {
			svc.Spec = corev1.ServiceSpec{Type: corev1.ServiceTypeExternalName, ExternalName: "example.com"}
		}
		_, err = env.Kube.CoreV1().Services(o.ns).Create(c, svc, metav1.CreateOptions{})
	case enroll.KindPod:
		pod := &corev1.Pod{ObjectMeta: meta, Spec: corev1.PodSpec{
			Containers: []corev1.Container{{Name: "app", Image: "registry.k8s.io/pause:3.10"}},
		}}
		if _, err = env.Kube.CoreV1().Pods(o.ns).Create(c, pod, metav1.CreateOptions{}); err == nil {
			env.SetPodIP(t, o.ns, o.name, o.ip)
		}
	case enroll.KindServiceEntry:
		u := &unstructured.Unstructured{Object: map[string]any{
			"apiVersion": "networking.istio.io/v1", "kind": "ServiceEntry",
			"spec": map[string]any{
				"hosts":      []any{o.name + "." + o.ns + ".example.com"},
				"location":   "MESH_EXTERNAL",
				"resolution": "DNS",
				"ports":      []any{map[string]any{"number": int64(80), "name": "http", "protocol": "HTTP"}},
			},
		}}
		setMeta(u, meta)
		_, err = env.Dynamic.Resource(testenv.ServiceEntryResource).Namespace(o.ns).Create(c, u, metav1.CreateOptions{})
	case enroll.KindWorkloadEntry:
		u := &unstructured.Unstructured{Object: map[string]any{
			"apiVersion": "networking.istio.io/v1", "kind": "WorkloadEntry",
			"spec": map[string]any{"address": o.ip},
		}}
		setMeta(u, meta)
		_, err = env.Dynamic.Resource(testenv.WorkloadEntryResource).Namespace(o.ns).Create(c, u, metav1.CreateOptions{})
	}
	if err != nil {
		t.Fatalf("creating %s: %v", o.key(), err)
	}
}

func setMeta(u *unstructured.Unstructured, meta metav1.ObjectMeta) {
	u.SetName(meta.Name)
	u.SetNamespace(meta.Namespace)
	if len(meta.Labels) > 0 {
		u.SetLabels(meta.Labels)
	}
	if len(meta.Annotations) > 0 {
		u.SetAnnotations(meta.Annotations)
	}
}

// patchMeta merges labels and annotations into an object; a nil value
// removes the key.
func patchMeta(t *testing.T, gvr schema.GroupVersionResource, ns, name string, labels, annotations map[string]string) {
	t.Helper()
	if len(labels) == 0 && len(annotations) == 0 {
		return
	}
	m := map[string]any{}
	if len(labels) > 0 {
		m["labels"] = labels
	}
	if len(annotations) > 0 {
		m["annotations"] = annotations
	}
	body, _ := json.Marshal(map[string]any{"metadata": m})
	if _, err := env.Dynamic.Resource(gvr).Namespace(ns).Patch(t.Context(), name, types.MergePatchType, body, metav1.PatchOptions{}); err != nil {
		t.Fatalf("labelling %s %s/%s: %v", gvr.Resource, ns, name, err)
	}
}
