package cli

import (
	"context"
	"errors"
	"fmt"

	"github.com/spf13/cobra"
	gatewayv1 "sigs.k8s.io/gateway-api/apis/v1"

	"github.com/kubectl-waypoint/kubectl-waypoint/pkg/istio"
	"github.com/kubectl-waypoint/kubectl-waypoint/pkg/kube"
	"github.com/kubectl-waypoint/kubectl-waypoint/pkg/render"
	"github.com/kubectl-waypoint/kubectl-waypoint/pkg/waypoint"
)

// ApplyOptions server-side applies a waypoint and optionally enrolls its
// namespace.
type ApplyOptions struct {
	IO *IOStreams

	Gateway         gatewayFlags
	Wait            waitFlags
	EnrollNamespace bool
	Overwrite       bool
	ForceConflicts  bool
	DryRunFlag      string
	Output          string

	namespace string
	dryRun    kube.DryRun
	clients   *kube.Clients
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
only once the waypoint is ready.`,
		Example: examples(f.Name, `
# Apply the waypoint of namespace default
kubectl-waypoint apply -n default

# Apply it, wait until istiod has programmed it, and enroll the namespace
kubectl-waypoint apply -n default --enroll-namespace --wait

# A waypoint for the pods of one app
kubectl-waypoint apply -n default --name reviews-v2-pod-waypoint --for workload

# Ask the API server what it would do, without changing anything
kubectl-waypoint apply -n default --dry-run=server`),
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			if err := o.Complete(f); err != nil {
				return err
			}
			if err := o.Validate(); err != nil {
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
	fs.StringVarP(&o.Output, "output", "o", "", "Print the applied Gateway: {yaml|json}")
	addDryRunFlag(cmd, &o.DryRunFlag)
	return cmd
}

// Complete resolves the namespace from the flags or kubeconfig.
func (o *ApplyOptions) Complete(f *Factory) error {
	ns, err := f.Namespace()
	if err != nil {
		return err
	}
	o.namespace = ns
	o.dryRun, err = kube.ParseDryRun(o.DryRunFlag)
	if err != nil {
		return usageError(err)
	}
	if o.dryRun == kube.DryRunClient && !o.EnrollNamespace {
		return nil // nothing to read or write
	}
	o.clients, err = f.Clients()
	return err
}

// Validate checks the flags; every error is a usage error.
func (o *ApplyOptions) Validate() error {
	if o.Output != "" && !render.IsObjectFormat(o.Output) {
		return usageErrorf("unknown output format %q: must be one of yaml, json", o.Output)
	}
	if o.Overwrite && !o.EnrollNamespace {
		return usageErrorf("--overwrite only makes sense with --enroll-namespace")
	}
	if err := o.Wait.validate(); err != nil {
		return err
	}
	return usageError(o.Gateway.request(o.namespace).Validate())
}

// Run applies the waypoint.
func (o *ApplyOptions) Run(ctx context.Context) error {
	gw, err := render.Gateway(o.Gateway.request(o.namespace))
	if err != nil {
		return usageError(err)
	}
	if o.dryRun == kube.DryRunClient && o.Output == "" {
		o.Output = render.FormatYAML
	}
	req := waypoint.ApplyRequest{
		Gateway:         gw,
		Force:           o.ForceConflicts,
		DryRun:          o.dryRun,
		EnrollNamespace: o.EnrollNamespace,
		Overwrite:       o.Overwrite,
		OnApplied: func(applied *gatewayv1.Gateway, _ bool) {
			if o.Output != "" {
				_ = render.Object(o.IO.Out, o.Output, applied)
				return
			}
			o.IO.Successf("waypoint %s/%s applied%s", applied.Namespace, applied.Name, o.dryRun.Suffix())
		},
	}
	if o.Wait.wait {
		req.Wait = o.waitReady
	}
	res, err := waypoint.Apply(ctx, o.clients, req)
	var elsewhere *waypoint.EnrolledElsewhereError
	switch {
	case errors.As(err, &elsewhere):
		return usageError(err)
	case errors.Is(err, waypoint.ErrNamespaceNotFound):
		return fmt.Errorf("namespace %q not found; create it first, or pick another with -n", o.namespace)
	case err != nil:
		return err
	}
	if o.EnrollNamespace {
		if !res.NamespaceAmbient {
			o.IO.Warnf("namespace %s is not in ambient mode; to add it to the mesh run: kubectl label namespace %s %s=%s",
				o.namespace, o.namespace, istio.LabelDataplaneMode, istio.DataplaneModeAmbient)
		}
		if o.Output == "" {
			verb := "labeled"
			if !res.Enrolled {
				verb = "already labeled"
			}
			o.IO.Successf("namespace %s %s with \"%s: %s\"%s", o.namespace, verb, istio.LabelUseWaypoint, gw.Name, o.dryRun.Suffix())
		}
	}
	return nil
}

// waitReady watches the applied Gateway until it is ready or the timeout ends.
func (o *ApplyOptions) waitReady(ctx context.Context, gw *gatewayv1.Gateway) error {
	ctx, cancel := context.WithTimeout(ctx, o.Wait.timeout)
	defer cancel()
	w := waypoint.FromGateway(gw, nil)
	waiting := map[string]*waypoint.Waypoint{w.Key(): &w}
	scope := waypoint.WaitScope{Namespace: gw.Namespace, Name: gw.Name, ResourceVersion: gw.ResourceVersion}
	err := waypoint.WaitReady(ctx, o.clients.Gateway, scope, waiting)
	if errors.Is(err, context.DeadlineExceeded) {
		return timeoutError(fmt.Errorf("timed out after %s waiting for waypoint %s to be ready: %s", o.Wait.timeout, w.Key(), notReadyReason(&w)))
	}
	if err != nil {
		return kube.Describe("watch waypoint "+w.Key(), err)
	}
	if o.Output == "" {
		o.IO.Successf("waypoint %s is ready", w.Key())
	}
	return nil
}

// notReadyReason says why a waypoint is not ready, from its last condition.
func notReadyReason(w *waypoint.Waypoint) string {
	c := w.Programmed
	switch {
	case c == nil:
		return "no Programmed condition yet (is istiod running?)"
	case c.Status == "True":
		return "Programmed=True but no address yet"
	}
	return fmt.Sprintf("Programmed=%s, reason %s: %s", c.Status, c.Reason, c.Message)
}
