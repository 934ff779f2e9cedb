package policy

import (
	"context"
	"fmt"
	"sort"
	"strings"

	"github.com/kubectl-waypoint/kubectl-waypoint/pkg/enroll"
	"github.com/kubectl-waypoint/kubectl-waypoint/pkg/istio"
	"github.com/kubectl-waypoint/kubectl-waypoint/pkg/kube"
	"github.com/kubectl-waypoint/kubectl-waypoint/pkg/mesh"
)

// Object is a namespace, Service, ServiceEntry or waypoint Gateway, the
// reference every record carries (kube.Ref). A namespace has no Namespace.
type Object = kube.Ref

// WaypointObject is the Object of the waypoint namespace/name.
func WaypointObject(key string) Object {
	ns, name, _ := strings.Cut(key, "/")
	return Object{Kind: "Gateway", Namespace: ns, Name: name}
}

// Change is a write whose effect on the L7 policies is predicted before it
// is made.
type Change struct {
	// Waypoints are the waypoints it deletes (nil) or replaces (the
	// waypoint as it would be, its status kept), by namespace/name.
	Waypoints map[string]*mesh.Waypoint
	// Labels are the labels namespaces, Services and ServiceEntries would
	// have after it.
	Labels map[Object]map[string]string
	// Users are more Services and ServiceEntries whose waypoint it may
	// change, such as the users of a replaced waypoint; those it relabels,
	// and those of the namespaces it relabels, need not be given.
	Users []Object
	// Before are the labels the relabelled objects have now, when known:
	// a namespace whose label names no waypoint with policies then needs
	// no list of its services.
	Before map[Object]map[string]string
	// Causes say in words what it does to each object (a waypoint as its
	// WaypointObject), for the messages: "waypoint l7/waypoint deleted".
	Causes map[Object]string
}

// Loss is a policy that a change would stop enforcing: for one of its
// targets, or for the traffic of one user of the waypoint it targets.
type Loss struct {
	// Policy is the policy as it is now.
	Policy Policy `json:"policy"`
	// Target is the target it loses, or the waypoint the User leaves.
	Target Target `json:"target"`
	// User is, for a policy on a waypoint that stays, the Service or
	// ServiceEntry whose traffic would no longer go through it; nil when
	// the policy loses its target itself. With Ingress, it is the Service
	// or ServiceEntry (the target, or a user of the waypoint targeted)
	// whose ingress traffic would no longer go through the waypoint.
	User *Object `json:"user,omitempty"`
	// Ingress says the policy stays enforced for the traffic from inside
	// the mesh and loses only the traffic of ingress gateways to User,
	// which would bypass the waypoint (istio.io/ingress-use-waypoint).
	Ingress bool `json:"ingress,omitempty"`
	// By is the object of the change that causes the loss.
	By Object `json:"by"`
	// Cause says why, in words.
	Cause string `json:"cause"`
}

// String is the line that names the policy and why, e.g.
// "AuthorizationPolicy l7/viewer would no longer be enforced: waypoint l7/waypoint deleted".
func (l Loss) String() string {
	s := l.Policy.Kind + " " + l.Policy.Key() + " would no longer be enforced"
	switch {
	case l.User != nil && l.Ingress:
		s += " for ingress traffic to " + l.User.String()
	case l.User != nil:
		s += " for " + l.User.String()
	}
	return s + ": " + l.Cause
}

// Impact is what a change would do to the L7 policies.
type Impact struct {
	// Before are the policies as they are; After the same ones, predicted
	// after the change (istiod's conditions left out).
	Before []Policy `json:"before"`
	After  []Policy `json:"after"`
	// Losses are the policies it would stop enforcing, in part or whole.
	Losses []Loss `json:"losses"`
}

// By groups the losses by the object of the change that causes them.
func (im *Impact) By() map[Object][]Loss {
	out := map[Object][]Loss{}
	for _, l := range im.Losses {
		out[l.By] = append(out[l.By], l)
	}
	return out
}

