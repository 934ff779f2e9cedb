package enroll

import (
	"context"
	"errors"
	"fmt"
	"sort"
	"strings"

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/labels"

	"github.com/kubectl-waypoint/kubectl-waypoint/pkg/istio"
	"github.com/kubectl-waypoint/kubectl-waypoint/pkg/kube"
	"github.com/kubectl-waypoint/kubectl-waypoint/pkg/mesh"
)

// NotFoundError says the object to explain does not exist.
type NotFoundError struct {
	Kind      Kind
	Namespace string
	Name      string
}

func (e *NotFoundError) Error() string {
	if e.Kind == KindNamespace {
		return fmt.Sprintf("namespace %q not found", e.Name)
	}
	return fmt.Sprintf("%s %q not found in namespace %s", describeKind(e.Kind), e.Name, e.Namespace)
}

// NotAWaypointError says a Gateway asked about as a waypoint is not one.
type NotAWaypointError struct {
	Key   string
	Class string
}

func (e *NotAWaypointError) Error() string {
	return fmt.Sprintf("gateway %s is not a waypoint: its class is %q, not %s or %s", e.Key, e.Class, istio.ClassWaypoint, istio.ClassAgentgatewayWaypoint)
}

// WaypointForbiddenError says the user may not read a waypoint that an
// answer needs.
type WaypointForbiddenError struct {
	Key string
	Err error
}

func (e *WaypointForbiddenError) Error() string {
	return kube.Describe("read waypoint "+e.Key, e.Err).Error()
}

func (e *WaypointForbiddenError) Unwrap() error { return e.Err }

// Explanation is a Resolution with what istiod itself reported.
type Explanation struct {
	Resolution
	// Condition is the istio.io/WaypointBound condition istiod wrote on the
	// object; nil when there is none (pods and namespaces never get one).
	Condition *metav1.Condition `json:"waypointBound,omitempty"`
	// Disagreement says, in one line, how istiod's condition differs from
	// the rules' answer; empty when they agree. istiod's condition is then
	// trusted: Verdict is its reason.
	Disagreement string `json:"disagreement,omitempty"`
	// Verdict is the reason to trust: istiod's when it wrote a condition,
	// else the rules'.
	Verdict string `json:"verdict"`
	// Services are, for a pod, the services of its namespace whose selector
	// matches it, each with the waypoint that traffic addressed to it uses.
	Services []Explanation `json:"services,omitempty"`
	// UnreadWaypoint is the waypoint the user may not read; the answer is
	// then istiod's condition alone.
	UnreadWaypoint string `json:"unreadWaypoint,omitempty"`
}

// HasCondition reports whether istiod writes istio.io/WaypointBound on
// objects of the kind: Services, ServiceEntries and WorkloadEntries.
func (k Kind) HasCondition() bool {
	return k == KindService || k == KindServiceEntry || k == KindWorkloadEntry
}

// compare sets Verdict and Disagreement from the condition istiod wrote.
func (ex *Explanation) compare() {
	ex.Verdict = ex.Reason
	if !ex.Kind.HasCondition() {
		return
	}
	c := ex.Condition
	switch {
	case c != nil && c.Reason != ex.Reason:
		ex.Verdict = c.Reason
		ex.Disagreement = fmt.Sprintf("istiod reports %s=%s (%s) where the rules say %s: trusting istiod (it may not have seen the latest change yet)",
			c.Type, c.Status, c.Reason, ex.Reason)
	case c == nil && IsIstiodReason(ex.Reason):
		ex.Disagreement = fmt.Sprintf("istiod has written no %s condition where the rules say %s (it may not have seen the object yet)",
			ConditionWaypointBound, ex.Reason)
	case c != nil && c.Status == metav1.ConditionTrue && ex.Ingress != nil && ex.Ingress.UsesWaypoint != istiodIngress(c):
		says := "bypasses"
		if istiodIngress(c) {
			says = "goes through"
		}
		ex.Disagreement = fmt.Sprintf("istiod's %s condition says ingress traffic %s the waypoint where the rules say otherwise (it may not have seen the latest change yet)",
			c.Type, says)
	}
}

// istiodIngressText is what istiod adds to the message of a bound
// service's istio.io/WaypointBound condition when its ingress traffic goes
// through the waypoint (model.ServiceInfo's conditions).
const istiodIngressText = "Ingress traffic will traverse the waypoint"

// istiodIngress reports whether istiod's condition on a bound service says
// its ingress traffic goes through the waypoint.
func istiodIngress(c *metav1.Condition) bool {
	return strings.Contains(c.Message, istiodIngressText)
}

