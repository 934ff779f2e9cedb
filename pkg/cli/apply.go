package cli

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"

	"github.com/spf13/cobra"
	corev1 "k8s.io/api/core/v1"
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
	Force           bool
	FieldManager    string
	DryRunFlag      string
	Output          string
	bulkFlags

	namespaces []string
	// listed are the namespaces --namespace-selector read, for enrollment:
	// no second list.
	listed  map[string]*corev1.Namespace
	dryRun  kube.DryRun
	clients *kube.Clients
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

A waypoint already in use is guarded: when the new flags would unbind
resources that use it now (a traffic type they no longer fit, allowed
namespaces that leave theirs out), apply refuses with exit code 2 and names
them, by the same rules as explain; --force applies anyway.

A Gateway of another class that has the waypoint's name is never changed,
whatever the flags: apply refuses that namespace and names the class.

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
		Args:        cobra.NoArgs,
		Annotations: map[string]string{fleetCommand: "true", writesCommand: "true"},
		RunE: func(cmd *cobra.Command, args []string) error {
			return f.runClusters(cmd, o)
		},
	}
	o.Gateway.addFlags(cmd, f)
	o.Wait.addFlags(cmd.Flags(), "the waypoint is")
	fs := cmd.Flags()
	fs.BoolVar(&o.EnrollNamespace, "enroll-namespace", false, "Label the namespace to use this waypoint (istio.io/use-waypoint)")
	fs.BoolVar(&o.Overwrite, "overwrite", false, "With --enroll-namespace, replace the waypoint the namespace uses now")
	fs.BoolVar(&o.ForceConflicts, "force-conflicts", false, "Take over fields of the waypoint that another field manager owns (never a Gateway of another class)")
	fs.BoolVar(&o.Force, "force", false, "Apply even when the change unbinds resources that use the waypoint now")
	fs.StringVarP(&o.Output, "output", "o", "", "Report every object and a summary: {yaml|json}")
	o.addBulkFlags(fs)
	addDryRunFlag(cmd, &o.DryRunFlag)
	addFieldManagerFlag(cmd, &o.FieldManager)
	return cmd
}

