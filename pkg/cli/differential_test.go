package cli

import (
	"context"
	"encoding/json"
	"fmt"
	"maps"
	"sort"
	"strings"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"
	gatewayv1 "sigs.k8s.io/gateway-api/apis/v1"

	"github.com/kubectl-waypoint/kubectl-waypoint/internal/testenv"
	"github.com/kubectl-waypoint/kubectl-waypoint/pkg/enroll"
	"github.com/kubectl-waypoint/kubectl-waypoint/pkg/istio"
	"github.com/kubectl-waypoint/kubectl-waypoint/pkg/mesh"
)

// The differential test: a generated set of waypoints and of the objects
// that name them, every combination of how a waypoint is named (own label,
// namespace label, none, empty, missing), of its traffic type (each value,
// empty, from its class), of where the object lives (the waypoint's
// namespace, one a selector admits, one nothing admits) against Same, All,
// Selector and names, of the inbound binding, of ready and held back, for
// each kind. For every Service, ServiceEntry and WorkloadEntry, explain's
// reason must be the one of istiod's istio.io/WaypointBound condition, and
// where istiod writes none, explain must say the object uses no waypoint.
// Pods get no condition: each mirrors a WorkloadEntry with the same labels
// in the same namespace, and must get the same answer. The mesh config's
// serviceEntryVisibility makes the ServiceEntries of one namespace
// NAMESPACE-visible, for CrossNamespaceWaypointForbidden.

// Namespace roles of the plan, turned into real namespaces when it runs.
const (
	roleWaypoints = "waypoints" // where the waypoints live
	roleTeam      = "team"      // labelled diff-team=a: admitted by the team selector and by name
	roleOutsider  = "outsider"  // admitted only by All
	roleVisible   = "visible"   // its ServiceEntries are NAMESPACE-visible
)

// visibilityLabel on a namespace makes, by the mesh config the test sets,
// its ServiceEntries NAMESPACE-visible.
const visibilityLabel = "diff-visibility"

// diffWaypoint is one generated waypoint.
type diffWaypoint struct {
	name     string
	class    string // a key of diffPlan.classes; "" for istio-waypoint
	labels   map[string]string
	from     gatewayv1.FromNamespaces // "" leaves allowedRoutes unset
	selector string                   // "team", "names" or "nil" with from Selector
	// binding adds a listener "proxy" on 15088 that the inbound-binding
	// annotation binds, admitting bindingFrom.
	binding     bool
	bindingFrom gatewayv1.FromNamespaces
	held        bool
	missing     bool
}

// diffObject is one generated object.
type diffObject struct {
	kind   enroll.Kind
	role   string // namespace role
	name   string
	labels map[string]string
	// mirrors, for a pod, names the WorkloadEntry that must get the same answer.
	mirrors      string
	externalName bool
	annotations  map[string]string
}

// diffNamespace is a namespace of the plan with its labels (the
// enrollment labels of inheritance namespaces).
type diffNamespace struct {
	role   string
	labels map[string]string
}

type diffPlan struct {
	classes    map[string]map[string]string // class key -> labels
	waypoints  []diffWaypoint
	namespaces []diffNamespace
	objects    []diffObject
}

