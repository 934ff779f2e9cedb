package cli

import (
	"context"
	"errors"
	"fmt"
	"sort"
	"strings"

	"github.com/spf13/cobra"
	"k8s.io/apimachinery/pkg/util/validation"

	"github.com/kubectl-waypoint/kubectl-waypoint/pkg/bulk"
	"github.com/kubectl-waypoint/kubectl-waypoint/pkg/enroll"
	"github.com/kubectl-waypoint/kubectl-waypoint/pkg/istio"
	"github.com/kubectl-waypoint/kubectl-waypoint/pkg/kube"
	"github.com/kubectl-waypoint/kubectl-waypoint/pkg/render"
	"github.com/kubectl-waypoint/kubectl-waypoint/pkg/waypoint"
)

// EnrollOptions enrolls namespaces, services, pods, ServiceEntries or
// WorkloadEntries into a
// waypoint or, with Unenroll, removes their enrollment labels. Both only
// ever patch the two enrollment labels.
type EnrollOptions struct {
	IO *IOStreams
	// Tool is how the tool is invoked, for the commands it suggests.
	Tool string
	// Unenroll removes the labels instead of setting them.
	Unenroll bool

	KindArg           string
	Names             []string
	Selector          string
	Waypoint          string
	WaypointNamespace string
	Canary            string
	CanaryWeight      int
	Ingress           bool
	Force             bool
	FieldManager      string
	DryRunFlag        string
	Output            string
	bulkFlags

	kind       enroll.Kind
	namespaces []string
	dryRun     kube.DryRun
	clients    *kube.Clients
}

var enrollKinds = []string{"namespace", "service", "pod", "serviceentry", "workloadentry"}