// Validate checks the flags; every error is a usage error. The namespace is
// checked by the renderer once it is known.
func (o *ApplyOptions) Validate() error {
	var err error
	if o.dryRun, err = parseWriteFlags(o.IO, o.DryRunFlag, o.FieldManager, o.Output); err != nil {
		return err
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
	return usageError(o.Gateway.validate())
}

// Complete resolves the namespaces and builds the clients.
func (o *ApplyOptions) Complete(ctx context.Context, f *Factory) error {
	var err error
	if o.namespaces, err = f.Namespaces(ctx, o.NamespaceSelector); err != nil {
		return err
	}
	o.listed = f.listedNamespaces
	if o.dryRun == kube.DryRunClient && !o.EnrollNamespace && o.Output == "" {
		return nil // nothing to read or write
	}
	o.clients, err = f.writeClients(o.FieldManager)
	return err
}

// runOn applies on the cluster of f.
func (o *ApplyOptions) runOn(ctx context.Context, f *Factory) (ending, error) {
	c := *o
	c.IO = f.IO
	if err := c.Complete(ctx, f); err != nil {
		return ending{}, err
	}
	return c.Run(ctx)
}

func (o *ApplyOptions) document() fleetDocument { return oneReport }

// human says whether per-object lines are printed (not with -o).
func (o *ApplyOptions) human() bool { return o.Output == "" }

// Run applies the waypoint in every namespace and reports.
func (o *ApplyOptions) Run(ctx context.Context) (ending, error) {
	gws := make([]*gatewayv1.Gateway, len(o.namespaces))
	params := make([]*corev1.ConfigMap, len(o.namespaces))
	for i, ns := range o.namespaces {
		req := o.Gateway.request(ns)
		gw, err := render.Gateway(req)
		if err != nil {
			return ending{}, usageError(err)
		}
		if params[i], err = render.ConfigMap(req); err != nil {
			return ending{}, usageError(err)
		}
		gws[i] = gw
		if err := o.checkOwnNamespaceAdmitted(ns); err != nil {
			return ending{}, err
		}
	}
	if o.dryRun == kube.DryRunClient && o.human() && !o.EnrollNamespace {
		return ending{}, printObjects(o.IO, compact(params), gws)
	}
	single := len(gws) == 1
	req := waypoint.ApplyManyRequest{
		Gateways:          gws,
		Parameters:        params,
		ForceConflicts:    o.ForceConflicts,
		Force:             o.Force,
		DryRun:            o.dryRun,
		EnrollNamespace:   o.EnrollNamespace,
		Overwrite:         o.Overwrite,
		Concurrency:       o.Concurrency,
		NamespaceSelector: o.NamespaceSelector,
		Namespaces:        o.listed,
		// A report tells unchanged from configured: one more list.
		KnowPrevious: !single || !o.human(),
		Events:       o.events(single),
	}
	if o.Wait.wait {
		req.Wait = o.Wait.timeout
	}
	res, err := waypoint.ApplyMany(ctx, o.clients, req)
	o.IO.Release()
	var inUse *waypoint.InUseError
	var noClass *waypoint.NoClassError
	if errors.As(err, &inUse) || errors.As(err, &noClass) {
		return ending{}, usageError(err)
	}
	if res == nil {
		return ending{}, err
	}
	if o.dryRun == kube.DryRunClient && o.human() {
		if err := printObjects(o.IO, res.Parameters, res.Applied); err != nil {
			return ending{}, err
		}
	}
	return o.finish(res, err)
}

// events prints what happens as it happens, unless a report was asked for.
func (o *ApplyOptions) events(single bool) waypoint.ApplyManyEvents {
	ev := waypoint.ApplyManyEvents{
		Guarded: o.printGuard,
		NoWaypointClass: func() {
			o.IO.Warnf("GatewayClass %s does not exist: Istio is not installed in ambient mode, or istiod is not ready; no proxy is deployed for the waypoint until it is", istio.ClassWaypoint)
		},
		Stale: func(ref kube.Ref) {
			o.IO.Warnf("istiod keeps the %s it made for the dropped flags; once the waypoint has settled, delete it with: kubectl delete %s %s -n %s",
				ref.Kind, strings.ToLower(ref.Kind), ref.Name, ref.Namespace)
		},
		NotAmbient: func(ns string) {
			o.IO.Warnf("namespace %s is not in ambient mode; to add it to the mesh run: kubectl label namespace %s %s=%s",
				ns, ns, istio.LabelDataplaneMode, istio.DataplaneModeAmbient)
		},
	}
	if !single {
		ev.ApplyProgress = o.IO.Progress("applying")
		ev.EnrollProgress = o.IO.Progress("enrolling")
	}
	if !o.human() {
		return ev
	}
	if !single {
		// Namespaces are worked on side by side: their lines come out
		// at the end, a namespace after another (Run releases them).
		o.IO.Hold()
	}
	suffix := o.dryRun.Suffix()
	if o.dryRun != kube.DryRunClient {
		// A client dry run prints the objects instead, all at the end.
		ev.Applied = func(gw *gatewayv1.Gateway, action bulk.Action) {
			// One namespace says it as istioctl does; several say what
			// their summary counts.
			verb := "applied"
			if !single {
				verb = string(action)
			}
			o.IO.Resultf(gw.Namespace, "waypoint %s/%s %s%s", gw.Namespace, gw.Name, verb, suffix)
		}
	}
	ev.Parameters = func(cm *corev1.ConfigMap, action bulk.Action) {
		if o.dryRun == kube.DryRunClient {
			return // printed with the objects
		}
		o.IO.Resultf(cm.Namespace, "configmap %s/%s %s%s", cm.Namespace, cm.Name, action, suffix)
	}
	ev.Enrolled = func(gw *gatewayv1.Gateway, changed bool) {
		verb := "labeled"
		if !changed {
			verb = "already labeled"
		}
		line := fmt.Sprintf("namespace %s %s with \"%s: %s\"%s", gw.Namespace, verb, istio.LabelUseWaypoint, gw.Name, suffix)
		if o.dryRun == kube.DryRunClient {
			o.IO.Infof("%s", line) // stdout holds the objects
			return
		}
		o.IO.Resultf(gw.Namespace, "%s", line)
	}
	ev.Ready = func(key string) {
		ns, _, _ := strings.Cut(key, "/")
		o.IO.Resultf(ns, "waypoint %s is ready", key)
	}
	if !single {
		// A single namespace's failure is the command's error, printed once.
		ev.Failed = func(err error) { o.IO.Errorf("%v", err) }
	}
	return ev
}

// printGuard prints what apply's guard found: the lists and classes it
// could not read, and with --force what it let through.
func (o *ApplyOptions) printGuard(v waypoint.UsersVerdict) {
	for _, g := range v.Gaps {
		warnListGaps(o.IO, g.Gaps, g.Key)
	}
	if v.Classes != nil {
		warnUnreadClasses(o.IO, v.Classes)
	}
	policyGuard{io: o.IO, verb: "apply"}.warn(v.Policies)
	if o.Force {
		for _, l := range v.Lost {
			o.IO.Warnf("%s (--force: applying anyway)", l)
		}
	}
}

// finish ends with the report and picks the exit code.
func (o *ApplyOptions) finish(res *waypoint.ApplyManyResult, err error) (ending, error) {
	end, outcome := finishBulk(o.Output, o.dryRun, res.Records, len(o.namespaces) > 1)
	report := end.report
	var timeout *waypoint.WaitTimeoutError
	switch {
	case report.Summary.Interrupted:
		return end, outcome
	case errors.As(err, &timeout):
		return end, timeoutError(err)
	case err != nil:
		return end, err
	case outcome == nil || len(o.namespaces) != 1:
		return end, outcome
	}
	// One namespace: its failure is the command's error, printed once.
	applied := false
	for _, rec := range report.Records {
		applied = applied || (rec.Kind == "Gateway" && rec.Action != bulk.Failed && rec.Action != bulk.Skipped)
	}
	for _, rec := range report.Records {
		var elsewhere *waypoint.EnrolledElsewhereError
		var otherClass *waypoint.OtherClassError
		var foreign *waypoint.ForeignParametersError
		var params *waypoint.ParametersError
		switch {
		case rec.Action != bulk.Failed:
		case errors.As(rec.Err, &otherClass), errors.As(rec.Err, &foreign), errors.As(rec.Err, &params):
			// Nothing was written: the Gateway is not a waypoint, or
			// its parameters are not ours or cannot be used.
			return end, usageError(rec.Err)
		case errors.As(rec.Err, &elsewhere) && !applied:
			// Nothing was written: the namespace uses another waypoint.
			return end, usageError(rec.Err)
		case o.human():
			return end, rec.Err
		}
	}
	return end, outcome
}

// printObjects prints the parameters ConfigMaps and the Gateways as one
// YAML stream, each namespace's ConfigMap before its Gateway, as apply
// writes them.
func printObjects(io *IOStreams, params []*corev1.ConfigMap, gws []*gatewayv1.Gateway) error {
	byNamespace := map[string]*corev1.ConfigMap{}
	for _, cm := range params {
		byNamespace[cm.Namespace] = cm
	}
	first := true
	emit := func(obj any) error {
		if !first {
			io.Printf("---\n")
		}
		first = false
		return render.Object(io.Out, render.FormatYAML, obj)
	}
	for _, gw := range gws {
		if cm := byNamespace[gw.Namespace]; cm != nil {
			if err := emit(cm); err != nil {
				return err
			}
		}
		if err := emit(gw); err != nil {
			return err
		}
	}
	return nil
}

// compact drops the nil entries.
func compact[T any](items []*T) []*T {
	out := make([]*T, 0, len(items))
	for _, it := range items {
		if it != nil {
			out = append(out, it)
		}
	}
	return out
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