// differentialPlan generates the plan.
func differentialPlan() diffPlan {
	all := gatewayv1.NamespacesFromAll
	sel := gatewayv1.NamespacesFromSelector
	same := gatewayv1.NamespacesFromSame
	forType := func(t string) map[string]string { return map[string]string{istio.LabelWaypointFor: t} }
	p := diffPlan{classes: map[string]map[string]string{
		"all":   forType("all"),
		"empty": forType(""),
	}}
	p.waypoints = []diffWaypoint{
		{name: "w-default"},
		{name: "w-service", labels: forType("service")},
		{name: "w-workload", labels: forType("workload")},
		{name: "w-all", labels: forType("all")},
		{name: "w-none", labels: forType("none")},
		{name: "w-empty", labels: forType("")},
		{name: "w-class", class: "all"},
		{name: "w-class-empty", class: "empty"},
		{name: "w-class-override", class: "all", labels: forType("workload")},
		{name: "w-from-all", labels: forType("all"), from: all},
		{name: "w-team", labels: forType("all"), from: sel, selector: "team"},
		{name: "w-names", labels: forType("all"), from: sel, selector: "names"},
		{name: "w-nosel", labels: forType("all"), from: sel, selector: "nil"},
		{name: "w-binding", labels: forType("all"), from: same, binding: true, bindingFrom: all},
		{name: "w-binding-deny", labels: forType("all"), from: all, binding: true, bindingFrom: same},
		{name: "w-held", labels: forType("all"), from: all, held: true},
		{name: "w-held-default", from: all, held: true},
		{name: "w-missing", missing: true},
	}
	p.namespaces = []diffNamespace{
		{role: roleWaypoints, labels: use2("w-all", "")},
		{role: roleTeam, labels: with2(use2("w-team", roleWaypoints), "diff-team", "a")},
		{role: roleOutsider},
		{role: "inherit-from-all", labels: use2("w-from-all", roleWaypoints)},
		{role: "inherit-held", labels: use2("w-held", roleWaypoints)},
		{role: "inherit-missing", labels: use2("w-missing", roleWaypoints)},
		{role: "inherit-empty", labels: map[string]string{istio.LabelUseWaypoint: ""}},
		{role: "inherit-none", labels: map[string]string{istio.LabelUseWaypoint: istio.NoWaypoint}},
		{role: "inherit-binding", labels: use2("w-binding", roleWaypoints)},
		{role: roleVisible, labels: with2(use2("w-from-all", roleWaypoints), visibilityLabel, "namespace")},
	}

	// Own labels: every waypoint, from every namespace, for each kind.
	for _, w := range p.waypoints {
		for _, role := range []string{roleWaypoints, roleTeam, roleOutsider, roleVisible} {
			labels := use2(w.name, roleWaypoints)
			if role == roleWaypoints {
				labels = use2(w.name, "")
			}
			base := fmt.Sprintf("own-%s-%s", w.name, role)
			if role == roleVisible {
				// Only ServiceEntries have a visibility.
				p.objects = append(p.objects, diffObject{kind: enroll.KindServiceEntry, role: role, name: base + "-se", labels: labels})
				continue
			}
			p.objects = append(p.objects,
				diffObject{kind: enroll.KindService, role: role, name: base + "-svc", labels: labels},
				diffObject{kind: enroll.KindServiceEntry, role: role, name: base + "-se", labels: labels},
				diffObject{kind: enroll.KindWorkloadEntry, role: role, name: base + "-we", labels: labels},
				diffObject{kind: enroll.KindPod, role: role, name: base + "-pod", labels: labels, mirrors: base + "-we"},
			)
		}
	}
	// What a namespace label gives, and what overrides it.
	for _, ns := range p.namespaces {
		if ns.role == roleOutsider {
			continue
		}
		r := ns.role
		p.objects = append(p.objects,
			diffObject{kind: enroll.KindService, role: r, name: "plain-svc"},
			diffObject{kind: enroll.KindServiceEntry, role: r, name: "plain-se"},
			diffObject{kind: enroll.KindWorkloadEntry, role: r, name: "plain-we"},
			diffObject{kind: enroll.KindPod, role: r, name: "plain-pod", mirrors: "plain-we"},
			diffObject{kind: enroll.KindService, role: r, name: "none-svc", labels: map[string]string{istio.LabelUseWaypoint: istio.NoWaypoint}},
			diffObject{kind: enroll.KindWorkloadEntry, role: r, name: "none-we", labels: map[string]string{istio.LabelUseWaypoint: istio.NoWaypoint}},
			diffObject{kind: enroll.KindServiceEntry, role: r, name: "empty-se", labels: map[string]string{istio.LabelUseWaypoint: ""}},
			diffObject{kind: enroll.KindWorkloadEntry, role: r, name: "empty-we", labels: map[string]string{istio.LabelUseWaypoint: ""}},
			diffObject{kind: enroll.KindPod, role: r, name: "empty-pod", labels: map[string]string{istio.LabelUseWaypoint: ""}, mirrors: "empty-we"},
			diffObject{kind: enroll.KindService, role: r, name: "nofallback-svc", labels: use2("w-missing", roleWaypoints)},
			diffObject{kind: enroll.KindService, role: r, name: "extname-svc", externalName: true},
			diffObject{kind: enroll.KindService, role: r, name: "eastwest-svc", labels: map[string]string{istio.LabelGatewayManaged: istio.ManagedEastWestController}},
			diffObject{kind: enroll.KindService, role: r, name: "nsonly-svc", labels: map[string]string{istio.LabelUseWaypointNamespace: roleWaypoints}},
		)
	}
	// Canary waypoints: the primary stays WaypointAccepted whatever the canary.
	canary := func(name string) map[string]string {
		return with2(use2("w-all", ""), istio.LabelUseWaypointCanary, name)
	}
	p.objects = append(p.objects,
		diffObject{kind: enroll.KindService, role: roleWaypoints, name: "canary-ok-svc", labels: canary("w-from-all"), annotations: map[string]string{istio.AnnotationCanaryWeight: "30"}},
		diffObject{kind: enroll.KindService, role: roleWaypoints, name: "canary-weight-svc", labels: canary("w-from-all"), annotations: map[string]string{istio.AnnotationCanaryWeight: "200"}},
		diffObject{kind: enroll.KindServiceEntry, role: roleWaypoints, name: "canary-same-se", labels: canary("w-all")},
		diffObject{kind: enroll.KindServiceEntry, role: roleWaypoints, name: "canary-workload-se", labels: canary("w-workload")},
	)
	// Pods (and WorkloadEntries) that claim to be a waypoint's.
	gwName := func(gw string, l map[string]string) map[string]string {
		return with2(l, istio.LabelGatewayName, gw)
	}
	p.objects = append(p.objects,
		diffObject{kind: enroll.KindWorkloadEntry, role: roleWaypoints, name: "instance-all-we", labels: gwName("w-all", use2("w-all", ""))},
		diffObject{kind: enroll.KindPod, role: roleWaypoints, name: "instance-all-pod", labels: gwName("w-all", use2("w-all", "")), mirrors: "instance-all-we"},
		diffObject{kind: enroll.KindWorkloadEntry, role: roleWaypoints, name: "instance-missing-we", labels: gwName("w-missing", use2("w-all", ""))},
		diffObject{kind: enroll.KindPod, role: roleWaypoints, name: "instance-missing-pod", labels: gwName("w-missing", use2("w-all", "")), mirrors: "instance-missing-we"},
		diffObject{kind: enroll.KindWorkloadEntry, role: roleTeam, name: "instance-elsewhere-we", labels: gwName("w-all", use2("w-team", roleWaypoints))},
	)
	return p
}

