package cli

import (
	"context"
	"errors"
	"fmt"
	"maps"
	"slices"
	"strings"

	"github.com/spf13/cobra"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/util/validation"

	"github.com/kubectl-waypoint/kubectl-waypoint/pkg/bulk"
	"github.com/kubectl-waypoint/kubectl-waypoint/pkg/istio"
	"github.com/kubectl-waypoint/kubectl-waypoint/pkg/kube"
	"github.com/kubectl-waypoint/kubectl-waypoint/pkg/render"
	"github.com/kubectl-waypoint/kubectl-waypoint/pkg/waypoint"
)

// DefaultsOptions shows, sets and unsets the class-wide defaults of the
// waypoints: a ConfigMap of istiod's namespace labelled
// gateway.istio.io/defaults-for-class, whose overlays istiod applies to
// every Gateway of the class before the Gateway's own.
type DefaultsOptions struct {
	IO *IOStreams

	Class          string
	IstioNamespace string
	Infra          render.Infrastructure
	Unset          bool
	DryRunFlag     string
	FieldManager   string
	ForceConflicts bool
	Output         string

	dryRun  kube.DryRun
	clients *kube.Clients
	fs      interface{ Changed(string) bool }
}

func newDefaultsCommand(f *Factory) *cobra.Command {
	o := &DefaultsOptions{IO: f.IO}
	cmd := &cobra.Command{
		Use:         "defaults [flags]",
		Annotations: map[string]string{writesCommand: "true"},
		Short:       "Show, set or unset the sizing defaults of every waypoint of a class",
		Long: `Without sizing flags, show the defaults that istiod applies to every waypoint
of a GatewayClass (istio-waypoint unless --class), and the waypoints they apply
to. With them (the flags of apply: --replicas, --max-replicas, --min-available,
--requests, ...), write those defaults; --unset removes them.

The defaults are a ConfigMap in istiod's namespace (--istio-namespace) labelled
gateway.istio.io/defaults-for-class=<class>. istiod merges it into what it
deploys for each waypoint of the class, then the waypoint's own parameters
(apply's flags) on top. Of several such ConfigMaps istiod uses the oldest only,
so defaults kept in another ConfigMap (Istio's Helm values gatewayClasses, say)
are shown but never written over.

Changing the defaults changes every waypoint of the class at once: the
command names them, and --dry-run shows what would be written.`,
		Example: examples(f.Name, `
# Show the defaults of the waypoints and which waypoints they apply to
kubectl-waypoint defaults

# Every waypoint runs two replicas and keeps one up during drains
kubectl-waypoint defaults --replicas 2 --max-unavailable 1

# See what would be written, without writing it
kubectl-waypoint defaults --requests cpu=200m,memory=256Mi --dry-run=server -o yaml

# Remove the defaults written by kubectl-waypoint
kubectl-waypoint defaults --unset`),
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			o.fs = cmd.Flags()
			if err := zeroCounts(cmd.Flags()); err != nil {
				return usageError(err)
			}
			if err := o.Validate(); err != nil {
				return err
			}
			if err := o.Complete(f); err != nil {
				return err
			}
			return o.Run(cmd.Context())
		},
	}
	addSizingFlags(cmd, &o.Infra)
	fs := cmd.Flags()
	fs.StringVar(&o.Class, "class", istio.ClassWaypoint, "GatewayClass whose waypoints the defaults apply to")
	fs.StringVar(&o.IstioNamespace, "istio-namespace", "istio-system", "Namespace of istiod, where the defaults ConfigMap lives")
	fs.BoolVar(&o.Unset, "unset", false, "Remove the defaults that kubectl-waypoint wrote for the class")
	fs.BoolVar(&o.ForceConflicts, "force-conflicts", false, "Take over keys of the defaults ConfigMap that another field manager owns")
	fs.StringVarP(&o.Output, "output", "o", "", "Print the defaults (or what was written) as: {yaml|json}")
	_ = cmd.RegisterFlagCompletionFunc("output", cobra.FixedCompletions(render.ObjectFormats, cobra.ShellCompDirectiveNoFileComp))
	addDryRunFlag(cmd, &o.DryRunFlag)
	addFieldManagerFlag(cmd, &o.FieldManager)
	return cmd
}