func newEnrollCommand(f *Factory) *cobra.Command {
	o := &EnrollOptions{IO: f.IO, Tool: f.Name}
	cmd := &cobra.Command{
		Use:   "enroll {namespace|service|pod|serviceentry|workloadentry} [NAME...] [-l SELECTOR] --waypoint NAME [flags]",
		Short: "Enroll namespaces, services, pods, ServiceEntries or WorkloadEntries into a waypoint",
		Long: `Label namespaces, services, pods, ServiceEntries or WorkloadEntries so that istiod sends their
traffic through a waypoint: istio.io/use-waypoint=<name>, and
istio.io/use-waypoint-namespace=<namespace> when the waypoint lives in another
namespace (a stale one is removed). Only those labels are patched; running the
same command again changes nothing. --waypoint none opts the resources out,
even when their namespace is enrolled.

For namespaces, NAME is the namespace; without NAME or -l it is the current
namespace (or those of several -n). For the other kinds, NAME... or -l select
them in the namespace of -n, or in each of several. The short names ns, svc,
po, se and we work too.

--canary NAME with --canary-weight N splits the traffic of services and
ServiceEntries (or of a namespace's) between the waypoint and a canary
waypoint in the same namespace: istio.io/use-waypoint-canary=<name> and the
annotation istio.io/use-waypoint-canary-weight=<N>, N percent to the canary.
istiod splits only the traffic of services and ServiceEntries.

--ingress also sends the traffic of ingress gateways through the waypoint
(istio.io/ingress-use-waypoint=true, written with the enrollment); without
it only traffic from inside the mesh takes the waypoint. A service's or
ServiceEntry's own label wins over its namespace's. "unenroll --ingress"
takes it back and keeps the enrollment.

Before writing, the waypoint is checked: its traffic type must serve the kind
(services and ServiceEntries need service or all, pods and WorkloadEntries
workload or all), and a
waypoint in another namespace must allow the resources' namespace. Either
failure stops the command with exit code 2 and the command that fixes it;
--force enrolls anyway. A waypoint that does not exist yet is only a warning,
so pipelines may enroll first.

A change that would stop istiod enforcing L7 policies (an HTTPRoute or
AuthorizationPolicy on the service, or on the waypoint it leaves) is refused
and names each of them; --force enrolls anyway. With several objects, those
are skipped and the rest is done (exit code 1); exit code 2 when nothing was
changed. See docs/policies.md.`,
		Example: examples(f.Name, `
# Enroll the reviews service into the waypoint reviews-svc-waypoint
kubectl-waypoint enroll service reviews --waypoint reviews-svc-waypoint -n default

# Enroll the pods of reviews v2 into a workload waypoint
kubectl-waypoint enroll pod -l version=v2,app=reviews --waypoint reviews-v2-pod-waypoint -n default

# Enroll a ServiceEntry into a waypoint of another namespace
kubectl-waypoint enroll se istio-site -n cross-namespace-waypoint-consumer --waypoint egress-gateway --waypoint-namespace common-infrastructure

# Enroll the current namespace into its waypoint
kubectl-waypoint enroll namespace --waypoint waypoint

# Enroll the reviews service, its traffic from ingress gateways too
kubectl-waypoint enroll service reviews --waypoint waypoint --ingress -n default

# Send 10% of the reviews service's traffic to the canary waypoint waypoint-v2
kubectl-waypoint enroll service reviews --waypoint waypoint --canary waypoint-v2 --canary-weight 10 -n default

# Opt one service out of its namespace's waypoint
kubectl-waypoint enroll svc ratings --waypoint none -n default

# Show what would change, as JSON
kubectl-waypoint enroll pod -l app=reviews --waypoint reviews-v2-pod-waypoint --dry-run -o json`),
		ValidArgsFunction: completeKindAndNames(f, enrollKinds, false),
		Annotations:       map[string]string{fleetCommand: "true", writesCommand: "true"},
		RunE: func(cmd *cobra.Command, args []string) error {
			return o.run(cmd, f, args)
		},
	}
	o.addFlags(cmd)
	fs := cmd.Flags()
	fs.StringVar(&o.Waypoint, "waypoint", "", `Name of the waypoint to enroll into; "none" opts the resources out`)
	fs.StringVar(&o.WaypointNamespace, "waypoint-namespace", "", "Namespace of the waypoint, when it is not the resources' own")
	fs.StringVar(&o.Canary, "canary", "", "Name of a canary waypoint, in the waypoint's namespace, that takes --canary-weight percent of the traffic of services and ServiceEntries")
	fs.IntVar(&o.CanaryWeight, "canary-weight", 0, "Percent of the traffic, 0 to 100, that goes to the --canary waypoint")
	fs.BoolVar(&o.Ingress, "ingress", false, "Send the traffic of ingress gateways through the waypoint too (istio.io/ingress-use-waypoint=true); services, ServiceEntries and namespaces")
	fs.BoolVar(&o.Force, "force", false, "Enroll even when the waypoint's traffic type or allowed namespaces do not fit, or L7 policies would no longer be enforced")
	_ = cmd.RegisterFlagCompletionFunc("waypoint", completeWaypointFlag(f, "waypoint-namespace"))
	_ = cmd.RegisterFlagCompletionFunc("waypoint-namespace", completeNamespaceFlag(f))
	return cmd
}

// addFlags adds the flags enroll and unenroll share.
func (o *EnrollOptions) addFlags(cmd *cobra.Command) {
	fs := cmd.Flags()
	fs.StringVarP(&o.Selector, "selector", "l", "", "Select the resources by label (kubectl syntax), e.g. app=reviews,version=v2")
	fs.StringVarP(&o.Output, "output", "o", "", "Report every object and a summary: {json|yaml}; lines of text when unset")
	o.addBulkFlags(fs)
	addDryRunFlag(cmd, &o.DryRunFlag)
	addFieldManagerFlag(cmd, &o.FieldManager)
	_ = cmd.RegisterFlagCompletionFunc("output", cobra.FixedCompletions(render.ObjectFormats, cobra.ShellCompDirectiveNoFileComp))
}

func (o *EnrollOptions) run(cmd *cobra.Command, f *Factory, args []string) error {
	if len(args) > 0 {
		o.KindArg, o.Names = args[0], args[1:]
	}
	return f.runClusters(cmd, o)
}

// runOn enrolls (or unenrolls) on the cluster of f.
func (o *EnrollOptions) runOn(ctx context.Context, f *Factory) (ending, error) {
	c := *o
	c.IO = f.IO
	if err := c.Complete(ctx, f); err != nil {
		return ending{}, err
	}
	return c.Run(ctx)
}

func (o *EnrollOptions) document() fleetDocument { return oneReport }

func (o *EnrollOptions) verb() string {
	if o.Unenroll {
		return "unenroll"
	}
	return "enroll"
}