// use2 is the enrollment labels naming waypoint name in namespace role
// (resolved when the plan runs); "" for the object's own namespace.
func use2(name, role string) map[string]string {
	l := map[string]string{istio.LabelUseWaypoint: name}
	if role != "" {
		l[istio.LabelUseWaypointNamespace] = "role:" + role
	}
	return l
}

func with2(m map[string]string, k, v string) map[string]string {
	out := maps.Clone(m)
	if out == nil {
		out = map[string]string{}
	}
	out[k] = v
	return out
}

// resolveRoles replaces role placeholders in label values by namespaces.
func resolveRoles(l map[string]string, ns map[string]string) map[string]string {
	out := map[string]string{}
	for k, v := range l {
		if r, ok := strings.CutPrefix(v, "role:"); ok {
			v = ns[r]
		}
		out[k] = v
	}
	return out
}

// TestUnitDifferentialPlan checks the generator without a server: enough
// objects, and each dimension covered.
func TestUnitDifferentialPlan(t *testing.T) {
	p := differentialPlan()
	counts := map[enroll.Kind]int{}
	for _, o := range p.objects {
		counts[o.kind]++
	}
	withCondition := counts[enroll.KindService] + counts[enroll.KindServiceEntry] + counts[enroll.KindWorkloadEntry]
	if withCondition < 60 {
		t.Errorf("%d services, ServiceEntries and WorkloadEntries, want at least 60", withCondition)
	}
	names := map[string]bool{}
	for _, o := range p.objects {
		key := o.role + "/" + string(o.kind) + "/" + o.name
		if names[key] {
			t.Errorf("duplicate %s", key)
		}
		names[key] = true
		if o.mirrors != "" && !names[o.role+"/workloadentry/"+o.mirrors] {
			t.Errorf("%s mirrors %s, which comes later or not at all", key, o.mirrors)
		}
	}
	var held, missing, binding, class int
	froms := map[gatewayv1.FromNamespaces]bool{}
	for _, w := range p.waypoints {
		froms[w.from] = true
		switch {
		case w.held:
			held++
		case w.missing:
			missing++
		}
		if w.binding {
			binding++
		}
		if w.class != "" {
			class++
		}
	}
	if held == 0 || missing == 0 || binding < 2 || class < 2 || !froms[gatewayv1.NamespacesFromAll] || !froms[gatewayv1.NamespacesFromSelector] || !froms[""] {
		t.Errorf("a dimension is missing: held %d missing %d binding %d class %d froms %v", held, missing, binding, class, froms)
	}
	t.Logf("%d objects: %v (%d with an istio.io/WaypointBound condition to compare)", len(p.objects), counts, withCondition)
}

