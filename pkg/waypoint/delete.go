package waypoint

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"
	"sync"

	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	gatewayv1 "sigs.k8s.io/gateway-api/apis/v1"

	"github.com/kubectl-waypoint/kubectl-waypoint/pkg/bulk"
	"github.com/kubectl-waypoint/kubectl-waypoint/pkg/enroll"
	"github.com/kubectl-waypoint/kubectl-waypoint/pkg/istio"
	"github.com/kubectl-waypoint/kubectl-waypoint/pkg/kube"
	"github.com/kubectl-waypoint/kubectl-waypoint/pkg/mesh"
	"github.com/kubectl-waypoint/kubectl-waypoint/pkg/policy"
)

// DeleteRequest chooses the waypoints to delete: by name in each of
// Namespaces, or all (optionally of one revision) in Namespaces or, when there
// are none, everywhere.
type DeleteRequest struct {
	Namespaces []string
	Names      []string
	All        bool
	Revision   string
	DryRun     kube.DryRun
	// IgnoreNotFound records a named waypoint that does not exist as
	// skipped rather than failed.
	IgnoreNotFound bool
	// Unenroll removes, before a waypoint is deleted, the enrollment labels
	// that name it; a waypoint whose users could not all be unenrolled is
	// left in place.
	Unenroll bool
	// UnenrollMissing (which implies Unenroll) also removes the labels
	// that name a waypoint that does not exist in the scope: left by an
	// earlier delete, or written ahead of their waypoint.
	UnenrollMissing bool
	// Concurrency bounds the requests in flight; 0 means bulk.DefaultConcurrency.
	Concurrency int
	// Progress, when set, is told how many deletes are done.
	Progress func(done, total int)
	// Force deletes the waypoints whose deletion would stop istiod
	// enforcing L7 policies; without it they are left alone and recorded
	// as refused.
	Force bool
}

// Record actions' messages that the command layer recognises.
const (
	// NotFoundMessage is the error of a named waypoint that does not exist.
	NotFoundMessage = "not found"
	// StillEnrolledPrefix starts the message of a resource left enrolled in
	// a deleted waypoint (without Unenroll).
	StillEnrolledPrefix = "still uses deleted waypoint "
	// MissingPrefix starts the message of a resource whose labels name a
	// waypoint that did not exist before the call (without UnenrollMissing).
	MissingPrefix = "names waypoint "
)

// DeleteResult says what Delete did, one record per object: Gateways
// deleted, refused, missing or failed, then the resources unenrolled (or
// left enrolled in a waypoint that is gone).
type DeleteResult struct {
	Records []bulk.Record
	// Enrolled are the resources left with labels that name a waypoint
	// that no longer exists.
	Enrolled []enroll.Resource
	// EnrolledUnknown says why Enrolled could not be looked for (without
	// Unenroll, that does not fail the delete).
	EnrolledUnknown error
	// Narrowed says the user may not read across the cluster, so only the
	// namespaces of the command were read (for gateways or for leftovers).
	Narrowed bool
	// Policies is the L7 policy guard's verdict; its Refused holds the
	// losses of each waypoint left alone (by policy.WaypointObject).
	Policies policy.Verdict
}

// Delete deletes waypoints, and only waypoints: a named Gateway of another
// class is refused. Every read comes before the first write: the Gateways,
// the L7 policy guard, and the resources enrolled in the waypoints to
// delete (with Unenroll, a search that cannot be made refuses the whole
// call). With Unenroll a waypoint's users are unenrolled before it is
// deleted, so an interrupted call is finished by running it again. Each
// delete is conditional on the UID it checked, so a Gateway replaced in
// between is never deleted by mistake.
func Delete(ctx context.Context, c *kube.Clients, req DeleteRequest) (*DeleteResult, error) {
	req.Unenroll = req.Unenroll || req.UnenrollMissing
	d := &deletion{req: req, c: c, res: &DeleteResult{}, existing: map[string]bool{}}
	targets := d.targets(ctx)
	if len(targets) > 0 {
		var err error
		if targets, err = d.guard(ctx, targets); err != nil {
			return nil, err
		}
	}
	d.targeted = map[string]bool{}
	for _, gw := range targets {
		d.targeted[gw.Namespace+"/"+gw.Name] = true
	}
	users, err := d.users(ctx)
	if err != nil {
		return nil, err
	}
	if req.Unenroll {
		targets = d.unenrollAll(ctx, users, targets)
	}
	d.deleteAll(ctx, targets)
	if !req.Unenroll {
		d.stillEnrolled(users)
	}
	d.res.Records = bulk.NewReport(d.rec.Records()).Records
	return d.res, nil
}

