package waypoint

import (
	"context"
	"errors"
	"fmt"
	"sort"
	"strings"
	"sync"
	"time"

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	gatewayv1 "sigs.k8s.io/gateway-api/apis/v1"

	"github.com/kubectl-waypoint/kubectl-waypoint/pkg/bulk"
	"github.com/kubectl-waypoint/kubectl-waypoint/pkg/istio"
	"github.com/kubectl-waypoint/kubectl-waypoint/pkg/kube"
	"github.com/kubectl-waypoint/kubectl-waypoint/pkg/mesh"
)

// ApplyManyRequest applies one rendered waypoint per namespace.
type ApplyManyRequest struct {
	// Gateways are the rendered waypoints, one per namespace, all of one name.
	Gateways []*gatewayv1.Gateway
	// Parameters are their parameters ConfigMaps, index by index (nil, or
	// a nil entry, for none).
	Parameters []*corev1.ConfigMap
	// ForceConflicts takes over the fields other managers own.
	ForceConflicts bool
	// Force applies even when users of the existing waypoints would be
	// cut off or L7 policies would no longer be enforced (see GuardUsers).
	Force           bool
	DryRun          kube.DryRun
	EnrollNamespace bool
	Overwrite       bool
	// Wait, when positive, waits that long for every waypoint to be ready
	// (one watch) and enrolls each namespace only once its waypoint is.
	Wait time.Duration
	// Concurrency bounds the namespaces worked on at once.
	Concurrency int
	// NamespaceSelector chose the namespaces, if a selector did; with it the
	// namespaces are read in one list.
	NamespaceSelector string
	// Namespaces, when not nil, are the namespaces already read (by the
	// list that resolved the selector), by name: no second list. A
	// namespace missing from it is reported as not found.
	Namespaces map[string]*corev1.Namespace
	// KnowPrevious reads the existing Gateways first (one list), so that the
	// records tell configured from unchanged.
	KnowPrevious bool
	Events       ApplyManyEvents
}

// ApplyManyEvents are told what happens as it happens, from several
// goroutines; each may be nil.
type ApplyManyEvents struct {
	// Guarded hears what the guard found, before anything is written (also
	// when it refuses the apply).
	Guarded func(UsersVerdict)
	// NoWaypointClass hears, before anything is written, that the
	// GatewayClass of waypoints does not exist.
	NoWaypointClass func()
	// Applied hears each Gateway applied, with the action its record gets
	// (created, configured or unchanged).
	Applied func(gw *gatewayv1.Gateway, action bulk.Action)
	// Parameters hears what happened to a waypoint's parameters
	// ConfigMap: created, configured, unchanged or deleted.
	Parameters func(cm *corev1.ConfigMap, action bulk.Action)
	// Stale hears each autoscaler or budget that istiod made for an
	// overlay the apply dropped, and keeps.
	Stale      func(ref kube.Ref)
	NotAmbient func(namespace string)
	Enrolled   func(gw *gatewayv1.Gateway, changed bool)
	Ready      func(key string)
	Failed     func(err error)
	// ApplyProgress and EnrollProgress hear how many are done.
	ApplyProgress, EnrollProgress func(done, total int)
}

// ApplyManyResult says what ApplyMany did, object by object.
type ApplyManyResult struct {
	Records []bulk.Record
	// Applied are the Gateways as the server returned them (as rendered for a
	// client dry run), kept only for a client dry run, which prints them,
	// and for a wait: a record is all the rest needs, and a whole Gateway
	// per namespace would make memory grow with the namespaces.
	Applied []*gatewayv1.Gateway
	// Parameters are the parameters ConfigMaps written, kept as Applied.
	Parameters []*corev1.ConfigMap
}

// WaitTimeoutError says which waypoints were not ready when the wait ended;
// their namespaces were not enrolled.
type WaitTimeoutError struct {
	Timeout  time.Duration
	NotReady []string // "namespace/name (reason)"
	Total    int
}

