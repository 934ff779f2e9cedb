package cli

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"sort"
	"strings"
	"sync"

	"github.com/spf13/cobra"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	gatewayv1 "sigs.k8s.io/gateway-api/apis/v1"

	"github.com/kubectl-waypoint/kubectl-waypoint/pkg/bulk"
	"github.com/kubectl-waypoint/kubectl-waypoint/pkg/istio"
	"github.com/kubectl-waypoint/kubectl-waypoint/pkg/kube"
	"github.com/kubectl-waypoint/kubectl-waypoint/pkg/render"
	"github.com/kubectl-waypoint/kubectl-waypoint/pkg/waypoint"
)

// ApplyOptions server-side applies a waypoint in one or many namespaces and
// optionally enrolls them.
type ApplyOptions struct {
	IO *IOStreams

	Gateway         gatewayFlags
	Wait            waitFlags
	EnrollNamespace bool
	Overwrite       bool
	ForceConflicts  bool
	DryRunFlag      string
	Output          string
	bulkFlags

	namespaces []string
	dryRun     kube.DryRun
	clients    *kube.Clients
}

func newApplyCommand(f *Factory) *cobra.Command {
	o := &ApplyOptions{IO: f.IO}
	cmd := &cobra.Command{
		Use:   "apply [flags]",
		Short: "Apply a waypoint to the cluster",
		Long: `Server-side apply the waypoint Gateway that "generate" prints for the same flags,
with the field manager kubectl-waypoint. Applying the same flags again changes
nothing.

--enroll-namespace also labels the namespace istio.io/use-waypoint=<name>,
patching only that label; a namespace that already uses another waypoint is
left alone unless --overwrite is given. With --wait the namespace is labelled
only once the waypoint is ready.

Several namespaces (-n a,b,c or --namespace-selector) are done in one call,
--concurrency at a time; -o json|yaml then reports every object and a summary.`,
		Example: examples(f.Name, `
# Apply the waypoint of namespace default
kubectl-waypoint apply -n default

# Apply it, wait until istiod has programmed it, and enroll the namespace
kubectl-waypoint apply -n default --enroll-namespace --wait

# A waypoint for the pods of one app
kubectl-waypoint apply -n default --name reviews-v2-pod-waypoint --for workload

# Ask the API server what it would do, without changing anything
kubectl-waypoint apply -n default --dry-run=server

# Every ambient namespace gets a waypoint and uses it; report as JSON
kubectl-waypoint apply --namespace-selector istio.io/dataplane-mode=ambient --enroll-namespace --for all --wait -o json`),
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			if err := o.Validate(); err != nil {
				return err
			}
			if err := o.Complete(cmd.Context(), f); err != nil {
				return err
			}
			return o.Run(cmd.Context())
		},
	}
	o.Gateway.addFlags(cmd)
	o.Wait.addFlags(cmd.Flags(), "the waypoint is")
	fs := cmd.Flags()
	fs.BoolVar(&o.EnrollNamespace, "enroll-namespace", false, "Label the namespace to use this waypoint (istio.io/use-waypoint)")
	fs.BoolVar(&o.Overwrite, "overwrite", false, "With --enroll-namespace, replace the waypoint the namespace uses now")
	fs.BoolVar(&o.ForceConflicts, "force-conflicts", false, "Take over fields of the Gateway that another field manager owns")
	fs.StringVarP(&o.Output, "output", "o", "", "Report every object and a summary: {yaml|json}")
	o.addBulkFlags(fs)
	addDryRunFlag(cmd, &o.DryRunFlag)
	return cmd
}

// Validate checks the flags; every error is a usage error. The namespace is
// checked by the renderer once it is known.
func (o *ApplyOptions) Validate() error {
	var err error
	if o.dryRun, err = kube.ParseDryRun(o.DryRunFlag); err != nil {
		return usageError(err)
	}
	if o.Output != "" && !render.IsObjectFormat(o.Output) {
		return usageErrorf("unknown output format %q: must be one of yaml, json", o.Output)
	}
	if o.Overwrite && !o.EnrollNamespace {
		return usageErrorf("--overwrite only makes sense with --enroll-namespace")
	}
	if err := o.validateBulk(); err != nil {
		return err
	}
	if err := o.Wait.validate(); err != nil {
		return err
	}
	return usageError(o.Gateway.request("").Validate())
}