// guard runs the L7 policy guard on the deletion of gws, one check for all
// of them, records the waypoints it refuses and returns the others.
func (d *deletion) guard(ctx context.Context, gws []*gatewayv1.Gateway) ([]*gatewayv1.Gateway, error) {
	keys := make([]string, len(gws))
	for i, gw := range gws {
		keys[i] = gw.Namespace + "/" + gw.Name
	}
	g := policy.Guard{Clients: d.c, Force: d.req.Force, Verb: "delete", Scope: d.req.Namespaces}
	v, err := g.Check(ctx, DeleteChange(keys))
	if err != nil {
		return nil, err
	}
	d.res.Policies = v
	kept := make([]*gatewayv1.Gateway, 0, len(gws))
	for _, gw := range gws {
		if losses, ok := v.Refused[policy.WaypointObject(gw.Namespace+"/"+gw.Name)]; ok {
			d.rec.Add(policy.Refuse(gatewayRecord(gw.Namespace, gw.Name), losses))
			continue
		}
		kept = append(kept, gw)
	}
	return kept, nil
}

// DeleteChange is the deletion of the waypoints namespace/name, for the L7
// policy guard.
func DeleteChange(keys []string) policy.Change {
	ch := policy.Change{Waypoints: map[string]*mesh.Waypoint{}, Causes: map[policy.Object]string{}}
	for _, key := range keys {
		ch.Waypoints[key] = nil
		ch.Causes[policy.WaypointObject(key)] = "waypoint " + key + " deleted"
	}
	return ch
}

// deletion is the state of one Delete.
type deletion struct {
	req DeleteRequest
	c   *kube.Clients
	res *DeleteResult
	rec bulk.Recorder

	mu sync.Mutex
	// existing holds the keys of the Gateways (of any class) that exist in
	// the scope, as read; gone those that were deleted or found missing.
	existing map[string]bool
	gone     []string
	// unread are the namespaces whose Gateways could not be read.
	unread map[string]bool
	// targeted are the keys of the waypoints to delete, after the guard.
	targeted map[string]bool
}

// gatewayRef and namespaceRef are the references of the objects of
// apply and delete; gatewayRecord and namespaceRecord their records, the
// action still to be set.
func gatewayRef(ns, name string) kube.Ref {
	return kube.Ref{Kind: "Gateway", Namespace: ns, Name: name}
}
func namespaceRef(name string) kube.Ref { return kube.Ref{Kind: "Namespace", Name: name} }

func gatewayRecord(ns, name string) bulk.Record { return bulk.Record{Ref: gatewayRef(ns, name)} }
func namespaceRecord(name string) bulk.Record   { return bulk.Record{Ref: namespaceRef(name)} }

