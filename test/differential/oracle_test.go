package differential_test

import (
	"context"
	"encoding/json"
	"fmt"
	"sort"
	"strings"
	"sync"
	"testing"
	"time"

	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	gatewayv1 "sigs.k8s.io/gateway-api/apis/v1"

	"github.com/kubectl-waypoint/kubectl-waypoint/internal/testenv"
	"github.com/kubectl-waypoint/kubectl-waypoint/pkg/enroll"
	"github.com/kubectl-waypoint/kubectl-waypoint/pkg/mesh"
)

// answer is what one side says of an object: the waypoint its traffic is
// sent to ("" for none) and, for the kinds istiod writes it on, the
// istio.io/WaypointBound condition ("" when there is none).
type answer struct {
	waypoint string // namespace/name
	status   string
	reason   string
	// generation is the condition's observedGeneration: for istiod, the
	// one it wrote; for explain, the one it reports of istiod's condition.
	generation int64
}

func (a answer) String() string {
	w := a.waypoint
	if w == "" {
		w = "no waypoint"
	}
	if a.reason == "" {
		return w + ", no condition"
	}
	return fmt.Sprintf("%s, %s=%s (observedGeneration %d)", w, a.status, a.reason, a.generation)
}

// ours is explain's answer, from its JSON: the waypoint when it says the
// traffic uses one, and the condition it predicts when its reason is one
// istiod writes (True when the traffic uses the waypoint).
func ours(o *objSpec) (answer, error) {
	stdout, stderr, code := run("explain", string(o.kind), o.name, "-n", o.ns, "-o", "json")
	if code != 0 {
		return answer{}, fmt.Errorf("explain %s: exit %d: %s", o.key(), code, strings.TrimSpace(stderr))
	}
	var ex enroll.Explanation
	if err := json.Unmarshal([]byte(stdout), &ex); err != nil {
		return answer{}, fmt.Errorf("explain %s: %v", o.key(), err)
	}
	var a answer
	if ex.Uses {
		a.waypoint = ex.Waypoint
	}
	if ex.Condition != nil {
		a.generation = ex.Condition.ObservedGeneration
	}
	if o.kind.HasCondition() && enroll.IsIstiodReason(ex.Reason) {
		a.reason, a.status = ex.Reason, "False"
		if ex.Uses {
			a.status = "True"
		}
	}
	return a, nil
}

// istiodView is what istiod says of the objects of some namespaces: the
// waypoints of ambientz, and the conditions it wrote.
type istiodView struct {
	services  map[string]string // namespace/name -> waypoint, for Services and ServiceEntries
	workloads map[string]string // kind namespace/name -> waypoint, for pods and WorkloadEntries
	// conditions, by objSpec.key(): istiod's condition, or an answer whose
	// reason says why it cannot be compared (stale).
	conditions map[string]answer
}

// observe reads ambientz and the objects of namespaces.
func observe(ctx context.Context, namespaces []string) (*istiodView, error) {
	a, err := env.Ambientz(ctx)
	if err != nil {
		return nil, err
	}
	in := map[string]bool{}
	for _, ns := range namespaces {
		in[ns] = true
	}
	v := &istiodView{services: map[string]string{}, workloads: map[string]string{}, conditions: map[string]answer{}}
	for _, s := range a.Services {
		if in[s.Namespace] {
			v.services[s.Namespace+"/"+s.Name] = waypointOf(s.Waypoint)
		}
	}
	for _, w := range a.Workloads {
		if !in[w.Namespace] {
			continue
		}
		switch w.Kind() {
		case "Pod":
			v.workloads["pod "+w.Namespace+"/"+w.Name] = waypointOf(w.Waypoint)
		case "WorkloadEntry":
			v.workloads["workloadentry "+w.Namespace+"/"+w.Name] = waypointOf(w.Waypoint)
		}
	}
	for _, ns := range namespaces {
		for _, k := range []enroll.Kind{enroll.KindService, enroll.KindServiceEntry, enroll.KindWorkloadEntry} {
			list, err := env.Dynamic.Resource(k.GVR()).Namespace(ns).List(ctx, metav1.ListOptions{})
			if err != nil {
				return nil, fmt.Errorf("listing %s of %s: %w", k, ns, err)
			}
			for _, u := range list.Items {
				v.conditions[string(k)+" "+ns+"/"+u.GetName()] = conditionOf(u)
			}
		}
	}
	return v, nil
}

// waypointOf turns the address istiod gives ztunnel into namespace/name:
// istiod names a waypoint by its Service's hostname,
// <name>.<namespace>.svc.cluster.local.
func waypointOf(g *testenv.GatewayAddress) string {
	switch {
	case g == nil:
		return ""
	case g.Hostname != nil:
		name, _, _ := strings.Cut(g.Hostname.Hostname, ".")
		return g.Hostname.Namespace + "/" + name
	}
	return g.String()
}

// conditionOf is istiod's WaypointBound condition on u. The istiod we run
// writes no observedGeneration in it (0) for any kind: when it does write
// one, it must be u's generation, or the condition is stale.
func conditionOf(u unstructured.Unstructured) answer {
	conds, _, _ := unstructured.NestedSlice(u.Object, "status", "conditions")
	for _, c := range conds {
		m, _ := c.(map[string]any)
		if m["type"] != enroll.ConditionWaypointBound {
			continue
		}
		status, _ := m["status"].(string)
		reason, _ := m["reason"].(string)
		gen, _, _ := unstructured.NestedInt64(m, "observedGeneration")
		if gen != 0 && gen != u.GetGeneration() {
			reason = fmt.Sprintf("%s, stale (observedGeneration %d, generation %d)", reason, gen, u.GetGeneration())
		}
		return answer{status: status, reason: reason, generation: gen}
	}
	return answer{}
}