// Validate checks the arguments and flags without a cluster.
func (o *EnrollOptions) Validate() error {
	if o.KindArg == "" {
		return usageErrorf("name the kind to %s: %s {namespace|service|pod|serviceentry|workloadentry} [NAME...] [-l SELECTOR]", o.verb(), o.verb())
	}
	kind, err := enroll.ParseKind(o.KindArg)
	if err != nil {
		if o.Unenroll {
			err = errors.New(strings.Replace(err.Error(), "cannot enroll", "cannot unenroll", 1))
		}
		return usageError(err)
	}
	o.kind = kind
	if o.dryRun, err = parseWriteFlags(o.IO, o.DryRunFlag, o.FieldManager, o.Output); err != nil {
		return err
	}
	if err := o.validateBulk(); err != nil {
		return err
	}
	if len(o.Names) > 0 && o.Selector != "" {
		return usageErrorf("either name the %s or select them with -l, not both", kind.Plural())
	}
	if len(o.Names) == 0 && o.Selector == "" && kind != enroll.KindNamespace {
		return usageErrorf("name the %s to %s, or select them with -l SELECTOR", kind.Plural(), o.verb())
	}
	if err := validateSelector("--selector", o.Selector); err != nil {
		return err
	}
	for _, n := range o.Names {
		if err := checkValue(string(kind)+" name", n, validation.IsDNS1123Subdomain); err != nil {
			return err
		}
	}
	if o.Ingress && kind.IsWorkload() {
		return usageErrorf("--ingress applies to services, ServiceEntries and namespaces: ingress gateways send their traffic to services, not to %s", kind.Plural())
	}
	if o.Unenroll {
		return nil
	}
	if o.Ingress && o.Waypoint == istio.NoWaypoint {
		return usageErrorf("--ingress makes no sense with --waypoint none: ingress traffic can only take a waypoint the objects use")
	}
	switch {
	case o.Waypoint == "":
		return usageErrorf(`--waypoint is required: name the waypoint to enroll into, or "none" to opt out`)
	case o.Waypoint == istio.NoWaypoint && o.WaypointNamespace != "":
		return usageErrorf(`--waypoint-namespace makes no sense with --waypoint none: opting out names no waypoint`)
	case o.Waypoint != istio.NoWaypoint:
		if err := checkValue("--waypoint", o.Waypoint, validation.IsDNS1123Label); err != nil {
			return err
		}
	}
	if o.WaypointNamespace != "" {
		if err := checkValue("--waypoint-namespace", o.WaypointNamespace, validation.IsDNS1123Label); err != nil {
			return err
		}
	}
	return o.validateCanary()
}

// validateCanary checks --canary and --canary-weight.
func (o *EnrollOptions) validateCanary() error {
	if o.Canary == "" {
		if o.CanaryWeight != 0 {
			return usageErrorf("--canary-weight needs --canary: name the canary waypoint")
		}
		return nil
	}
	switch {
	case o.Waypoint == istio.NoWaypoint:
		return usageErrorf("--canary makes no sense with --waypoint none: a canary takes a share of a waypoint's traffic")
	case o.kind.IsWorkload():
		return usageErrorf("--canary applies to services, ServiceEntries and namespaces: istiod splits no traffic of %s", o.kind.Plural())
	case o.Canary == o.Waypoint:
		return usageErrorf("--canary %s is the waypoint itself: istiod ignores a canary that is the primary (CanarySameAsPrimary)", o.Canary)
	case o.CanaryWeight < 0 || o.CanaryWeight > 100:
		return usageErrorf("invalid --canary-weight %d: must be from 0 to 100", o.CanaryWeight)
	}
	return checkValue("--canary", o.Canary, validation.IsDNS1123Label)
}

// Complete resolves the namespaces (--namespace-selector, every -n, else the
// current one) and builds the clients.
func (o *EnrollOptions) Complete(ctx context.Context, f *Factory) error {
	var err error
	if o.namespaces, err = f.Namespaces(ctx, o.NamespaceSelector); err != nil {
		return err
	}
	o.clients, err = f.writeClients(o.FieldManager)
	return err
}