// Impact predicts which L7 policies of namespaces (nil: every namespace)
// the change would stop enforcing, by the rules of Predict applied before
// and after it. Each policy kind is listed once per namespace given (once in
// all without namespaces); nothing is read per policy that was read before.
func (r *Reader) Impact(ctx context.Context, namespaces []string, ch Change) (*Impact, error) {
	im := &Impact{}
	if namespaces == nil {
		namespaces = []string{""}
	}
	seen := map[string]bool{}
	for _, ns := range namespaces {
		if seen[ns] {
			continue
		}
		seen[ns] = true
		res, err := r.List(ctx, ns)
		if err != nil {
			return nil, err
		}
		im.Before = append(im.Before, res.Policies...)
	}
	nsLabels := map[string]map[string]string{}
	for o, l := range ch.Labels {
		if o.Kind == "Namespace" {
			nsLabels[o.Name] = l
		}
	}
	after := r.Enroll.With(ch.Waypoints, nsLabels)
	ar := &Reader{Clients: r.Clients, Enroll: after, RootNamespace: r.RootNamespace,
		services: r.services, serviceEntries: r.serviceEntries, classes: r.classes,
		allServices: r.allServices, allServiceEntries: r.allServiceEntries, labels: ch.Labels, prefetched: true}

	// gateway holds, by waypoint, the policies enforced on it before and after.
	gateway := map[string][]int{}
	for i, p := range im.Before {
		np := Policy{Kind: p.Kind, Namespace: p.Namespace, Name: p.Name, Generation: p.Generation}
		enforcedNow, _ := p.Verdict()
		for _, a := range p.Attachments {
			s, err := ar.state(ctx, a.Target)
			if err != nil {
				return nil, err
			}
			na := Predict(a.Target, p.Namespace, r.RootNamespace, s)
			np.Attachments = append(np.Attachments, na)
			switch {
			case !enforcedNow || !a.Enforced:
			case !na.Enforced:
				by, cause, err := r.cause(ctx, ch, a.Target, na)
				if err != nil {
					return nil, err
				}
				im.Losses = append(im.Losses, Loss{Policy: p, Target: a.Target, By: by, Cause: cause})
			case a.Target.Kind == "Gateway":
				gateway[a.Target.Key()] = append(gateway[a.Target.Key()], i)
			case a.Target.Kind == "Service" || a.Target.Kind == "ServiceEntry":
				// Still bound: its ingress traffic may stop taking the waypoint.
				target := Object{Kind: a.Target.Kind, Namespace: a.Target.Namespace, Name: a.Target.Name}
				lost, err := r.ingressLost(ctx, ar, target)
				if err != nil {
					return nil, err
				}
				if lost {
					by, cause := ingressCause(ch, target, "")
					im.Losses = append(im.Losses, Loss{Policy: p, Target: a.Target, User: &target, Ingress: true, By: by, Cause: cause})
				}
			}
		}
		np.Enforced, np.Reason, np.Message = Flatten(np.Attachments)
		im.After = append(im.After, np)
	}
	if len(gateway) > 0 {
		users, err := r.users(ctx, ch, gateway)
		if err != nil {
			return nil, err
		}
		for _, u := range users {
			before, err := r.resolve(ctx, u)
			if err != nil || before == nil || !before.Uses || len(gateway[before.Waypoint]) == 0 {
				if err != nil {
					return nil, err
				}
				continue
			}
			now, err := ar.resolve(ctx, u)
			if err != nil {
				return nil, err
			}
			if now != nil && now.Uses && now.Waypoint == before.Waypoint {
				// Still bound: its ingress traffic may stop taking the waypoint.
				if ingressOf(before) && !ingressOf(now) {
					by, cause := ingressCause(ch, u, before.Waypoint)
					for _, i := range gateway[before.Waypoint] {
						user := u
						im.Losses = append(im.Losses, Loss{Policy: im.Before[i], Target: WaypointTarget(before.Waypoint), User: &user, Ingress: true, By: by, Cause: cause})
					}
				}
				continue
			}
			by := u
			if _, ok := ch.Labels[u]; !ok {
				by = Object{Kind: "Namespace", Name: u.Namespace}
				if _, ok := ch.Labels[by]; !ok {
					by = WaypointObject(before.Waypoint)
				}
			}
			cause := ch.Causes[by]
			if cause == "" {
				cause = "its traffic would no longer go through waypoint " + before.Waypoint
			}
			for _, i := range gateway[before.Waypoint] {
				user := u
				im.Losses = append(im.Losses, Loss{Policy: im.Before[i], Target: WaypointTarget(before.Waypoint), User: &user, By: by, Cause: cause})
			}
		}
	}
	sort.SliceStable(im.Losses, func(i, j int) bool { return im.Losses[i].String() < im.Losses[j].String() })
	return im, nil
}

// ingressOf reports whether a resolution sends ingress traffic through its
// waypoint.
func ingressOf(res *enroll.Resolution) bool {
	return res != nil && res.Ingress != nil && res.Ingress.UsesWaypoint
}