// writes says whether the command writes (sets or unsets).
func (o *DefaultsOptions) writes() bool { return o.Unset || o.Infra.Overlaid() }

// Validate checks the flags; every error is a usage error.
func (o *DefaultsOptions) Validate() error {
	var err error
	if o.dryRun, err = parseWriteFlags(o.IO, o.DryRunFlag, o.FieldManager, o.Output); err != nil {
		return err
	}
	for flag, v := range map[string]string{"--class": o.Class, "--istio-namespace": o.IstioNamespace} {
		if msgs := validation.IsDNS1123Label(v); len(msgs) > 0 {
			return usageErrorf("invalid %s %q: %s", flag, v, msgs[0])
		}
	}
	if o.Unset && o.Infra.Overlaid() {
		return usageErrorf("--unset removes the defaults: leave out the sizing flags")
	}
	if !o.writes() && o.fs != nil && (o.fs.Changed("dry-run") || o.fs.Changed("force-conflicts")) {
		return usageErrorf("--dry-run and --force-conflicts apply to a change: add sizing flags or --unset")
	}
	return usageError(o.Infra.Validate())
}

// Complete builds the clients.
func (o *DefaultsOptions) Complete(f *Factory) error {
	var err error
	if o.writes() {
		o.clients, err = f.writeClients(o.FieldManager)
	} else {
		o.clients, err = f.Clients()
	}
	return err
}

// defaultsView is what -o prints.
type defaultsView struct {
	Class     string            `json:"class"`
	Namespace string            `json:"namespace"`
	ConfigMap string            `json:"configMap,omitempty"`
	Ours      bool              `json:"writtenByKubectlWaypoint"`
	Data      map[string]string `json:"data,omitempty"`
	Ignored   []string          `json:"ignored,omitempty"`
	Waypoints []string          `json:"waypoints"`
	Action    bulk.Action       `json:"action,omitempty"`
}

// Run reads the defaults and shows or changes them.
func (o *DefaultsOptions) Run(ctx context.Context) error {
	if o.writes() && o.dryRun != kube.DryRunClient && !o.Unset {
		if err := o.checkClass(ctx); err != nil {
			return err
		}
	}
	d, err := waypoint.ReadDefaults(ctx, o.clients, o.IstioNamespace, o.Class)
	if err != nil {
		return err
	}
	for _, cm := range d.Others {
		o.IO.Warnf("istiod ignores configmap %s/%s, also labelled %s=%s: it uses the oldest, %s", cm.Namespace, cm.Name, waypoint.LabelDefaultsForClass, o.Class, d.InEffect.Name)
	}
	if d.WaypointsUnknown != nil {
		o.IO.Warnf("could not list the waypoints these defaults apply to: %v", d.WaypointsUnknown)
	}
	view := defaultsView{Class: o.Class, Namespace: o.IstioNamespace, Waypoints: d.Waypoints, Ours: d.Ours()}
	if view.Waypoints == nil {
		view.Waypoints = []string{}
	}
	for _, cm := range d.Others {
		view.Ignored = append(view.Ignored, cm.Name)
	}
	if d.InEffect != nil {
		view.ConfigMap, view.Data = d.InEffect.Name, d.InEffect.Data
	}
	if !o.writes() {
		if o.Output != "" {
			return render.Object(o.IO.Out, o.Output, view)
		}
		o.showHuman(view)
		return nil
	}
	var data map[string]string
	if !o.Unset {
		if data, err = o.Infra.Overlays(""); err != nil {
			return usageError(err)
		}
	}
	cm, action, err := waypoint.SetDefaults(ctx, o.clients, d, data, o.ForceConflicts, o.dryRun)
	var foreign *waypoint.ForeignDefaultsError
	if errors.As(err, &foreign) {
		return usageError(err)
	}
	if err != nil {
		return err
	}
	view.Action = action
	if cm != nil {
		view.ConfigMap, view.Ours = cm.Name, true
		view.Data = cm.Data
		if action == bulk.Deleted {
			view.Data = nil
		}
	}
	if o.Output != "" {
		return render.Object(o.IO.Out, o.Output, view)
	}
	suffix := o.dryRun.Suffix()
	if cm == nil {
		o.IO.Successf("no defaults of class %s written by kubectl-waypoint in namespace %s: nothing to unset%s", o.Class, o.IstioNamespace, suffix)
		return nil
	}
	o.IO.Successf("configmap %s/%s %s%s", cm.Namespace, cm.Name, action, suffix)
	if action != bulk.Unchanged {
		verb := "now apply to"
		if action == bulk.Deleted {
			verb = "no longer apply to"
		}
		o.IO.Infof("the defaults %s", affects(view.Waypoints, verb))
	}
	return nil
}