// Run enrolls (or unenrolls) through waypoint.Enroll and prints its
// records: a line per object, or the report.
func (o *EnrollOptions) Run(ctx context.Context) (ending, error) {
	req := o.request()
	req.Progress = o.IO.Progress(o.verb() + "ing")
	res, err := waypoint.Enroll(ctx, o.clients, req)
	var unbind *waypoint.WouldUnbindError
	if errors.As(err, &unbind) {
		return ending{}, usageError(err) // refused before anything was written
	}
	human := o.Output == ""
	o.printStages(res, human)
	if err != nil {
		var failed *waypoint.CheckFailedError
		if errors.As(err, &failed) {
			return ending{}, o.checkFailed(failed)
		}
		return ending{}, err
	}
	if res.None {
		if human {
			scope := ""
			if o.kind.Namespaced() {
				scope = strings.Join(o.namespaces, ", ")
			}
			o.IO.noneFound(o.kind.Plural(), scope)
		}
		return finishBulk(o.Output, o.dryRun, nil, false)
	}
	return finishBulk(o.Output, o.dryRun, res.Records(), len(o.namespaces) > 1)
}

// request is the operation the flags ask for.
func (o *EnrollOptions) request() waypoint.EnrollRequest {
	return waypoint.EnrollRequest{
		Kind: o.kind, Unenroll: o.Unenroll,
		Namespaces: o.namespaces, Names: o.Names, Selector: o.Selector,
		Waypoint: o.Waypoint, WaypointNamespace: o.WaypointNamespace,
		Canary: o.Canary, CanaryWeight: o.CanaryWeight, Ingress: o.Ingress,
		Force: o.Force, DryRun: o.dryRun, Concurrency: o.Concurrency,
	}
}

// printStages prints, stage by stage, what the operation did: the reads
// that failed, the guard's warnings and refusals, the checks of the
// waypoint, the objects not found, and a line per object written. Without
// human only the warnings: the report holds the rest.
func (o *EnrollOptions) printStages(res *waypoint.EnrollResult, human bool) {
	errorLines := func(stage []bulk.Record) {
		for _, r := range stage {
			if human && r.Action == bulk.Failed {
				o.IO.Errorf("%s", r.Error)
			}
		}
	}
	errorLines(res.ReadFailed)
	o.policyGuard().warn(res.Policies)
	for _, r := range res.Refused {
		if human {
			o.policyGuard().refuse(r.Ref.String(), res.Policies.Refused[r.Ref])
		}
	}
	o.printChecks(res)
	errorLines(res.Unchecked)
	errorLines(res.Missing)
	bulk.Sort(res.Written) // written side by side: say it in the report's order
	for _, r := range res.Written {
		if human && r.Action != bulk.NotStarted {
			o.report(r)
		}
	}
	o.warnIngress(res)
}