// Explain reads one namespace, service, pod, ServiceEntry or WorkloadEntry
// and resolves its waypoint. For a pod it also resolves the services that
// select it.
func (r *Reader) Explain(ctx context.Context, kind Kind, namespace, name string) (*Explanation, error) {
	c := r.Clients
	notFound := &NotFoundError{Kind: kind, Namespace: namespace, Name: name}
	subj := Subject{Kind: kind, Namespace: namespace, Name: name}
	var conds []metav1.Condition
	var pod *corev1.Pod
	switch kind {
	case KindNamespace:
		ns, err := c.Kube.CoreV1().Namespaces().Get(ctx, name, metav1.GetOptions{})
		if apierrors.IsNotFound(err) {
			return nil, notFound
		}
		if err != nil {
			return nil, kube.Describe("read namespace "+name, err)
		}
		r.namespaces[name] = &namespaceMeta{ns.Labels, ns.Annotations}
		subj.Labels, subj.Annotations, subj.Namespace = ns.Labels, ns.Annotations, name
	case KindService:
		svc, err := c.Kube.CoreV1().Services(namespace).Get(ctx, name, metav1.GetOptions{})
		if apierrors.IsNotFound(err) {
			return nil, notFound
		}
		if err != nil {
			return nil, kube.Describe("read service "+namespace+"/"+name, err)
		}
		subj.Labels, subj.Annotations, conds = svc.Labels, svc.Annotations, svc.Status.Conditions
		subj.ExternalName = svc.Spec.Type == corev1.ServiceTypeExternalName
	case KindPod:
		p, err := c.Kube.CoreV1().Pods(namespace).Get(ctx, name, metav1.GetOptions{})
		if apierrors.IsNotFound(err) {
			return nil, notFound
		}
		if err != nil {
			return nil, kube.Describe("read pod "+namespace+"/"+name, err)
		}
		subj.Labels, subj.Annotations, pod = p.Labels, p.Annotations, p
	case KindServiceEntry, KindWorkloadEntry:
		obj, err := c.Dynamic.Resource(kind.GVR()).Namespace(namespace).Get(ctx, name, metav1.GetOptions{})
		if kube.IsMissingType(err) {
			return nil, ErrNoIstioCRDs(kind)
		}
		if apierrors.IsNotFound(err) {
			return nil, notFound
		}
		if err != nil {
			return nil, kube.Describe("read "+string(kind)+" "+namespace+"/"+name, err)
		}
		subj.Labels, subj.Annotations, conds = obj.GetLabels(), obj.GetAnnotations(), kube.Conditions(obj)
	default:
		return nil, fmt.Errorf("cannot explain kind %q", kind)
	}

	cond := meta.FindStatusCondition(conds, ConditionWaypointBound)
	res, err := r.Resolve(ctx, subj)
	var forbidden *WaypointForbiddenError
	var ex *Explanation
	switch {
	case errors.As(err, &forbidden) && cond != nil:
		ex = istiodsAnswer(subj, cond, forbidden.Key)
		if kind.IsService() {
			// The labels still say what ingress traffic does, the
			// condition whether there is a waypoint to take.
			ns, err := r.namespace(ctx, namespace)
			if err != nil {
				return nil, err
			}
			waypoint := ""
			if ex.Uses {
				waypoint = forbidden.Key
			}
			ex.Ingress = IngressFor(kind, namespace, name, subj.Labels, ns.labels, waypoint)
		}
		return ex, nil
	case errors.As(err, &forbidden):
		// No condition to go by (a pod, or istiod has not written it yet):
		// what the labels name is all there is to say.
		ex = labelsAnswer(subj, forbidden.Key)
	case err != nil:
		return nil, err
	default:
		ex = &Explanation{Resolution: res, Condition: cond}
		ex.compare()
	}
	if pod != nil {
		ex.Services, err = r.podServices(ctx, pod)
		if err != nil {
			return nil, err
		}
	}
	return ex, nil
}

// istiodsAnswer explains an object whose waypoint the user may not read by
// istiod's istio.io/WaypointBound condition on it alone.
func istiodsAnswer(s Subject, cond *metav1.Condition, key string) *Explanation {
	uses := cond.Status == metav1.ConditionTrue
	res := Resolution{Kind: s.Kind, Namespace: s.Namespace, Name: s.Name, Waypoint: key, Uses: uses, Reason: cond.Reason,
		Problem: !uses && cond.Reason != ReasonNoWaypoint,
		Steps:   []string{"waypoint " + key + " could not be read (forbidden): this is istiod's own answer, from the " + ConditionWaypointBound + " condition"}}
	res.Message = "uses no waypoint, says istiod"
	if uses {
		res.Message = "uses waypoint " + key + ", says istiod"
	}
	if cond.Message != "" {
		res.Message += ": " + cond.Message
	}
	return &Explanation{Resolution: res, Condition: cond, Verdict: cond.Reason, UnreadWaypoint: key}
}