// Complete resolves the namespaces and builds the clients.
func (o *ApplyOptions) Complete(ctx context.Context, f *Factory) error {
	var err error
	if o.namespaces, err = f.Namespaces(ctx, o.NamespaceSelector); err != nil {
		return err
	}
	if o.dryRun == kube.DryRunClient && !o.EnrollNamespace && o.Output == "" {
		return nil // nothing to read or write
	}
	o.clients, err = f.Clients()
	return err
}

// applyRun is the state of one apply over its namespaces.
type applyRun struct {
	*ApplyOptions
	mu      sync.Mutex
	records []bulk.Record
	pending map[string]*waypoint.ApplyResult // namespace → result awaiting enrollment
	applied []*gatewayv1.Gateway             // as the server returned them, for --wait
}

func (r *applyRun) record(rec bulk.Record) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.records = append(r.records, rec)
}

// human says whether per-object lines are printed (not with -o).
func (o *ApplyOptions) human() bool { return o.Output == "" }

// Run applies the waypoint in every namespace.
func (o *ApplyOptions) Run(ctx context.Context) error {
	gws := make([]*gatewayv1.Gateway, len(o.namespaces))
	for i, ns := range o.namespaces {
		gw, err := render.Gateway(o.Gateway.request(ns))
		if err != nil {
			return usageError(err)
		}
		gws[i] = gw
		if err := o.checkOwnNamespaceAdmitted(ns); err != nil {
			return err
		}
	}
	if o.dryRun == kube.DryRunClient && o.human() && !o.EnrollNamespace {
		return printObjects(o.IO, gws)
	}
	r := &applyRun{ApplyOptions: o, pending: map[string]*waypoint.ApplyResult{}}
	single := len(gws) == 1

	// Many namespaces are read in one request rather than one each.
	var nsObjects map[string]*corev1.Namespace
	if !single && o.EnrollNamespace {
		var err error
		if nsObjects, err = waypoint.Namespaces(ctx, o.clients.Kube, o.namespaces, o.NamespaceSelector); err != nil {
			return kube.Describe("list namespaces", err)
		}
	}
	// What exists already, in one request, to tell configured from unchanged.
	previous := map[string]string{}
	if !single || !o.human() {
		var err error
		previous, err = waypoint.Versions(ctx, o.clients.Gateway, o.namespaces, gws[0].Name)
		if err != nil && !kube.IsMissingType(err) { // apply itself says the CRDs are missing
			return kube.Describe("list gateways named "+gws[0].Name, err)
		}
	}

	var usageErr error
	bulk.ForEach(ctx, len(gws), o.Concurrency, func(ctx context.Context, i int) {
		if err := r.applyOne(ctx, gws[i], previous[gws[i].Namespace], nsObjects); err != nil && single {
			usageErr = err
		}
	}, o.progress(single, "applying"))
	if usageErr != nil {
		return usageErr
	}

	if o.dryRun == kube.DryRunClient && o.human() {
		sort.Slice(r.applied, func(i, j int) bool { return r.applied[i].Namespace < r.applied[j].Namespace })
		if err := printObjects(o.IO, r.applied); err != nil {
			return err
		}
	}
	var waitErr error
	if o.Wait.wait && o.dryRun == kube.DryRunNone {
		waitErr = r.waitAll(ctx)
		r.enrollPending(ctx)
	}
	return r.finish(waitErr)
}

// printObjects prints Gateways as one YAML stream.
func printObjects(io *IOStreams, gws []*gatewayv1.Gateway) error {
	for i, gw := range gws {
		if i > 0 {
			io.Printf("---\n")
		}
		if err := render.Object(io.Out, render.FormatYAML, gw); err != nil {
			return err
		}
	}
	return nil
}

// checkOwnNamespaceAdmitted refuses to enroll a namespace into its own
// waypoint when --allow-namespace leaves that namespace out: istiod matches
// the listener's selector against every consumer, the waypoint's own
// namespace included, and would deny the attachment.
func (o *ApplyOptions) checkOwnNamespaceAdmitted(ns string) error {
	g := o.Gateway
	if !o.EnrollNamespace || len(g.allowNamespaces) == 0 || slices.Contains(g.allowNamespaces, ns) {
		return nil
	}
	return usageErrorf("--enroll-namespace would enroll namespace %s into a waypoint whose --allow-namespace (%s) leaves %s out, and istiod would deny the attachment; add --allow-namespace %s",
		ns, strings.Join(g.allowNamespaces, ","), ns, ns)
}

// progress is the progress callback for bulk work on a terminal.
func (o *ApplyOptions) progress(single bool, verb string) func(int, int) {
	if single {
		return nil
	}
	return o.IO.Progress(verb)
}