// report prints the line of one object written (or found as asked), in
// the style of the Istio docs.
func (o *EnrollOptions) report(r bulk.Record) {
	if r.Action == bulk.Failed {
		o.IO.Errorf("%s", r.Error)
		return
	}
	subject := r.Ref.String()
	own := r.Namespace
	if r.Kind == "Namespace" {
		own = r.Name
	}
	changed := r.Action != bulk.Unchanged
	suffix := o.dryRun.Suffix()
	if o.Unenroll && o.Ingress {
		if changed {
			o.IO.Successf("%s unlabeled %q (its enrollment is kept)%s", subject, istio.LabelIngressUseWaypoint, suffix)
		} else {
			o.IO.Successf("%s unchanged (no %q label)%s", subject, istio.LabelIngressUseWaypoint, suffix)
		}
		return
	}
	if o.Unenroll {
		before := enroll.UseOf(r.Before, own)
		switch {
		case !changed:
			o.IO.Successf("%s unchanged (not enrolled)%s", subject, suffix)
		case before.None:
			o.IO.Successf("%s no longer opts out of waypoints%s", subject, suffix)
		case before.Set:
			o.IO.Successf("%s unenrolled from waypoint %s%s", subject, before, suffix)
		default:
			o.IO.Successf("%s unlabeled %q%s", subject, istio.LabelUseWaypointNamespace, suffix)
		}
		return
	}
	if r.Kind == "Namespace" {
		after := enroll.EnrollmentOf(r.After)
		verb := "labeled"
		if !changed {
			verb = "already labeled"
		}
		labels := fmt.Sprintf("%q", istio.LabelUseWaypoint+": "+after.Waypoint)
		if after.Namespace != "" {
			labels += fmt.Sprintf(" and %q", istio.LabelUseWaypointNamespace+": "+after.Namespace)
		}
		if o.Ingress {
			labels += fmt.Sprintf(" and %q", istio.LabelIngressUseWaypoint+": "+r.After[istio.LabelIngressUseWaypoint])
		}
		o.IO.Successf("namespace %s %s with %s%s", r.Name, verb, labels, suffix)
		return
	}
	after := enroll.UseOf(r.After, own)
	key := after.String()
	if o.Canary != "" {
		key += fmt.Sprintf(" (%d%% to canary %s/%s)", o.CanaryWeight, after.Namespace, o.Canary)
	}
	switch {
	case after.None && changed:
		o.IO.Successf("%s opted out of waypoints (%q)%s", subject, istio.LabelUseWaypoint+": "+istio.NoWaypoint, suffix)
	case after.None:
		o.IO.Successf("%s unchanged (already opted out of waypoints)%s", subject, suffix)
	case changed && o.Ingress && onlyIngressChanged(r.Before, r.After):
		o.IO.Successf("%s enrolled in waypoint %s for ingress too (already enrolled for the rest)%s", subject, key, suffix)
	case changed && o.Ingress:
		o.IO.Successf("%s enrolled in waypoint %s (ingress too)%s", subject, key, suffix)
	case changed:
		o.IO.Successf("%s enrolled in waypoint %s%s", subject, key, suffix)
	case o.Ingress:
		o.IO.Successf("%s unchanged (already enrolled in waypoint %s, ingress too)%s", subject, key, suffix)
	default:
		o.IO.Successf("%s unchanged (already enrolled in waypoint %s)%s", subject, key, suffix)
	}
}

// onlyIngressChanged reports whether the enrollment labels before and
// after differ in istio.io/ingress-use-waypoint alone.
func onlyIngressChanged(before, after map[string]string) bool {
	if before[istio.LabelIngressUseWaypoint] == after[istio.LabelIngressUseWaypoint] {
		return false
	}
	for _, m := range []map[string]string{before, after} {
		for k := range m {
			if k != istio.LabelIngressUseWaypoint && before[k] != after[k] {
				return false
			}
		}
	}
	return true
}

// warnIngress warns about the ingress labels an unenrollment left with a
// say: an object's own label, which a plain unenroll keeps, and a
// namespace's that still sends a service's ingress traffic through its
// waypoint once unenroll --ingress removed the service's own label. Each
// warning names the command that ends it.
func (o *EnrollOptions) warnIngress(res *waypoint.EnrollResult) {
	label := istio.LabelIngressUseWaypoint
	for _, n := range res.IngressKept {
		clear := o.unenrollIngressCommand(n.Ref)
		switch {
		case n.Kind == "Namespace":
			o.IO.Warnf("namespace %s keeps %s=%s, which still applies to the services and ServiceEntries in it that name a waypoint themselves; to remove it run: %s",
				n.Name, label, n.Value, clear)
		case n.Inherits != "":
			o.IO.Warnf("%s keeps %s=%s, which applies to waypoint %s that its namespace names; to remove it run: %s", n.Ref, label, n.Value, n.Inherits, clear)
		default:
			o.IO.Warnf("%s keeps %s=%s, which does nothing while it uses no waypoint; to remove it run: %s", n.Ref, label, n.Value, clear)
		}
	}
	for _, n := range res.IngressFromNamespace {
		kind, _ := enroll.ParseKind(n.Kind)
		o.IO.Warnf("%s: the label %s=%s of namespace %s now decides, and still sends its ingress traffic through its waypoint; to stop that for it alone run: kubectl label %s %s -n %s %s=false",
			n.Ref, label, n.Value, n.Namespace, kind.Resource(), n.Name, n.Namespace, label)
	}
}

// unenrollIngressCommand is the command that removes the ingress label of ref.
func (o *EnrollOptions) unenrollIngressCommand(ref kube.Ref) string {
	if ref.Kind == "Namespace" {
		return fmt.Sprintf("%s unenroll namespace %s --ingress", o.Tool, ref.Name)
	}
	kind, _ := enroll.ParseKind(ref.Kind)
	return fmt.Sprintf("%s unenroll %s %s -n %s --ingress", o.Tool, kind, ref.Name, ref.Namespace)
}