// targets reads the waypoints to delete and records what it refuses.
func (d *deletion) targets(ctx context.Context) []*gatewayv1.Gateway {
	if len(d.req.Names) > 0 {
		return d.named(ctx)
	}
	opts := ListOptions{}
	if d.req.Revision != "" {
		opts.LabelSelector = istio.LabelRev + "=" + d.req.Revision
	}
	inScope := map[string]bool{}
	for _, ns := range d.req.Namespaces {
		inScope[ns] = true
	}
	// Every Gateway is read, to know which names still exist; those of the
	// revision (or all) that are waypoints are the targets.
	var targets []*gatewayv1.Gateway
	read := ReadScope(ctx, d.req.Namespaces, d.req.Concurrency, func(ctx context.Context, ns string) error {
		var found []*gatewayv1.Gateway
		existing := map[string]bool{}
		_, err := EachGateway(ctx, d.c.Gateway, ListOptions{Namespace: ns}, func(gw *gatewayv1.Gateway) {
			if len(inScope) > 0 && !inScope[gw.Namespace] {
				return
			}
			existing[gw.Namespace+"/"+gw.Name] = true
			if mesh.IsWaypointGateway(gw) && (opts.LabelSelector == "" || gw.Labels[istio.LabelRev] == d.req.Revision) {
				found = append(found, gw.DeepCopy())
			}
		})
		if err != nil {
			return err
		}
		d.mu.Lock()
		defer d.mu.Unlock()
		targets = append(targets, found...)
		for k := range existing {
			d.existing[k] = true
		}
		return nil
	})
	d.res.Narrowed = d.res.Narrowed || read.Narrowed
	d.unread = map[string]bool{}
	for ns, err := range read.Failed {
		d.unread[ns] = true
		what := "list gateways"
		if ns != "" {
			what += " in namespace " + ns
		}
		d.rec.Fail(gatewayRecord(ns, ""), kube.Describe(what, err))
	}
	slices.SortFunc(targets, func(a, b *gatewayv1.Gateway) int {
		return strings.Compare(a.Namespace+"/"+a.Name, b.Namespace+"/"+b.Name)
	})
	return targets
}

// named reads each named Gateway in each namespace, concurrency at a time.
func (d *deletion) named(ctx context.Context) []*gatewayv1.Gateway {
	type ref struct{ ns, name string }
	var refs []ref
	for _, ns := range d.req.Namespaces {
		for _, name := range d.req.Names {
			refs = append(refs, ref{ns, name})
		}
	}
	found := make([]*gatewayv1.Gateway, len(refs))
	started := bulk.ForEach(ctx, len(refs), d.req.Concurrency, func(ctx context.Context, i int) {
		r := refs[i]
		rec := gatewayRecord(r.ns, r.name)
		gw, err := mesh.GetGateway(ctx, d.c.Gateway, r.ns, r.name)
		switch {
		case apierrors.IsNotFound(err) && !kube.IsMissingType(err):
			d.notFound(rec)
		case err != nil:
			d.rec.Fail(rec, kube.Describe("read gateway "+r.ns+"/"+r.name, err))
		case !mesh.IsWaypointGateway(gw):
			d.rec.Fail(rec, fmt.Errorf("gateway %s/%s is not a waypoint (class %q); refusing to delete it", r.ns, r.name, gw.Spec.GatewayClassName))
		default:
			found[i] = gw
		}
	}, nil)
	for _, r := range refs[started:] {
		d.rec.Add(bulk.Record{Ref: gatewayRef(r.ns, r.name), Action: bulk.NotStarted})
	}
	var out []*gatewayv1.Gateway
	for _, gw := range found {
		if gw != nil {
			out = append(out, gw)
		}
	}
	return out
}

// notFound records a named waypoint that does not exist.
func (d *deletion) notFound(rec bulk.Record) {
	d.markGone(rec.Namespace + "/" + rec.Name)
	rec.Action, rec.Error = bulk.Failed, NotFoundMessage
	if d.req.IgnoreNotFound {
		rec.Action = bulk.Skipped
	}
	d.rec.Add(rec)
}

func (d *deletion) markGone(key string) {
	d.mu.Lock()
	defer d.mu.Unlock()
	d.gone = append(d.gone, key)
	delete(d.existing, key)
}

// deleteAll deletes the targets, each on the condition of its UID. A delete
// whose answer was lost and that then finds nothing counts as done.
func (d *deletion) deleteAll(ctx context.Context, targets []*gatewayv1.Gateway) {
	started := bulk.ForEach(ctx, len(targets), d.req.Concurrency, func(ctx context.Context, i int) {
		gw := targets[i]
		rec := gatewayRecord(gw.Namespace, gw.Name)
		key := gw.Namespace + "/" + gw.Name
		var err error
		lost := false
		if d.req.DryRun != kube.DryRunClient {
			uid := gw.UID
			lost, err = kube.RetryTracked(ctx, func() error {
				return d.c.Gateway.GatewayV1().Gateways(gw.Namespace).Delete(ctx, gw.Name, metav1.DeleteOptions{
					Preconditions: &metav1.Preconditions{UID: &uid},
					DryRun:        d.req.DryRun.Server(),
				})
			})
		}
		switch {
		case err == nil, apierrors.IsNotFound(err) && lost:
			rec.Action = bulk.Deleted
			d.markGone(key)
			d.rec.Add(rec)
			d.deleteParameters(ctx, gw)
		case apierrors.IsNotFound(err):
			if len(d.req.Names) > 0 {
				d.notFound(rec)
				return
			}
			d.markGone(key)
			rec.Action, rec.Error = bulk.Skipped, "already deleted by someone else"
			d.rec.Add(rec)
		case apierrors.IsConflict(err):
			d.rec.Fail(rec, fmt.Errorf("did not delete waypoint %s: it was replaced by a new object of the same name since it was read; left alone", key))
		default:
			d.rec.Fail(rec, kube.Describe("delete waypoint "+key, err))
		}
	}, d.req.Progress)
	for _, gw := range targets[started:] {
		d.rec.Add(bulk.Record{Ref: gatewayRef(gw.Namespace, gw.Name), Action: bulk.NotStarted})
	}
}