// applyOne applies in one namespace and records what happened. It returns
// an error only for a refusal that is a usage error when it is the only
// namespace.
func (r *applyRun) applyOne(ctx context.Context, gw *gatewayv1.Gateway, previousRV string, namespaces map[string]*corev1.Namespace) error {
	o := r.ApplyOptions
	if namespaces != nil && namespaces[gw.Namespace] == nil {
		err := fmt.Errorf("namespace %q not found; create it first, or pick another with -n", gw.Namespace)
		r.record(bulk.Record{Kind: "Gateway", Namespace: gw.Namespace, Name: gw.Name, Action: bulk.Failed, Error: err.Error()})
		if o.human() {
			o.IO.Errorf("%v", err)
		}
		return nil
	}
	rec := bulk.Record{Kind: "Gateway", Namespace: gw.Namespace, Name: gw.Name}
	req := waypoint.ApplyRequest{
		Gateway:                 gw,
		Force:                   o.ForceConflicts,
		DryRun:                  o.dryRun,
		EnrollNamespace:         o.EnrollNamespace,
		Overwrite:               o.Overwrite,
		DeferEnroll:             o.Wait.wait && o.dryRun == kube.DryRunNone,
		PreviousResourceVersion: previousRV,
		Namespace:               namespaces[gw.Namespace],
		OnApplied: func(applied *gatewayv1.Gateway, _ bool) {
			// A client dry run prints the objects, all at the end.
			if o.human() && o.dryRun != kube.DryRunClient {
				o.IO.Successf("waypoint %s/%s applied%s", applied.Namespace, applied.Name, o.dryRun.Suffix())
			}
		},
	}
	res, err := waypoint.Apply(ctx, o.clients, req)
	var elsewhere *waypoint.EnrolledElsewhereError
	switch {
	case errors.As(err, &elsewhere):
		r.record(bulk.Record{Kind: "Namespace", Name: gw.Namespace, Action: bulk.Failed, Error: err.Error()})
		if len(o.namespaces) == 1 {
			return usageError(err)
		}
		if o.human() {
			o.IO.Errorf("%v", err)
		}
		return nil
	case errors.Is(err, waypoint.ErrNamespaceNotFound):
		err = fmt.Errorf("namespace %q not found; create it first, or pick another with -n", gw.Namespace)
	}
	if err != nil && res != nil && res.Gateway != nil {
		// The Gateway was applied; labelling the namespace failed.
		rec.Action = gatewayAction(res)
		r.record(rec)
		rec = bulk.Record{Kind: "Namespace", Name: gw.Namespace}
	}
	if err != nil {
		rec.Action, rec.Error = bulk.Failed, err.Error()
		r.record(rec)
		if len(o.namespaces) == 1 {
			return err
		}
		if o.human() {
			o.IO.Errorf("%v", err)
		}
		return nil
	}
	rec.Action = gatewayAction(res)
	r.record(rec)
	r.mu.Lock()
	r.applied = append(r.applied, res.Gateway)
	r.mu.Unlock()
	if !o.EnrollNamespace {
		return nil
	}
	if !res.NamespaceAmbient {
		o.IO.Warnf("namespace %s is not in ambient mode; to add it to the mesh run: kubectl label namespace %s %s=%s",
			gw.Namespace, gw.Namespace, istio.LabelDataplaneMode, istio.DataplaneModeAmbient)
	}
	if res.PendingEnroll != nil {
		r.mu.Lock()
		r.pending[gw.Namespace] = res
		r.mu.Unlock()
		return nil
	}
	r.recordEnrolled(gw, res.Enrolled)
	return nil
}

func gatewayAction(res *waypoint.ApplyResult) bulk.Action {
	switch {
	case res.Created:
		return bulk.Created
	case res.Unchanged:
		return bulk.Unchanged
	}
	return bulk.Configured
}

func (r *applyRun) recordEnrolled(gw *gatewayv1.Gateway, changed bool) {
	o := r.ApplyOptions
	action, verb := bulk.Enrolled, "labeled"
	if !changed {
		action, verb = bulk.Unchanged, "already labeled"
	}
	r.record(bulk.Record{Kind: "Namespace", Name: gw.Namespace, Action: action})
	if o.human() && o.dryRun == kube.DryRunClient {
		// stdout holds the objects; the label change is news, on stderr.
		o.IO.Infof("namespace %s %s with \"%s: %s\"%s", gw.Namespace, verb, istio.LabelUseWaypoint, gw.Name, o.dryRun.Suffix())
	} else if o.human() {
		o.IO.Successf("namespace %s %s with \"%s: %s\"%s", gw.Namespace, verb, istio.LabelUseWaypoint, gw.Name, o.dryRun.Suffix())
	}
}