// TestDifferentialAgainstIstiod runs the plan against the real istiod.
func TestDifferentialAgainstIstiod(t *testing.T) {
	p := differentialPlan()
	suffix := fmt.Sprintf("%d", time.Now().UnixNano()%1_000_000)

	// Namespaces: the waypoints' first, as the others' labels name it.
	ns := map[string]string{}
	for _, n := range p.namespaces {
		ns[n.role] = env.Namespace(t, testenv.AmbientLabels())
	}
	for _, n := range p.namespaces {
		labels := resolveRoles(n.labels, ns)
		if len(labels) == 0 {
			continue
		}
		patch, _ := json.Marshal(map[string]any{"metadata": map[string]any{"labels": labels}})
		if _, err := env.Kube.CoreV1().Namespaces().Patch(t.Context(), ns[n.role], types.MergePatchType, patch, metav1.PatchOptions{}); err != nil {
			t.Fatal(err)
		}
	}
	wpNS := ns[roleWaypoints]
	setServiceEntryVisibility(t)

	classes := map[string]string{}
	for key, labels := range p.classes {
		name := "diff-" + key + "-" + suffix
		env.GatewayClass(t, name, labels)
		classes[key] = name
	}
	for _, w := range p.waypoints {
		if w.missing {
			continue
		}
		if w.held {
			env.HoldWaypoint(t, wpNS, w.name)
		}
		gw := testenv.WaypointGateway(wpNS, w.name, w.labels)
		if w.class != "" {
			gw.Spec.GatewayClassName = gatewayv1.ObjectName(classes[w.class])
		}
		if w.from != "" {
			from := w.from
			rn := &gatewayv1.RouteNamespaces{From: &from}
			switch w.selector {
			case "team":
				rn.Selector = &metav1.LabelSelector{MatchLabels: map[string]string{"diff-team": "a"}}
			case "names":
				rn.Selector = &metav1.LabelSelector{MatchExpressions: []metav1.LabelSelectorRequirement{
					{Key: istio.LabelNamespaceName, Operator: metav1.LabelSelectorOpIn, Values: []string{ns[roleTeam], wpNS}}}}
			}
			gw.Spec.Listeners[0].AllowedRoutes = &gatewayv1.AllowedRoutes{Namespaces: rn}
		}
		if w.binding {
			from := w.bindingFrom
			gw.Annotations = map[string]string{istio.AnnotationInboundBinding: "PROXY/15088"}
			gw.Spec.Listeners = append(gw.Spec.Listeners, gatewayv1.Listener{Name: "proxy", Port: 15088, Protocol: gatewayv1.TCPProtocolType,
				AllowedRoutes: &gatewayv1.AllowedRoutes{Namespaces: &gatewayv1.RouteNamespaces{From: &from}}})
		}
		env.CreateGateway(t, gw)
	}

	type key struct {
		kind      enroll.Kind
		namespace string
		name      string
	}
	var keys []key
	for i, o := range p.objects {
		n := ns[o.role]
		labels := resolveRoles(o.labels, ns)
		switch o.kind {
		case enroll.KindService:
			if o.externalName {
				svc := &corev1.Service{ObjectMeta: metav1.ObjectMeta{Name: o.name, Namespace: n, Labels: labels},
					Spec: corev1.ServiceSpec{Type: corev1.ServiceTypeExternalName, ExternalName: "example.com"}}
				if _, err := env.Kube.CoreV1().Services(n).Create(t.Context(), svc, metav1.CreateOptions{}); err != nil {
					t.Fatal(err)
				}
				break
			}
			env.Service(t, n, o.name, labels)
		case enroll.KindServiceEntry:
			env.ServiceEntry(t, n, o.name, labels)
		case enroll.KindWorkloadEntry:
			env.WorkloadEntry(t, n, o.name, fmt.Sprintf("10.250.%d.%d", i/250, i%250+1), labels)
		case enroll.KindPod:
			env.Pod(t, n, o.name, labels)
		}
		if o.annotations != nil {
			annotateObject(t, o.kind, n, o.name, o.annotations)
		}
		keys = append(keys, key{o.kind, n, o.name})
	}

	explain := func(k key) enroll.Explanation {
		stdout, stderr, code := runKube(t, "explain", string(k.kind), k.name, "-n", k.namespace, "-o", "json")
		if code != 0 {
			t.Fatalf("explain %s %s/%s: exit %d: %s", k.kind, k.namespace, k.name, code, stderr)
		}
		var ex enroll.Explanation
		if err := json.Unmarshal([]byte(stdout), &ex); err != nil {
			t.Fatalf("explain %s %s/%s: %v", k.kind, k.namespace, k.name, err)
		}
		return ex
	}
	// compare returns one line per object where explain and istiod differ.
	reasons := map[string]int{}
	compare := func() (mismatches []string, compared int) {
		results := map[key]enroll.Explanation{}
		clear(reasons)
		for _, k := range keys {
			results[k] = explain(k)
			reasons[string(k.kind)+":"+results[k].Reason]++
		}
		for i, o := range p.objects {
			k := keys[i]
			ex := results[k]
			where := fmt.Sprintf("%s %s/%s", k.kind, o.role, k.name)
			switch {
			case k.kind.HasCondition():
				compared++
				c := ex.Condition
				switch {
				case enroll.IsIstiodReason(ex.Reason) && c == nil:
					mismatches = append(mismatches, fmt.Sprintf("%s: explain says %s, istiod wrote no condition", where, ex.Reason))
				case enroll.IsIstiodReason(ex.Reason) && c.Reason != ex.Reason:
					mismatches = append(mismatches, fmt.Sprintf("%s: explain says %s, istiod says %s (%s)", where, ex.Reason, c.Reason, c.Message))
				case !enroll.IsIstiodReason(ex.Reason) && c != nil:
					mismatches = append(mismatches, fmt.Sprintf("%s: explain says %s (no condition), istiod says %s (%s)", where, ex.Reason, c.Reason, c.Message))
				case !enroll.IsIstiodReason(ex.Reason) && ex.Uses:
					mismatches = append(mismatches, fmt.Sprintf("%s: explain says it uses a waypoint with reason %s", where, ex.Reason))
				}
			case o.mirrors != "":
				we := results[key{enroll.KindWorkloadEntry, k.namespace, o.mirrors}]
				if ex.Reason != we.Reason || ex.Uses != we.Uses {
					mismatches = append(mismatches, fmt.Sprintf("%s: explain says %s, its WorkloadEntry %s gets %s", where, ex.Reason, o.mirrors, we.Reason))
				}
			}
		}
		return mismatches, compared
	}

	// istiod works asynchronously: compare until explain and istiod agree
	// on every object, or the time is up.
	deadline := time.Now().Add(diffWait)
	var last []string
	for {
		mismatches, compared := compare()
		if len(mismatches) == 0 {
			t.Logf("explain agrees with istiod on all %d objects with a condition to compare (%d objects in all): %v", compared, len(keys), reasons)
			break
		}
		last = mismatches
		if time.Now().After(deadline) {
			sort.Strings(last)
			t.Fatalf("explain and istiod disagree on %d of %d objects:\n  %s", len(last), compared, strings.Join(last, "\n  "))
		}
		time.Sleep(2 * time.Second)
	}
}