// labelsAnswer explains an object whose waypoint the user may not read and
// on which istiod wrote no condition: the labels name the waypoint, and
// whether it takes the traffic is left unsaid.
func labelsAnswer(s Subject, key string) *Explanation {
	res := Resolution{Kind: s.Kind, Namespace: s.Namespace, Name: s.Name, Waypoint: key, Reason: ReasonWaypointUnread,
		Message: "names waypoint " + key + ", which you may not read: whether it takes this traffic was not checked",
		Steps:   []string{"waypoint " + key + " could not be read (forbidden), and istiod wrote no " + ConditionWaypointBound + " condition here: only the labels were read"}}
	return &Explanation{Resolution: res, Verdict: ReasonWaypointUnread, UnreadWaypoint: key}
}

// podServices resolves the services in the pod's namespace that select it.
func (r *Reader) podServices(ctx context.Context, pod *corev1.Pod) ([]Explanation, error) {
	var selecting []corev1.Service
	err := kube.EachPage(ctx, metav1.ListOptions{}, kube.ServicePage(r.Clients.Kube, pod.Namespace), func(items []corev1.Service) error {
		for _, svc := range items {
			if len(svc.Spec.Selector) > 0 && labels.SelectorFromSet(svc.Spec.Selector).Matches(labels.Set(pod.Labels)) {
				selecting = append(selecting, svc)
			}
		}
		return nil
	})
	if err != nil {
		return nil, kube.Describe("list the services of namespace "+pod.Namespace, err)
	}
	var out []Explanation
	for i := range selecting {
		svc := &selecting[i]
		subj := Subject{Kind: KindService, Namespace: svc.Namespace, Name: svc.Name,
			Labels: svc.Labels, Annotations: svc.Annotations, ExternalName: svc.Spec.Type == corev1.ServiceTypeExternalName}
		cond := meta.FindStatusCondition(svc.Status.Conditions, ConditionWaypointBound)
		res, err := r.Resolve(ctx, subj)
		var forbidden *WaypointForbiddenError
		if errors.As(err, &forbidden) && cond != nil {
			out = append(out, *istiodsAnswer(subj, cond, forbidden.Key))
			continue
		}
		if err != nil {
			return nil, err
		}
		ex := Explanation{Resolution: res, Condition: cond}
		ex.compare()
		out = append(out, ex)
	}
	return out, nil
}

// WaypointUsers are the resources that use, or ask for, one waypoint.
type WaypointUsers struct {
	Waypoint string `json:"waypoint"`
	// Facts describe the waypoint; nil when it does not exist.
	Facts *mesh.Waypoint `json:"waypointFacts,omitempty"`
	// Users are the namespaces, services, pods, ServiceEntries and
	// WorkloadEntries whose own label names the waypoint, and those without
	// a label of their own in a namespace whose label names it (workloads
	// only when the waypoint takes workload traffic), each resolved by
	// istiod's rules.
	Users []Resolution `json:"users"`
}

// ExplainWaypoint finds and resolves the users of the waypoint
// namespace/name: one labelled list per kind across the cluster, then one
// list per kind in each enrolled namespace for what inherits from it.
func (r *Reader) ExplainWaypoint(ctx context.Context, namespace, name string) (*WaypointUsers, error) {
	key := namespace + "/" + name
	out := &WaypointUsers{Waypoint: key, Users: []Resolution{}}
	w, err := r.Waypoint(ctx, key)
	if err != nil {
		return nil, err
	}
	if w != nil && !w.IsWaypointClass() {
		return nil, &NotAWaypointError{Key: key, Class: w.Class}
	}
	out.Facts = w
	targets, err := r.waypointTargets(ctx, key, w)
	if err != nil {
		return nil, err
	}
	for _, t := range targets {
		res, err := r.resolveTarget(ctx, t.Target)
		if err != nil {
			return nil, err
		}
		if t.inherited && res.Reason == ReasonIsWaypoint {
			continue // the waypoint's own pods live in the namespace it serves
		}
		out.Users = append(out.Users, res)
	}
	sortResolutions(out.Users)
	return out, nil
}

type userTarget struct {
	Target
	inherited bool
}