func (e *WaitTimeoutError) Error() string {
	if e.Total == 1 && len(e.NotReady) == 1 {
		return fmt.Sprintf("timed out after %s waiting for waypoint %s to be ready", e.Timeout, e.NotReady[0])
	}
	named := e.NotReady
	more := ""
	if len(named) > maxNamedNotReady {
		named = named[:maxNamedNotReady]
		more = fmt.Sprintf(" and %d more (status shows each)", len(e.NotReady)-maxNamedNotReady)
	}
	return fmt.Sprintf("timed out after %s: %d of %d waypoints not ready: %s%s", e.Timeout, len(e.NotReady), e.Total, strings.Join(named, ", "), more)
}

// maxNamedNotReady is how many waypoints a wait's timeout names: the line
// stays one line at any scale.
const maxNamedNotReady = 5

// ApplyMany applies the waypoints with bounded concurrency and, when asked,
// waits for them and enrolls their namespaces. First GuardUsers refuses
// the whole apply (nothing written) when it would cut off users of the
// existing waypoints, unless Force. A failure of one namespace is
// recorded (with its error in Record.Err) and does not stop the others; the
// returned error is for the call as a whole: a read it needed, or a
// *WaitTimeoutError.
func ApplyMany(ctx context.Context, c *kube.Clients, req ApplyManyRequest) (*ApplyManyResult, error) {
	run := &applyMany{req: req, c: c, pending: map[string]*ApplyResult{}}
	namespaces := make([]string, len(req.Gateways))
	for i, gw := range req.Gateways {
		namespaces[i] = gw.Namespace
	}
	users, err := GuardUsers(ctx, c, req.Gateways, namespaces, req.Force)
	if req.Events.Guarded != nil {
		req.Events.Guarded(users)
	}
	if err != nil {
		return nil, err
	}
	if req.DryRun != kube.DryRunClient && len(req.Gateways) > 0 {
		class := string(req.Gateways[0].Spec.GatewayClassName)
		if !waypointClassExists(ctx, c, class) {
			if class != istio.ClassWaypoint {
				// Asked for by name: nothing would ever deploy it.
				return nil, &NoClassError{Class: class}
			}
			if req.Events.NoWaypointClass != nil {
				req.Events.NoWaypointClass()
			}
		}
	}
	nsObjects := req.Namespaces
	if nsObjects == nil && len(namespaces) > 1 && req.EnrollNamespace {
		// Without it (no right to list, or the list failed) each apply
		// reads its own namespace.
		nsObjects, _ = Namespaces(ctx, c.Kube, namespaces, req.NamespaceSelector)
	}
	previous := map[string]string{}
	var unread ScopeRead
	if req.KnowPrevious && len(req.Gateways) > 0 {
		previous, unread = Contents(ctx, c.Gateway, namespaces, req.Gateways[0].Name, req.Concurrency)
	}
	run.existing = users.Existing
	started := bulk.ForEach(ctx, len(req.Gateways), req.Concurrency, func(ctx context.Context, i int) {
		gw := req.Gateways[i]
		if class, ok := users.Foreign[gw.Namespace]; ok {
			run.otherClass(gw, class)
			return
		}
		err := unread.Failed[gw.Namespace]
		if err == nil {
			err = unread.Err()
		}
		if err != nil && !kube.IsMissingType(err) { // the apply says the CRDs are missing
			r := gatewayRecord(gw.Namespace, gw.Name)
			run.fail(r, kube.Describe("read gateway "+gw.Namespace+"/"+gw.Name+" before applying it", err))
			run.notEnrolled(gw.Namespace, bulk.Skipped)
			return
		}
		var params *corev1.ConfigMap
		if i < len(req.Parameters) {
			params = req.Parameters[i]
		}
		run.applyOne(ctx, gw, params, previous[gw.Namespace], nsObjects)
	}, req.Events.ApplyProgress)
	for _, gw := range req.Gateways[started:] {
		run.record(bulk.Record{Ref: gatewayRef(gw.Namespace, gw.Name), Action: bulk.NotStarted})
		run.notEnrolled(gw.Namespace, bulk.NotStarted)
	}

	if req.Wait > 0 && req.DryRun == kube.DryRunNone {
		err = run.waitAll(ctx, namespaces)
		run.enrollPending(ctx)
	}
	sort.Slice(run.applied, func(i, j int) bool { return run.applied[i].Namespace < run.applied[j].Namespace })
	sort.Slice(run.parameters, func(i, j int) bool { return run.parameters[i].Namespace < run.parameters[j].Namespace })
	return &ApplyManyResult{Records: run.records, Applied: run.applied, Parameters: run.parameters}, err
}