// setServiceEntryVisibility adds to istiod's mesh config a
// serviceEntryVisibility that makes the ServiceEntries of namespaces
// labelled diff-visibility=namespace NAMESPACE-visible, and every other one
// PUBLIC as before; the old mesh config comes back when the test ends.
func setServiceEntryVisibility(t *testing.T) {
	t.Helper()
	cms := env.Kube.CoreV1().ConfigMaps(mesh.MeshConfigNamespace)
	cm, err := cms.Get(t.Context(), mesh.MeshConfigMap, metav1.GetOptions{})
	if err != nil {
		t.Fatalf("reading istiod's mesh config: %v", err)
	}
	old := cm.Data[mesh.MeshConfigKey]
	if strings.Contains(old, "serviceEntryVisibility") {
		t.Fatalf("the mesh config already sets serviceEntryVisibility:\n%s", old)
	}
	cm.Data[mesh.MeshConfigKey] = strings.TrimRight(old, "\n") + "\n" + `serviceEntryVisibility:
  policies:
  - visibility: NAMESPACE
    matchingRules:
    - namespaceSelector:
        matchLabels:
          ` + visibilityLabel + `: namespace
`
	if _, err := cms.Update(t.Context(), cm, metav1.UpdateOptions{}); err != nil {
		t.Fatalf("setting serviceEntryVisibility: %v", err)
	}
	t.Cleanup(func() {
		cm, err := cms.Get(context.Background(), mesh.MeshConfigMap, metav1.GetOptions{})
		if err == nil {
			cm.Data[mesh.MeshConfigKey] = old
			_, err = cms.Update(context.Background(), cm, metav1.UpdateOptions{})
		}
		if err != nil {
			t.Errorf("restoring the mesh config: %v", err)
		}
	})
}

// diffWait bounds how long the differential test waits for istiod to agree.
const diffWait = 90 * time.Second

// annotateObject merges annotations into an object of resource gvr.
func annotateObject(t *testing.T, kind enroll.Kind, ns, name string, annotations map[string]string) {
	t.Helper()
	patch, _ := json.Marshal(map[string]any{"metadata": map[string]any{"annotations": annotations}})
	if _, err := env.Dynamic.Resource(kind.GVR()).Namespace(ns).Patch(t.Context(), name, types.MergePatchType, patch, metav1.PatchOptions{}); err != nil {
		t.Fatalf("annotating %s %s/%s: %v", kind, ns, name, err)
	}
}
