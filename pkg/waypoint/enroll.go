package waypoint

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"sort"
	"strings"

	apierrors "k8s.io/apimachinery/pkg/api/errors"
	gatewayv1 "sigs.k8s.io/gateway-api/apis/v1"

	"github.com/kubectl-waypoint/kubectl-waypoint/pkg/bulk"
	"github.com/kubectl-waypoint/kubectl-waypoint/pkg/enroll"
	"github.com/kubectl-waypoint/kubectl-waypoint/pkg/istio"
	"github.com/kubectl-waypoint/kubectl-waypoint/pkg/kube"
	"github.com/kubectl-waypoint/kubectl-waypoint/pkg/mesh"
	"github.com/kubectl-waypoint/kubectl-waypoint/pkg/policy"
)

// EnrollRequest chooses the objects of one kind to enroll into a waypoint
// or, with Unenroll, to unenroll: those named, or selected by Selector, in
// each of Namespaces (for namespaces: the named ones, else Namespaces
// themselves).
type EnrollRequest struct {
	Kind     enroll.Kind
	Unenroll bool

	Namespaces []string
	Names      []string
	Selector   string

	// Waypoint is the waypoint to enroll into (istio.NoWaypoint opts out),
	// in WaypointNamespace, or in each object's own namespace when empty.
	Waypoint          string
	WaypointNamespace string
	// Canary, when set, takes CanaryWeight percent of the traffic.
	Canary       string
	CanaryWeight int
	// Ingress also sends the traffic of ingress gateways through the
	// waypoint (istio.io/ingress-use-waypoint=true, in the same write as
	// the enrollment); with Unenroll it removes that label alone and
	// leaves the enrollment as it is. For services, ServiceEntries and
	// namespaces.
	Ingress bool

	// Force enrolls even when the checks of the waypoint fail or L7
	// policies would no longer be enforced; Result says what was let through.
	Force       bool
	DryRun      kube.DryRun
	Concurrency int
	// Progress, when set, is told how many writes are done (when there are
	// several).
	Progress func(done, total int)
}

// Verb is the request's verb: "enroll" or "unenroll".
func (r EnrollRequest) Verb() string {
	if r.Unenroll {
		return "unenroll"
	}
	return "enroll"
}

// Change is the change of labels the request makes on a target.
func (r EnrollRequest) Change(t enroll.Target) enroll.LabelChange {
	switch {
	case r.Unenroll && r.Ingress:
		return enroll.UnenrollIngressChange()
	case r.Unenroll:
		return enroll.UnenrollChange()
	}
	c := enroll.EnrollChange(t.Own(), r.Waypoint, r.WaypointNamespace)
	if r.Canary != "" {
		c = enroll.CanaryChange(c, t.Own(), r.Canary, r.WaypointNamespace, r.CanaryWeight)
	}
	if r.Ingress {
		c = enroll.IngressChange(c)
	}
	return c
}

// EnrollResult says what Enroll did, one record per object, in the stages
// of the work: the objects that could not be read, those the L7 policy
// guard refused, those whose waypoint could not be read to check it, the
// named ones that do not exist, and those written (or found as asked).
type EnrollResult struct {
	// None says nothing was selected: no object, none missing, no read failed.
	None bool

	ReadFailed []bulk.Record
	// Policies is the L7 policy guard's verdict; Refused its refused
	// objects' records, in the order of the objects.
	Policies policy.Verdict
	Refused  []bulk.Record
	// Checks are the checks of the waypoint (and of the canary) the
	// objects would use, with what they found; Classes the GatewayClasses
	// they read (some perhaps unread).
	Checks  []enroll.WaypointCheck
	Classes *mesh.Classes
	// Unchecked are the objects not written because their waypoint could
	// not be read to check it.
	Unchecked []bulk.Record
	Missing   []bulk.Record
	Written   []bulk.Record
	// IngressKept are the objects a plain unenroll changed that keep their
	// istio.io/ingress-use-waypoint label, which it does not remove.
	IngressKept []IngressNote
	// IngressFromNamespace are the objects whose own ingress label an
	// unenroll with Ingress removed while their namespace's label, which
	// now decides, still sends ingress traffic through their waypoint.
	IngressFromNamespace []IngressNote
}

// IngressNote is an istio.io/ingress-use-waypoint label that still has a
// say after a write: the object's own (IngressKept) or its namespace's
// (IngressFromNamespace).
type IngressNote struct {
	kube.Ref
	// Value is the label's value.
	Value string
	// Inherits is, for a service or ServiceEntry of IngressKept, the
	// waypoint its namespace's label names, which it may still use: the
	// label then still applies to it. Empty when the namespace names none:
	// the label does nothing until the object uses a waypoint again. A
	// namespace's label (IngressKept) still applies to the services and
	// ServiceEntries in it that name a waypoint themselves.
	Inherits string
}