// applyMany is the state of one ApplyMany.
type applyMany struct {
	req     ApplyManyRequest
	c       *kube.Clients
	mu      sync.Mutex
	records []bulk.Record
	pending map[string]*ApplyResult // namespace → result awaiting enrollment
	applied []*gatewayv1.Gateway
	// existing are the waypoints as the guard read them, by namespace.
	existing map[string]*gatewayv1.Gateway
	// parameters are the ConfigMaps written, kept as applied is.
	parameters []*corev1.ConfigMap
}

func (r *applyMany) record(rec bulk.Record) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.records = append(r.records, rec)
}

// fail records a failed object and tells the caller.
func (r *applyMany) fail(rec bulk.Record, err error) {
	rec.Action, rec.Error, rec.Err = bulk.Failed, err.Error(), err
	r.record(rec)
	if r.req.Events.Failed != nil {
		r.req.Events.Failed(err)
	}
}

// otherClass records a namespace whose Gateway of the waypoint's name is
// of another class: nothing is written there, its Gateway record fails
// naming the class, and its namespace, when it was to be enrolled, is
// skipped.
func (r *applyMany) otherClass(gw *gatewayv1.Gateway, class string) {
	err := &OtherClassError{Namespace: gw.Namespace, Name: gw.Name, Class: class}
	r.fail(gatewayRecord(gw.Namespace, gw.Name), err)
	if r.req.EnrollNamespace {
		r.record(bulk.Record{Ref: namespaceRef(gw.Namespace), Action: bulk.Skipped,
			Error: fmt.Sprintf("not enrolled: gateway %s/%s is of class %q, not a waypoint", gw.Namespace, gw.Name, class)})
	}
}

func (r *applyMany) applyOne(ctx context.Context, gw *gatewayv1.Gateway, params *corev1.ConfigMap, previous string, namespaces map[string]*corev1.Namespace) {
	ev := r.req.Events
	rec := gatewayRecord(gw.Namespace, gw.Name)
	if namespaces != nil && namespaces[gw.Namespace] == nil {
		r.fail(rec, namespaceNotFound(gw.Namespace))
		return
	}
	res, err := Apply(ctx, r.c, ApplyRequest{
		Gateway:         gw,
		Force:           r.req.ForceConflicts,
		DryRun:          r.req.DryRun,
		EnrollNamespace: r.req.EnrollNamespace,
		Overwrite:       r.req.Overwrite,
		DeferEnroll:     r.req.Wait > 0 && r.req.DryRun == kube.DryRunNone,
		Previous:        previous,
		PreviousKnown:   r.req.KnowPrevious,
		Namespace:       namespaces[gw.Namespace],
		Parameters:      params,
		Existing:        r.existing[gw.Namespace],
		OnApplied: func(res *ApplyResult) {
			if ev.Applied != nil {
				ev.Applied(res.Gateway, gatewayAction(res))
			}
		},
	})
	var elsewhere *EnrolledElsewhereError
	applied := res != nil && res.Gateway != nil
	switch {
	case errors.As(err, &elsewhere) && !applied:
		// Neither is written: the Gateway is skipped, the namespace fails.
		rec.Action, rec.Error = bulk.Skipped, "not applied: "+err.Error()
		r.record(rec)
		r.fail(namespaceRecord(gw.Namespace), err)
		return
	case errors.Is(err, ErrNamespaceNotFound):
		err = namespaceNotFound(gw.Namespace)
	}
	if res != nil {
		r.recordParameters(res)
	}
	if err != nil && applied {
		// The Gateway was applied; labelling the namespace failed.
		rec.Action = gatewayAction(res)
		r.record(rec)
		rec = namespaceRecord(gw.Namespace)
	}
	if err != nil {
		r.fail(rec, err)
		if !applied {
			r.notEnrolled(gw.Namespace, bulk.Skipped)
		}
		return
	}
	rec.Action = gatewayAction(res)
	r.mu.Lock()
	r.records = append(r.records, rec)
	if r.keepApplied() {
		r.applied = append(r.applied, res.Gateway)
		if res.Parameters != nil && res.ParametersAction != bulk.Deleted {
			r.parameters = append(r.parameters, res.Parameters)
		}
	}
	r.mu.Unlock()
	if !r.req.EnrollNamespace {
		return
	}
	if !res.NamespaceAmbient && ev.NotAmbient != nil {
		ev.NotAmbient(gw.Namespace)
	}
	if res.PendingEnroll != nil {
		r.mu.Lock()
		r.pending[gw.Namespace] = res
		r.mu.Unlock()
		return
	}
	r.recordEnrolled(res.Gateway, res.Enrolled)
}