// theirs is istiod's answer for o.
func (v *istiodView) theirs(o *objSpec) (answer, bool) {
	var a answer
	var found bool
	switch o.kind {
	case enroll.KindService, enroll.KindServiceEntry:
		a.waypoint, found = v.services[o.ns+"/"+o.name]
	default:
		a.waypoint, found = v.workloads[o.key()]
	}
	if o.kind.HasCondition() {
		c := v.conditions[o.key()]
		a.status, a.reason, a.generation = c.status, c.reason, c.generation
	}
	return a, found
}

// result is one comparison of explain with istiod over some objects.
type result struct {
	// mismatches has one line per object on which they disagree.
	mismatches []string
	// absent counts the objects istiod sends ztunnel nothing for.
	absent int
	// answers counts the answers both gave, by kind and answer, so that a
	// log shows what the comparison covered.
	answers map[string]int
}

// compare compares explain with istiod on objs, whose namespaces are
// namespaces. explain runs 4 at a time.
func compare(ctx context.Context, objs []*objSpec, namespaces []string) (result, error) {
	r := result{answers: map[string]int{}}
	v, err := observe(ctx, namespaces)
	if err != nil {
		return r, err
	}
	answers := make([]answer, len(objs))
	errs := make([]error, len(objs))
	var wg sync.WaitGroup
	sem := make(chan struct{}, 4)
	for i, o := range objs {
		wg.Go(func() {
			sem <- struct{}{}
			defer func() { <-sem }()
			answers[i], errs[i] = ours(o)
		})
	}
	wg.Wait()
	for i, o := range objs {
		if errs[i] != nil {
			return r, errs[i]
		}
		their, found := v.theirs(o)
		if !found {
			r.absent++
			if !o.externalName {
				// Every object but an ExternalName Service is a
				// service or a workload of ambientz.
				r.mismatches = append(r.mismatches, fmt.Sprintf("%s: istiod sends ztunnel nothing for it; explain says %s", o.key(), answers[i]))
				continue
			}
		}
		if answers[i] != their {
			r.mismatches = append(r.mismatches, fmt.Sprintf("%s: explain says %s; istiod says %s", o.key(), answers[i], their))
			continue
		}
		kind := string(o.kind)
		switch {
		case their.waypoint != "":
			r.answers[kind+": a waypoint"]++
		case their.reason != "":
			r.answers[kind+": none, "+their.reason]++
		default:
			r.answers[kind+": none, no condition"]++
		}
	}
	sort.Strings(r.mismatches)
	return r, nil
}

// agree compares until explain and istiod agree on every object twice in a
// row, settle apart (istiod works asynchronously, and an agreement that
// holds for an instant only proves little), or until the deadline; it
// returns the last comparison.
func agree(ctx context.Context, objs []*objSpec, namespaces []string, deadline, settle time.Duration) (result, error) {
	end := time.Now().Add(deadline)
	agreed := 0
	for {
		r, err := compare(ctx, objs, namespaces)
		if err != nil {
			return r, err
		}
		if len(r.mismatches) == 0 {
			if agreed++; agreed == 2 {
				return r, nil
			}
		} else {
			agreed = 0
		}
		if time.Now().After(end) {
			return r, nil
		}
		select {
		case <-ctx.Done():
			return r, ctx.Err()
		case <-time.After(settle):
		}
	}
}

// setupOnce makes, for every test of the package, the GatewayClasses the
// generator names and the mesh config's serviceEntryVisibility rule.
var setupOnce = sync.OnceValue(func() error {
	c := context.Background()
	for name, labels := range genClasses {
		gc := &gatewayv1.GatewayClass{
			ObjectMeta: metav1.ObjectMeta{Name: name, Labels: labels},
			Spec:       gatewayv1.GatewayClassSpec{ControllerName: testenv.MeshControllerName},
		}
		if _, err := env.Gateway.GatewayV1().GatewayClasses().Create(c, gc, metav1.CreateOptions{}); err != nil && !apierrors.IsAlreadyExists(err) {
			return fmt.Errorf("creating GatewayClass %s: %w", name, err)
		}
	}
	cms := env.Kube.CoreV1().ConfigMaps(mesh.MeshConfigNamespace)
	cm, err := cms.Get(c, mesh.MeshConfigMap, metav1.GetOptions{})
	if err != nil {
		return fmt.Errorf("reading istiod's mesh config: %w", err)
	}
	old := cm.Data[mesh.MeshConfigKey]
	if strings.Contains(old, "serviceEntryVisibility") {
		return nil
	}
	cm.Data[mesh.MeshConfigKey] = strings.TrimRight(old, "\n") + "\n" + `serviceEntryVisibility:
  policies:
  - visibility: NAMESPACE
    matchingRules:
    - namespaceSelector:
        matchLabels:
          ` + visibilityLabel + `: namespace
`
	if _, err := cms.Update(c, cm, metav1.UpdateOptions{}); err != nil {
		return fmt.Errorf("setting serviceEntryVisibility: %w", err)
	}
	return nil
})

func setup(t *testing.T) {
	t.Helper()
	if err := setupOnce(); err != nil {
		t.Fatal(err)
	}
}