// Records are every record, in the order of the stages.
func (r *EnrollResult) Records() []bulk.Record {
	var out []bulk.Record
	for _, stage := range [][]bulk.Record{r.ReadFailed, r.Refused, r.Unchecked, r.Missing, r.Written} {
		out = append(out, stage...)
	}
	return out
}

// CheckFailedError says the waypoint failed the checks that stop an
// unforced enrollment (not a waypoint, a traffic type that does not serve
// the kind, namespaces it does not admit); nothing was written.
type CheckFailedError struct {
	// Checks are the checks that failed (Result.Blocking()).
	Checks []enroll.WaypointCheck
}

func (e *CheckFailedError) Error() string {
	if len(e.Checks) == 1 {
		return fmt.Sprintf("waypoint %s does not fit the objects to enroll", e.Checks[0].Key)
	}
	return fmt.Sprintf("%d waypoints do not fit the objects to enroll", len(e.Checks))
}

// Enroll enrolls or unenrolls the objects of the request, patching only the
// enrollment labels, conditional on the labels as read. Before anything is
// written it runs the guards on the objects that would change: the L7
// policy guard (an object whose change would switch policies off is
// refused, unless Force) and, for an enrollment, the checks of the
// waypoint (a failure stops the call with a *CheckFailedError, unless
// Force). A failure of one object does not stop the others. The result
// holds what was done so far even when an error ends the call.
func Enroll(ctx context.Context, c *kube.Clients, req EnrollRequest) (*EnrollResult, error) {
	sel := enroll.SelectIn(ctx, c, req.Kind, req.Namespaces, req.Names, req.Selector, req.Concurrency)
	res := &EnrollResult{}
	for _, f := range sel.Failed {
		res.ReadFailed = append(res.ReadFailed, failed(bulk.Record{Ref: enroll.RefOf(req.Kind, f.Namespace, f.Name)}, f.Err))
	}
	if len(sel.Targets) == 0 && len(sel.Missing) == 0 && len(sel.Failed) == 0 {
		res.None = true
		return res, nil
	}
	targets := sel.Targets
	// The guards guard writes: when every object is already as asked,
	// there is nothing to check.
	var toChange []enroll.Target
	for _, t := range targets {
		if req.Change(t).NeededFor(t.Labels, t.Annotations) {
			toChange = append(toChange, t)
		}
	}
	if len(toChange) > 0 {
		var err error
		if targets, toChange, err = guardPolicies(ctx, c, req, res, targets, toChange); err != nil {
			return res, err
		}
	}
	if !req.Unenroll && req.Waypoint != istio.NoWaypoint && len(toChange) > 0 {
		unchecked, err := checkWaypoints(ctx, c, req, res, toChange, sel.NamespaceLabels)
		if err != nil {
			return res, err
		}
		// Targets whose waypoint could not be read are not written unchecked.
		var kept []enroll.Target
		for _, t := range targets {
			if err, ok := unchecked[t.Own()]; ok && req.Change(t).Needed(t.Labels) {
				res.Unchecked = append(res.Unchecked, failed(bulk.Record{Ref: t.Ref()}, err))
				continue
			}
			kept = append(kept, t)
		}
		targets = kept
	}
	for _, m := range sel.Missing {
		res.Missing = append(res.Missing, failed(bulk.Record{Ref: enroll.RefOf(req.Kind, m.Namespace, m.Name)}, notFound(req.Kind, m)))
	}
	progress := req.Progress
	if len(targets) < 2 {
		progress = nil
	}
	for _, out := range enroll.ChangeAll(ctx, c, targets, req.Change, req.DryRun, req.Concurrency, progress) {
		res.Written = append(res.Written, outcomeRecord(out, req.Unenroll))
		if out.Changed && req.Unenroll {
			noteIngress(res, req, out.Target, sel.NamespaceLabels[out.Target.Namespace])
		}
	}
	return res, nil
}

// noteIngress records what an unenrollment of t leaves of the ingress
// labels, from the labels as read (no request): the object's own label,
// kept by a plain unenroll, or its namespace's, which decides once
// unenroll --ingress removed the object's own.
func noteIngress(res *EnrollResult, req EnrollRequest, t enroll.Target, nsLabels map[string]string) {
	own, has := t.Labels[istio.LabelIngressUseWaypoint]
	switch {
	case !req.Ingress && has:
		n := IngressNote{Ref: t.Ref(), Value: own}
		if t.Kind != enroll.KindNamespace {
			after := req.Change(t).Apply(t.Labels)
			if u, _ := enroll.DecidingUse(after, nsLabels, t.Own()); u.Names() {
				n.Inherits = u.Key()
			}
		}
		res.IngressKept = append(res.IngressKept, n)
	case req.Ingress && t.Kind != enroll.KindNamespace && enroll.IngressUses(nil, nsLabels):
		res.IngressFromNamespace = append(res.IngressFromNamespace, IngressNote{Ref: t.Ref(), Value: nsLabels[istio.LabelIngressUseWaypoint]})
	}
}