// recordParameters records what the apply did to the waypoint's parameters
// ConfigMap, when it did anything.
func (r *applyMany) recordParameters(res *ApplyResult) {
	defer func() {
		for _, ref := range res.Stale {
			if r.req.Events.Stale != nil {
				r.req.Events.Stale(ref)
			}
		}
	}()
	cm := res.Parameters
	if cm == nil {
		return
	}
	rec := bulk.Record{Ref: kube.Ref{Kind: "ConfigMap", Namespace: cm.Namespace, Name: cm.Name}, Action: res.ParametersAction}
	if res.ParametersErr != nil {
		r.fail(rec, res.ParametersErr)
		return
	}
	r.record(rec)
	if r.req.Events.Parameters != nil {
		r.req.Events.Parameters(cm, res.ParametersAction)
	}
}

// notEnrolled records, with EnrollNamespace, the namespace of a waypoint
// that was not applied: skipped, or not started when the call was
// interrupted first. Every object the call was about has its record.
func (r *applyMany) notEnrolled(ns string, action bulk.Action) {
	if !r.req.EnrollNamespace {
		return
	}
	rec := bulk.Record{Ref: namespaceRef(ns), Action: action}
	if action == bulk.Skipped {
		rec.Error = "not enrolled: its waypoint was not applied"
	}
	r.record(rec)
}

// keepApplied says whether the applied Gateways are needed after their
// apply: to print them (client dry run) or to wait for them.
func (r *applyMany) keepApplied() bool {
	return r.req.DryRun == kube.DryRunClient || (r.req.Wait > 0 && r.req.DryRun == kube.DryRunNone)
}

func namespaceNotFound(ns string) error {
	return fmt.Errorf("namespace %q not found; create it first, or pick another with -n", ns)
}

func gatewayAction(res *ApplyResult) bulk.Action {
	switch {
	case res.Created:
		return bulk.Created
	case res.Unchanged:
		return bulk.Unchanged
	}
	return bulk.Configured
}

func (r *applyMany) recordEnrolled(gw *gatewayv1.Gateway, changed bool) {
	action := bulk.Enrolled
	if !changed {
		action = bulk.Unchanged
	}
	r.record(bulk.Record{Ref: namespaceRef(gw.Namespace), Action: action})
	if r.req.Events.Enrolled != nil {
		r.req.Events.Enrolled(gw, changed)
	}
}