// printChecks prints what the checks of the waypoint found: what could
// not be read, namespaces not in the mesh, a waypoint that does not exist
// yet or takes no traffic, and, with --force, the failures let through.
func (o *EnrollOptions) printChecks(res *waypoint.EnrollResult) {
	if res.Classes != nil {
		warnUnreadClasses(o.IO, res.Classes)
	}
	var forced []problem
	for _, g := range res.Checks {
		if g.Err != nil {
			continue
		}
		if g.ReadErr != nil {
			o.IO.Warnf("cannot read waypoint %s to check it (%v); %sing without the checks", g.Key, g.ReadErr, o.verb())
			continue
		}
		r := g.Result
		for _, ns := range r.NotAmbient {
			o.IO.Warnf("namespace %s is not in ambient mode; to add it to the mesh run: kubectl label namespace %s %s=%s",
				ns, ns, istio.LabelDataplaneMode, istio.DataplaneModeAmbient)
		}
		if r.Missing {
			o.IO.Warnf("waypoint %s does not exist yet; the labels take effect once it is applied and ready:\n  %s",
				g.Key, applyForMissing(o.Tool, o.kind, g.Namespace, g.Name, sortedKeys(g.Namespaces)))
			continue
		}
		if r.NoTraffic {
			o.IO.Warnf("waypoint %s has traffic type none: no traffic of the enrolled namespaces will go through it", g.Key)
		}
		if o.Force && r.Blocking() {
			forced = append(forced, o.describeProblems(r)...)
		}
	}
	for _, p := range forced {
		o.IO.Warnf("%s (--force: enrolling anyway)", p.what)
	}
}

// checkFailed is the error of checks that stop the enrollment: each
// problem with the command that fixes it.
func (o *EnrollOptions) checkFailed(e *waypoint.CheckFailedError) error {
	var msgs []string
	for _, g := range e.Checks {
		for _, p := range o.describeProblems(g.Result) {
			msgs = append(msgs, p.what+"; "+p.fix+"\nor add --force to enroll anyway")
		}
	}
	return usageErrorf("%s", strings.Join(msgs, "\n"))
}

func (o *EnrollOptions) policyGuard() policyGuard {
	return policyGuard{io: o.IO, verb: o.verb()}
}

// problem is a failed check: what is wrong, and how to fix it.
type problem struct{ what, fix string }

// describeProblems turns the blocking findings into problems that say how
// to fix each.
func (o *EnrollOptions) describeProblems(res enroll.CheckResult) []problem {
	w := res.Facts
	if res.NotAWaypoint {
		return []problem{{
			what: fmt.Sprintf("gateway %s is not a waypoint (class %q)", w.Key(), w.Class),
			fix:  fmt.Sprintf("name a Gateway of class %s or %s", istio.ClassWaypoint, istio.ClassAgentgatewayWaypoint),
		}}
	}
	var out []problem
	if res.TrafficMismatch {
		need := istio.TrafficService
		if o.kind.IsWorkload() {
			need = istio.TrafficWorkload
		}
		p := problem{what: fmt.Sprintf("waypoint %s has traffic type %s (%s), but %s need a waypoint for %s or all traffic",
			w.Key(), w.TrafficType.Display(), trafficSource(w), o.kind.Plural(), need)}
		p.fix = fmt.Sprintf("enroll into a waypoint applied with --for %s", need)
		if cmd, ok := applyCommand(o.Tool, w, func(a *applyArgs) { a.forType = string(istio.TrafficAll) }); ok {
			p.fix = "let it take both kinds of traffic with:\n  " + cmd + "\nor " + p.fix
		}
		out = append(out, p)
	}
	if len(res.Denied) > 0 {
		p := problem{what: fmt.Sprintf("waypoint %s does not allow namespace %s to use it: its %s admits %s",
			w.Key(), strings.Join(res.Denied, ", "), w.ListenerText(), w.AllowedFrom)}
		p.fix = attachmentFix(o.Tool, w, res.Denied)
		out = append(out, p)
	}
	return out
}

func sortedKeys[V any](m map[string]V) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	return keys
}