// failed is rec failed with err; an interrupt makes it not started.
func failed(rec bulk.Record, err error) bulk.Record {
	if errors.Is(err, bulk.ErrInterrupted) {
		rec.Action = bulk.NotStarted
		return rec
	}
	rec.Action, rec.Error, rec.Err = bulk.Failed, err.Error(), err
	return rec
}

func notFound(kind enroll.Kind, m enroll.Missing) error {
	if kind == enroll.KindNamespace {
		return fmt.Errorf("namespace %q not found", m.Name)
	}
	return fmt.Errorf("%s %q not found in namespace %s", kind, m.Name, m.Namespace)
}

// outcomeRecord is the record of one written (or already right) target;
// ChangeAll's Before and After are never nil (enroll.EnrollmentLabels).
func outcomeRecord(out enroll.Outcome, unenroll bool) bulk.Record {
	rec := bulk.Record{Ref: out.Target.Ref(),
		Before: out.Before, After: out.After, Action: bulk.Unchanged}
	switch {
	case out.NotStarted:
		rec.Action = bulk.NotStarted
	case out.Err != nil:
		rec.Action, rec.Error, rec.Err = bulk.Failed, out.Err.Error(), out.Err
	case out.Changed && unenroll:
		rec.Action = bulk.Unenrolled
	case out.Changed:
		rec.Action = bulk.Enrolled
	}
	return rec
}

// guardPolicies runs the L7 policy guard on the targets that would change,
// records the refused ones, and returns the targets (all, and those to
// change) without them.
func guardPolicies(ctx context.Context, c *kube.Clients, req EnrollRequest, res *EnrollResult, targets, toChange []enroll.Target) (kept, keptToChange []enroll.Target, err error) {
	ch := req.PolicyChange(toChange)
	g := policy.Guard{Clients: c, Force: req.Force, Verb: req.Verb(), Scope: req.Namespaces}
	if res.Policies, err = g.Check(ctx, ch); err != nil {
		return nil, nil, err
	}
	refused := res.Policies.Refused
	if len(refused) == 0 {
		return targets, toChange, nil
	}
	for _, t := range toChange {
		if losses, ok := refused[policyObject(t)]; ok {
			res.Refused = append(res.Refused, policy.Refuse(bulk.Record{Ref: t.Ref(),
				Before: enroll.EnrollmentLabels(t.Labels)}, losses))
		}
	}
	keep := func(ts []enroll.Target) []enroll.Target {
		var out []enroll.Target
		for _, t := range ts {
			if _, ok := refused[policyObject(t)]; !ok {
				out = append(out, t)
			}
		}
		return out
	}
	return keep(targets), keep(toChange), nil
}

// policyObject is a target as a policy.Change names it; empty Kind for
// the kinds no L7 policy targets (pods, WorkloadEntries).
func policyObject(t enroll.Target) policy.Object {
	return policy.Object{Kind: policy.ChangeOf(t.Kind), Namespace: t.Namespace, Name: t.Name}
}

// PolicyChange is the change the request makes to the targets, for the L7
// policy guard: their labels after it, and in words.
func (req EnrollRequest) PolicyChange(targets []enroll.Target) policy.Change {
	ch := policy.Change{Labels: map[policy.Object]map[string]string{}, Before: map[policy.Object]map[string]string{}, Causes: map[policy.Object]string{}}
	for _, t := range targets {
		obj := policyObject(t)
		if obj.Kind == "" {
			continue
		}
		ch.Labels[obj], ch.Before[obj] = req.Change(t).Apply(t.Labels), t.Labels
		after := enroll.UseOf(ch.Labels[obj], t.Own())
		cause := t.String()
		switch {
		case req.Unenroll && req.Ingress:
			cause += " unlabeled " + istio.LabelIngressUseWaypoint
		case req.Unenroll:
			cause += " unenrolled"
		case after.None:
			cause += " opted out of waypoints"
		default:
			cause += " enrolled in waypoint " + after.String()
		}
		ch.Causes[obj] = cause
	}
	return ch
}