// deleteParameters removes, after its waypoint, the parameters ConfigMap
// the waypoint names when the tool made it; one of the user's stays, and
// nothing is read for a waypoint that names none.
func (d *deletion) deleteParameters(ctx context.Context, gw *gatewayv1.Gateway) {
	name := parametersOf(gw)
	if name == "" {
		return
	}
	rec := bulk.Record{Ref: kube.Ref{Kind: "ConfigMap", Namespace: gw.Namespace, Name: name}}
	deleted, err := removeParameters(ctx, d.c, gw.Namespace, name, nil, d.req.DryRun)
	switch {
	case err != nil:
		d.rec.Fail(rec, err)
	case deleted != nil:
		rec.Action = bulk.Deleted
		d.rec.Add(rec)
	}
}

// missing says whether a waypoint key names a waypoint, in the scope of
// the request, that did not exist when the call read it: a named one not
// found, or for --all/--revision one absent from a namespace read whole.
func (d *deletion) missing(key string) bool {
	d.mu.Lock()
	defer d.mu.Unlock()
	if slices.Contains(d.gone, key) {
		return true
	}
	ns, name, _ := strings.Cut(key, "/")
	if len(d.req.Names) > 0 {
		return false // named: only those found missing are in scope
	}
	if d.unread[ns] || d.unread[""] || d.existing[key] || name == "" {
		return false
	}
	return len(d.req.Namespaces) == 0 || slices.Contains(d.req.Namespaces, ns)
}

// users finds, before anything is written, the resources whose labels name
// a waypoint to delete or one missing from the scope. With Unenroll a
// search that fails refuses the call (nothing is written); without, it
// only leaves EnrolledUnknown.
func (d *deletion) users(ctx context.Context) ([]enroll.Resource, error) {
	var names []string
	if len(d.req.Names) > 0 {
		names = d.req.Names
	}
	match := func(key string) bool { return d.targeted[key] || d.missing(key) }
	found, failed, narrowed := enroll.FindEnrolled(ctx, d.c, names, d.req.Namespaces, d.req.Concurrency, match)
	d.res.Narrowed = d.res.Narrowed || narrowed
	if len(failed) == 0 {
		return found, nil
	}
	if !d.req.Unenroll {
		d.res.EnrolledUnknown = oneLine(failed)
		return nil, nil
	}
	forbidden := false
	for _, err := range failed {
		var lf *enroll.ListFailure
		forbidden = forbidden || errors.As(err, &lf) && lf.Forbidden
	}
	return nil, bulk.Unchecked(fmt.Errorf("%w; nothing was deleted or unenrolled; run without --unenroll to delete and leave their labels", oneLine(failed)), forbidden)
}

// oneLine joins errors as errors.Join does, but on one line, "; " between
// them: the tool prints every error and warning as one line.
type oneLine []error

func (e oneLine) Error() string {
	msgs := make([]string, len(e))
	for i, err := range e {
		msgs[i] = err.Error()
	}
	return strings.Join(msgs, "; ")
}

// Unwrap lets errors.Is and errors.As see each error joined.
func (e oneLine) Unwrap() []error { return e }