// ingressLost reports whether the ingress traffic of a Service or
// ServiceEntry goes through its waypoint now and would not after the
// change (as after, the reader of the cluster after it, resolves it),
// while it stays bound to the same waypoint.
func (r *Reader) ingressLost(ctx context.Context, after *Reader, o Object) (bool, error) {
	before, err := r.resolve(ctx, o)
	if err != nil || !ingressOf(before) {
		return false, err
	}
	now, err := after.resolve(ctx, o)
	if err != nil {
		return false, err
	}
	return now != nil && now.Uses && now.Waypoint == before.Waypoint && !ingressOf(now), nil
}

// ingressCause says which object of the change stops the ingress traffic
// of o from taking its waypoint (o itself, else its namespace, whose
// labels decide it), and why in words.
func ingressCause(ch Change, o Object, waypoint string) (Object, string) {
	by := o
	if _, ok := ch.Labels[o]; !ok {
		by = Object{Kind: "Namespace", Name: o.Namespace}
	}
	if c := ch.Causes[by]; c != "" {
		return by, c
	}
	if waypoint == "" {
		return by, "its ingress traffic would no longer go through its waypoint"
	}
	return by, "its ingress traffic would no longer go through waypoint " + waypoint
}

// WaypointTarget is the target of a policy on the waypoint namespace/name.
func WaypointTarget(key string) Target {
	ns, name, _ := strings.Cut(key, "/")
	return Target{Kind: "Gateway", Group: gatewayGroup, Namespace: ns, Name: name}
}

// cause says which object of the change makes a target lose its policy,
// and why in words.
func (r *Reader) cause(ctx context.Context, ch Change, t Target, after Attachment) (Object, string, error) {
	if t.Kind == "Gateway" {
		by := WaypointObject(t.Key())
		if c := ch.Causes[by]; c != "" {
			return by, c, nil
		}
		return by, after.Message, nil
	}
	target := Object{Kind: t.Kind, Namespace: t.Namespace, Name: t.Name}
	by := Object{Kind: "Namespace", Name: t.Namespace}
	if _, ok := ch.Labels[target]; ok {
		by = target
	} else if before, err := r.resolve(ctx, target); err != nil {
		return by, "", err
	} else if _, ok := ch.Labels[by]; !ok && before != nil {
		by = WaypointObject(before.Waypoint)
	}
	if c := ch.Causes[by]; c != "" {
		return by, fmt.Sprintf("%s %s would be bound to no waypoint: %s", t.Kind, t.Key(), c), nil
	}
	return by, after.Message, nil
}

// users are the Services and ServiceEntries whose waypoint the change may
// change: those it names or relabels, and those of the namespaces it relabels.
func (r *Reader) users(ctx context.Context, ch Change, gateway map[string][]int) ([]Object, error) {
	seen := map[Object]bool{}
	var out []Object
	add := func(o Object) {
		if !seen[o] {
			seen[o] = true
			out = append(out, o)
		}
	}
	for _, u := range ch.Users {
		add(u)
	}
	var namespaces []string
	for o := range ch.Labels {
		switch o.Kind {
		case "Service", "ServiceEntry":
			add(o)
		case "Namespace":
			if before, ok := ch.Before[o]; ok && !ingressRelabelled(before, ch.Labels[o]) {
				if len(gateway[enroll.UseOf(before, o.Name).Key()]) == 0 {
					continue // what inherits from it uses no waypoint with policies
				}
			}
			namespaces = append(namespaces, o.Name)
		}
	}
	sort.Strings(namespaces)
	for _, ns := range namespaces {
		svcs, err := r.servicesIn(ctx, ns)
		if err != nil {
			return nil, err
		}
		for name := range svcs {
			add(Object{Kind: "Service", Namespace: ns, Name: name})
		}
		ses, err := r.serviceEntriesIn(ctx, ns)
		if err != nil {
			return nil, err
		}
		for name := range ses {
			add(Object{Kind: "ServiceEntry", Namespace: ns, Name: name})
		}
	}
	return out, nil
}

// ingressRelabelled reports whether a namespace's ingress label differs
// between before and after: its Services and ServiceEntries that name a
// waypoint themselves read it too.
func ingressRelabelled(before, after map[string]string) bool {
	was, had := before[istio.LabelIngressUseWaypoint]
	is, has := after[istio.LabelIngressUseWaypoint]
	return had != has || was != is
}

// ChangeOf is the Kind an enrollable kind has in a Change; empty for the
// kinds no policy targets (pods, WorkloadEntries).
func ChangeOf(k enroll.Kind) string {
	switch k {
	case enroll.KindNamespace:
		return "Namespace"
	case enroll.KindService:
		return "Service"
	case enroll.KindServiceEntry:
		return "ServiceEntry"
	}
	return ""
}