// waypointTargets lists the objects whose labels name the waypoint key,
// and those that inherit it from a namespace that names it.
func (r *Reader) waypointTargets(ctx context.Context, key string, w *mesh.Waypoint) ([]userTarget, error) {
	traffic := istio.TrafficService
	if w != nil {
		traffic = w.TrafficType
	} else if cl := r.Classes.Get(ctx, istio.ClassWaypoint); cl != nil {
		// Not there (yet): it would get what its class gives.
		if v, ok := cl.Labels[istio.LabelWaypointFor]; ok {
			traffic = istio.TrafficType(v)
		}
	}
	wns, name := splitKey(key)
	selector := istio.LabelUseWaypoint + "=" + name
	var direct []userTarget
	for _, kind := range Kinds {
		items, read := r.labelled(ctx, kind, selector, wns)
		var found []userTarget
		for _, m := range items {
			own := m.Namespace
			if kind == KindNamespace {
				own = m.Name
			}
			if UseOf(m.Labels, own).Key() == key {
				found = append(found, userTarget{Target: Target{Kind: kind, Namespace: m.Namespace, Name: m.Name, Labels: m.Labels, Annotations: m.Annotations}})
			}
		}
		if err := r.readFailures(kind, read, []string{wns}, func(string) string {
			return "list the " + kind.Plural() + " that use waypoint " + key
		}); err != nil {
			return nil, err
		}
		direct = append(direct, found...)
	}
	var inherited []userTarget
	for _, t := range direct {
		if t.Kind != KindNamespace {
			continue
		}
		r.namespaces[t.Name] = &namespaceMeta{t.Labels, t.Annotations}
		for _, kind := range []Kind{KindService, KindPod, KindServiceEntry, KindWorkloadEntry} {
			if kind.IsWorkload() && !traffic.ServesWorkloads() {
				continue
			}
			// Retried like every read: each attempt starts over.
			var got []userTarget
			err := kube.Retry(ctx, func() error {
				got = nil
				return eachMetadata(ctx, r.Clients, kind, t.Name, "!"+istio.LabelUseWaypoint, func(m *metav1.PartialObjectMetadata) {
					got = append(got, userTarget{Target: Target{Kind: kind, Namespace: m.Namespace, Name: m.Name, Labels: m.Labels, Annotations: m.Annotations}, inherited: true})
				})
			})
			switch {
			case err == nil:
				inherited = append(inherited, got...)
			case kind.IsIstio() && kube.IsMissingType(err):
			case apierrors.IsForbidden(err):
				r.gap(ListGap{Kind: kind, Namespace: t.Name})
			default:
				return nil, kube.Describe("list the "+kind.Plural()+" of namespace "+t.Name, err)
			}
		}
	}
	return append(direct, inherited...), nil
}

// labelled lists the metadata of the objects of kind that match selector:
// across the cluster, or, for a user who may not, in namespace ns. A
// complete list across the cluster is kept for the reader's life, so that
// the users of many waypoints of one name (apply over many namespaces)
// cost one list per kind, not one per waypoint.
func (r *Reader) labelled(ctx context.Context, kind Kind, selector, ns string) ([]metav1.PartialObjectMetadata, kube.ScopeRead) {
	key := string(kind) + " " + selector
	if items, ok := r.labelledLists[key]; ok {
		return items, kube.ScopeRead{Failed: map[string]error{}}
	}
	var items []metav1.PartialObjectMetadata
	read := readEverywhere(ctx, []string{ns}, 1, func(ctx context.Context, ns string) error {
		items = nil
		return eachMetadataIn(ctx, r.Clients, kind, ns, selector, func(m *metav1.PartialObjectMetadata) {
			items = append(items, *m)
		})
	})
	if !read.Narrowed && len(read.Failed) == 0 && r.nsLabels == nil {
		if r.labelledLists == nil {
			r.labelledLists = map[string][]metav1.PartialObjectMetadata{}
		}
		r.labelledLists[key] = items
	}
	return items, read
}

// CutOff lists the users of the waypoint key that istiod binds to it now
// and would no longer bind if the waypoint were next (same status, new
// spec and labels): each resolved against next.
func (r *Reader) CutOff(ctx context.Context, key string, next *mesh.Waypoint) ([]Resolution, error) {
	current, err := r.Waypoint(ctx, key)
	if err != nil || current == nil {
		return nil, err
	}
	targets, err := r.waypointTargets(ctx, key, current)
	if err != nil {
		return nil, err
	}
	var users []Target
	for _, t := range targets {
		res, err := r.resolveTarget(ctx, t.Target)
		if err != nil {
			return nil, err
		}
		if res.Uses && res.Waypoint == key {
			users = append(users, t.Target)
		}
	}
	r.waypoints[key] = next
	defer func() { r.waypoints[key] = current }()
	var out []Resolution
	for _, t := range users {
		res, err := r.resolveTarget(ctx, t)
		if err != nil {
			return nil, err
		}
		if !res.Uses {
			out = append(out, res)
		}
	}
	sortResolutions(out)
	return out, nil
}

func sortResolutions(rs []Resolution) {
	sort.SliceStable(rs, func(i, j int) bool {
		a, b := rs[i], rs[j]
		if a.Kind != b.Kind {
			return kindOrder(a.Kind) < kindOrder(b.Kind)
		}
		if a.Namespace != b.Namespace {
			return a.Namespace < b.Namespace
		}
		return a.Name < b.Name
	})
}

func kindOrder(k Kind) int {
	for i, kk := range Kinds {
		if kk == k {
			return i
		}
	}
	return len(Kinds)
}