// checkClass refuses defaults for a GatewayClass the cluster does not have.
func (o *DefaultsOptions) checkClass(ctx context.Context) error {
	_, err := o.clients.Gateway.GatewayV1().GatewayClasses().Get(ctx, o.Class, metav1.GetOptions{})
	switch {
	case apierrors.IsNotFound(err):
		return usageErrorf("GatewayClass %s does not exist: istiod creates %s (and others it serves); check --class", o.Class, istio.ClassWaypoint)
	case kube.IsMissingType(err):
		return fmt.Errorf("cannot set the defaults of class %s: the Gateway API CRDs are not installed; install them with: %s", o.Class, kube.GatewayAPIInstall)
	case err != nil && !apierrors.IsForbidden(err):
		return kube.Describe("read GatewayClass "+o.Class, err)
	}
	return nil
}

// affects names the waypoints the defaults reach, after verb.
func affects(names []string, verb string) string {
	n := len(names)
	switch {
	case n == 0:
		return verb + " no waypoint yet"
	case n > 10:
		return fmt.Sprintf("%s %d waypoints: %s and %d more", verb, n, strings.Join(names[:10], ", "), n-10)
	}
	plural := "s"
	if n == 1 {
		plural = ""
	}
	return fmt.Sprintf("%s %d waypoint%s: %s", verb, n, plural, strings.Join(names, ", "))
}

func (o *DefaultsOptions) showHuman(v defaultsView) {
	if v.ConfigMap == "" {
		o.IO.Printf("No defaults for class %s in namespace %s: istiod deploys each waypoint from its template alone.\n", v.Class, v.Namespace)
	} else {
		who := "written by kubectl-waypoint"
		if !v.Ours {
			who = "not written by kubectl-waypoint: change it where it comes from"
		}
		o.IO.Printf("Defaults of class %s: configmap %s/%s (%s)\n", v.Class, v.Namespace, v.ConfigMap, who)
		for _, key := range render.OverlayKeys {
			overlay, ok := v.Data[key]
			if !ok {
				continue
			}
			o.IO.Printf("%s:\n", key)
			for _, line := range strings.Split(strings.TrimRight(overlay, "\n"), "\n") {
				o.IO.Printf("  %s\n", line)
			}
		}
		for _, key := range slices.Sorted(maps.Keys(v.Data)) {
			if !slices.Contains(render.OverlayKeys, key) {
				o.IO.Warnf("key %q of configmap %s/%s is not one istiod reads: istiod renders no waypoint of the class while it is there", key, v.Namespace, v.ConfigMap)
			}
		}
	}
	o.IO.Printf("They %s\n", affects(v.Waypoints, "apply to"))
}