// unenrollAll removes the labels of the users of the waypoints to delete
// (and with UnenrollMissing of the missing ones), each on the condition
// that they still hold what was read, and returns the waypoints to delete
// now: those whose users are all unenrolled. A waypoint is never deleted
// while a label it could not remove still names it.
func (d *deletion) unenrollAll(ctx context.Context, users []enroll.Resource, targets []*gatewayv1.Gateway) []*gatewayv1.Gateway {
	var todo []enroll.Resource
	for _, r := range users {
		key := r.WaypointKey()
		if !d.targeted[key] && !d.req.UnenrollMissing {
			d.leave(r, MissingPrefix+key+", which does not exist; add --unenroll-missing to remove its labels")
			continue
		}
		todo = append(todo, r)
	}
	var mu sync.Mutex
	blocked := map[string]int{}
	block := func(r enroll.Resource) {
		mu.Lock()
		defer mu.Unlock()
		blocked[r.WaypointKey()]++
	}
	started := bulk.ForEach(ctx, len(todo), d.req.Concurrency, func(ctx context.Context, i int) {
		r := todo[i]
		rec := bulk.Record{Ref: r.Ref(), Before: r.Labels()}
		out, err := r.UnenrollWrite(d.req.DryRun).Do(ctx, d.c)
		switch {
		case apierrors.IsNotFound(err) && !kube.IsMissingType(err):
			rec.Action, rec.Error = bulk.Skipped, "no longer exists"
			d.rec.Add(rec)
		case err != nil:
			block(r)
			d.rec.Fail(rec, describeUnenroll(r, err))
		case out.Changed:
			rec.Action, rec.After = bulk.Unenrolled, enroll.EnrollmentLabels(out.Labels)
			d.rec.Add(rec)
		default:
			rec.Action, rec.After = bulk.Unchanged, enroll.EnrollmentLabels(out.Labels)
			d.rec.Add(rec)
		}
	}, nil)
	for _, r := range todo[started:] {
		block(r)
		d.rec.Add(bulk.Record{Ref: r.Ref(), Action: bulk.NotStarted, Before: r.Labels()})
	}
	kept := targets[:0:0]
	for _, gw := range targets {
		key := gw.Namespace + "/" + gw.Name
		switch n := blocked[key]; {
		case n == 0:
			kept = append(kept, gw)
		case bulk.Stopped(ctx):
			d.rec.Add(bulk.Record{Ref: gatewayRef(gw.Namespace, gw.Name), Action: bulk.NotStarted})
		default:
			rec := gatewayRecord(gw.Namespace, gw.Name)
			rec.Action, rec.Error = bulk.Skipped, fmt.Sprintf("not deleted: %d resources enrolled in it could not be unenrolled", n)
			d.rec.Add(rec)
		}
	}
	return kept
}

// stillEnrolled records, without Unenroll, the users left naming a
// waypoint that is gone: one this call deleted, or one missing before it.
func (d *deletion) stillEnrolled(users []enroll.Resource) {
	d.mu.Lock()
	gone := slices.Clone(d.gone)
	d.mu.Unlock()
	for _, r := range users {
		key := r.WaypointKey()
		switch {
		case slices.Contains(gone, key) && d.targeted[key]:
			d.leave(r, StillEnrolledPrefix+key+"; remove its labels, or delete with --unenroll-missing")
		case !d.targeted[key]:
			d.leave(r, MissingPrefix+key+", which does not exist; remove its labels, or delete with --unenroll-missing")
		}
	}
}

// leave records a resource whose labels name a waypoint that is gone, and
// left as it is.
func (d *deletion) leave(r enroll.Resource, why string) {
	d.res.Enrolled = append(d.res.Enrolled, r)
	d.rec.Add(bulk.Record{Ref: r.Ref(), Action: bulk.Skipped, Before: r.Labels(), Error: why})
}

func describeUnenroll(r enroll.Resource, err error) error {
	what := "unenroll " + string(r.Kind) + " " + r.Name
	if r.Namespace != "" {
		what = "unenroll " + string(r.Kind) + " " + r.Namespace + "/" + r.Name
	}
	if errors.Is(err, enroll.ErrChangedSince) {
		return fmt.Errorf("did not %s: %w", what, enroll.ErrChangedSince)
	}
	return kube.Describe(what, err)
}