// waitAll waits for every applied waypoint; the namespaces of those that are
// not ready at the end are recorded as skipped and not enrolled.
func (r *applyMany) waitAll(ctx context.Context, namespaces []string) error {
	waiting := map[string]*mesh.Waypoint{}
	for _, gw := range r.applied {
		w := mesh.Parse(gw, nil)
		waiting[w.Key()] = &w
	}
	if len(waiting) == 0 {
		return nil
	}
	wctx, cancel := context.WithTimeout(ctx, r.req.Wait)
	defer cancel()
	wctx, cancelOnStop := bulk.UntilStopped(wctx)
	defer cancelOnStop()
	err := WaitNamed(wctx, r.c.Gateway, namespaces, r.req.Gateways[0].Name, waiting)
	keys := make([]string, 0, len(waiting))
	for key := range waiting {
		keys = append(keys, key)
	}
	sort.Strings(keys)
	var notReady []string
	for _, key := range keys {
		w := waiting[key]
		if w.Ready() {
			if r.req.Events.Ready != nil {
				r.req.Events.Ready(key)
			}
			continue
		}
		notReady = append(notReady, key+" ("+w.NotReadyReason()+")")
		if _, ok := r.pending[w.Namespace]; ok {
			delete(r.pending, w.Namespace)
			rec := bulk.Record{Ref: namespaceRef(w.Namespace), Action: bulk.Skipped, Error: "waypoint not ready; namespace not enrolled"}
			if bulk.Stopped(ctx) {
				rec.Action, rec.Error = bulk.NotStarted, "interrupted while waiting for the waypoint"
			}
			r.record(rec)
		}
	}
	switch {
	case bulk.Stopped(ctx):
		return nil
	case errors.Is(err, context.DeadlineExceeded):
		return &WaitTimeoutError{Timeout: r.req.Wait, NotReady: notReady, Total: len(waiting)}
	case err != nil:
		return kube.Describe("watch waypoints", err)
	}
	return nil
}

// enrollPending writes the namespace labels that waited for readiness.
func (r *applyMany) enrollPending(ctx context.Context) {
	list := make([]*ApplyResult, 0, len(r.pending))
	for _, res := range r.pending {
		list = append(list, res)
	}
	sort.Slice(list, func(i, j int) bool { return list[i].Gateway.Namespace < list[j].Gateway.Namespace })
	started := bulk.ForEach(ctx, len(list), r.req.Concurrency, func(ctx context.Context, i int) {
		gw := list[i].Gateway
		changed, err := EnrollNamespace(ctx, r.c, list[i].PendingEnroll)
		if err != nil {
			r.fail(namespaceRecord(gw.Namespace), err)
			return
		}
		r.recordEnrolled(gw, changed)
	}, r.req.Events.EnrollProgress)
	for _, res := range list[started:] {
		r.record(bulk.Record{Ref: namespaceRef(res.Gateway.Namespace), Action: bulk.NotStarted})
	}
}

// NoClassError refuses a waypoint of a class other than istio-waypoint
// that the cluster does not have: istiod creates the classes it serves, so
// nothing would deploy it. Nothing was written.
type NoClassError struct{ Class string }

func (e *NoClassError) Error() string {
	if e.Class == istio.ClassAgentgatewayWaypoint {
		return fmt.Sprintf("GatewayClass %s does not exist: istiod serves it only when its agentgateway support is on (PILOT_ENABLE_AGENTGATEWAY); nothing was applied", e.Class)
	}
	return fmt.Sprintf("GatewayClass %s does not exist; nothing was applied", e.Class)
}

// waypointClassExists says whether the GatewayClass of waypoints exists:
// istiod creates it, so without it nothing deploys a waypoint. A class that
// cannot be read (RBAC, no Gateway API) counts as existing: apply itself
// says what is missing.
func waypointClassExists(ctx context.Context, c *kube.Clients, class string) bool {
	_, err := c.Gateway.GatewayV1().GatewayClasses().Get(ctx, class, metav1.GetOptions{})
	return !apierrors.IsNotFound(err) || kube.IsMissingType(err)
}