// checkWaypoints checks the waypoint (and the canary) the targets would
// use. It returns, by namespace of the targets, the faults that kept a
// waypoint from being read: those targets must not be written.
func checkWaypoints(ctx context.Context, c *kube.Clients, req EnrollRequest, res *EnrollResult, targets []enroll.Target, nsLabels map[string]map[string]string) (map[string]error, error) {
	res.Classes = mesh.NewClasses(c.Gateway)
	unchecked := map[string]error{}
	names := []string{req.Waypoint}
	if req.Canary != "" {
		names = append(names, req.Canary)
	}
	for _, name := range names {
		checks := enroll.CheckWaypoints(ctx, c, res.Classes, req.Kind, name, req.WaypointNamespace, targets, nsLabels, req.Concurrency)
		res.Checks = append(res.Checks, checks...)
		var blocking []enroll.WaypointCheck
		for _, g := range checks {
			if g.ReadErr != nil && !req.Force {
				// A check that cannot be made refuses the write.
				return nil, bulk.Unchecked(fmt.Errorf("cannot check waypoint %s: %w; nothing was changed; add --force to %s without the check", g.Key, g.ReadErr, req.Verb()), true)
			}
			if g.Err != nil {
				for ns := range g.Namespaces {
					unchecked[ns] = g.Err
				}
			}
			if g.Err == nil && g.ReadErr == nil && g.Result.Blocking() {
				blocking = append(blocking, g)
			}
		}
		if len(blocking) > 0 && !req.Force {
			return nil, &CheckFailedError{Checks: blocking}
		}
		if !req.Force {
			if err := refuseUnbinding(ctx, c, req, res.Classes, checks, targets); err != nil {
				return nil, err
			}
		}
	}
	return unchecked, nil
}

// WouldUnbindError refuses an enrollment that would move objects a
// waypoint serves now to a waypoint that does not exist; nothing was
// written. Elsewhere are the namespaces where a waypoint of that name
// exists and would take them.
type WouldUnbindError struct {
	Key       string
	Objects   []string
	Now       []string // the waypoints that serve them now, in order
	Elsewhere []string
}

func (e *WouldUnbindError) Error() string {
	msg := fmt.Sprintf("waypoint %s does not exist: enrolling into it would take %s off waypoint %s, which serves it now",
		e.Key, strings.Join(e.Objects, ", "), strings.Join(e.Now, ", "))
	if len(e.Elsewhere) > 0 {
		msg += fmt.Sprintf(" (did you mean --waypoint-namespace %s?)", strings.Join(e.Elsewhere, " or --waypoint-namespace "))
	}
	return msg + "; add --force to enroll anyway"
}

// refuseUnbinding refuses the enrollment when a waypoint to enroll into
// does not exist and a target that would use it is served by a waypoint
// now: that enrollment breaks what works (the object loses its waypoint's
// L7 processing). Enrolling ahead of a waypoint stays allowed for what uses
// none.
func refuseUnbinding(ctx context.Context, c *kube.Clients, req EnrollRequest, classes *mesh.Classes, checks []enroll.WaypointCheck, targets []enroll.Target) error {
	missing := map[string]bool{}
	for _, g := range checks {
		if g.Err == nil && g.ReadErr == nil && g.Result.Missing {
			missing[g.Key] = true
		}
	}
	if len(missing) == 0 {
		return nil
	}
	reader := enroll.NewReader(c)
	reader.Classes = classes
	for _, g := range checks {
		if !missing[g.Key] {
			continue
		}
		e := &WouldUnbindError{Key: g.Key}
		for _, t := range targets {
			ns := req.WaypointNamespace
			if ns == "" {
				ns = t.Own()
			}
			if ns+"/"+g.Name != g.Key {
				continue
			}
			now, err := reader.ResolveTarget(ctx, t)
			if err != nil {
				return err
			}
			if now.Uses && now.Waypoint != g.Key {
				e.Objects = append(e.Objects, t.Ref().String())
				if !slices.Contains(e.Now, now.Waypoint) {
					e.Now = append(e.Now, now.Waypoint)
				}
			}
		}
		if len(e.Objects) == 0 {
			continue
		}
		// A waypoint of that name elsewhere that would take them: one
		// list of the Gateways of that name across the cluster.
		var named *gatewayv1.GatewayList
		err := kube.Retry(ctx, func() (err error) {
			named, err = mesh.GatewaysNamed(ctx, c.Gateway, "", g.Name)
			return err
		})
		if err != nil && !apierrors.IsForbidden(err) {
			return kube.Describe("list gateways named "+g.Name, err)
		}
		for i := 0; named != nil && i < len(named.Items); i++ {
			gw := &named.Items[i]
			if gw.Name != g.Name || gw.Namespace == g.Namespace || !mesh.IsWaypointGateway(gw) {
				continue
			}
			w := classes.Parse(ctx, gw)
			if !enroll.Check(enroll.CheckInput{Kind: req.Kind, Waypoint: &w, Namespaces: g.Namespaces}).Blocking() {
				e.Elsewhere = append(e.Elsewhere, gw.Namespace)
			}
		}
		sort.Strings(e.Elsewhere)
		return e
	}
	return nil
}