// waitAll waits, with one watch over the namespaces in scope, until every
// applied waypoint is ready or the timeout ends.
func (r *applyRun) waitAll(ctx context.Context) error {
	o := r.ApplyOptions
	waiting := map[string]*waypoint.Waypoint{}
	for _, gw := range r.applied {
		w := waypoint.FromGateway(gw, nil)
		waiting[w.Key()] = &w
	}
	if len(waiting) == 0 {
		return nil
	}
	wctx, cancel := context.WithTimeout(ctx, o.Wait.timeout)
	defer cancel()
	err := waypoint.WaitNamed(wctx, o.clients.Gateway, o.namespaces, o.Gateway.request("").WaypointName(), waiting)
	var notReady []string
	for _, key := range sortedKeys(waiting) {
		w := waiting[key]
		if w.Ready() {
			if o.human() {
				o.IO.Successf("waypoint %s is ready", key)
			}
			continue
		}
		notReady = append(notReady, key+" ("+notReadyReason(w)+")")
		ns, _, _ := strings.Cut(key, "/")
		r.mu.Lock()
		if _, ok := r.pending[ns]; ok {
			delete(r.pending, ns)
			r.records = append(r.records, bulk.Record{Kind: "Namespace", Name: ns, Action: bulk.Skipped, Error: "waypoint not ready; namespace not enrolled"})
		}
		r.mu.Unlock()
	}
	sort.Strings(notReady)
	switch {
	case errors.Is(err, context.DeadlineExceeded):
		if len(notReady) == 1 && len(waiting) == 1 {
			return timeoutError(fmt.Errorf("timed out after %s waiting for waypoint %s to be ready", o.Wait.timeout, notReady[0]))
		}
		return timeoutError(fmt.Errorf("timed out after %s: %d of %d waypoints not ready: %s", o.Wait.timeout, len(notReady), len(waiting), strings.Join(notReady, ", ")))
	case err != nil:
		return kube.Describe("watch waypoints", err)
	}
	return nil
}

// enrollPending writes the namespace labels that waited for readiness.
func (r *applyRun) enrollPending(ctx context.Context) {
	o := r.ApplyOptions
	var list []*waypoint.ApplyResult
	for _, res := range r.pending {
		list = append(list, res)
	}
	sort.Slice(list, func(i, j int) bool { return list[i].Gateway.Namespace < list[j].Gateway.Namespace })
	bulk.ForEach(ctx, len(list), o.Concurrency, func(ctx context.Context, i int) {
		gw := list[i].Gateway
		if err := waypoint.EnrollNamespace(ctx, o.clients, gw.Namespace, list[i].PendingEnroll, o.dryRun); err != nil {
			r.record(bulk.Record{Kind: "Namespace", Name: gw.Namespace, Action: bulk.Failed, Error: err.Error()})
			if o.human() {
				o.IO.Errorf("%v", err)
			}
			return
		}
		r.recordEnrolled(gw, true)
	}, o.progress(len(list) <= 1, "enrolling"))
}

// finish prints the report or the summary and picks the exit code.
func (r *applyRun) finish(waitErr error) error {
	o := r.ApplyOptions
	report := bulk.NewReport(r.records)
	if o.dryRun != kube.DryRunNone {
		report.DryRun = string(o.dryRun)
	}
	if !o.human() {
		if err := render.Object(o.IO.Out, o.Output, report); err != nil {
			return err
		}
	} else if len(o.namespaces) > 1 {
		o.IO.Printf("%s\n", report.Line())
	}
	if waitErr != nil {
		return waitErr
	}
	if report.Summary.Failed > 0 {
		if len(o.namespaces) == 1 && o.human() {
			for _, rec := range report.Records {
				if rec.Action == bulk.Failed {
					return errors.New(rec.Error)
				}
			}
		}
		return &ExitError{Code: ExitFailed, Err: fmt.Errorf("%d of %d objects failed", report.Summary.Failed, report.Summary.Total), Silent: o.human()}
	}
	return nil
}

// notReadyReason says why a waypoint is not ready, from its last condition.
func notReadyReason(w *waypoint.Waypoint) string {
	c := w.Programmed
	switch {
	case c == nil:
		return "no Programmed condition yet (is istiod running?)"
	case c.Status == metav1.ConditionTrue:
		return "Programmed=True but no address yet"
	}
	return fmt.Sprintf("Programmed=%s, reason %s: %s", c.Status, c.Reason, c.Message)
}
