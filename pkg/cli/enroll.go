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
	"github.com/kubectl-waypoint/kubectl-waypoint/pkg/mesh"
	"github.com/kubectl-waypoint/kubectl-waypoint/pkg/policy"
	"github.com/kubectl-waypoint/kubectl-waypoint/pkg/render"
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

# Send 10% of the reviews service's traffic to the canary waypoint waypoint-v2
kubectl-waypoint enroll service reviews --waypoint waypoint --canary waypoint-v2 --canary-weight 10 -n default

# Opt one service out of its namespace's waypoint
kubectl-waypoint enroll svc ratings --waypoint none -n default

# Show what would change, as JSON
kubectl-waypoint enroll pod -l app=reviews --waypoint reviews-v2-pod-waypoint --dry-run -o json`),
		ValidArgsFunction: completeKindAndNames(f, enrollKinds, false),
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
	if err := o.Validate(); err != nil {
		return err
	}
	if err := o.Complete(cmd.Context(), f); err != nil {
		return err
	}
	return o.Run(cmd.Context())
}

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
	if o.dryRun, err = parseDryRun(o.IO, o.DryRunFlag); err != nil {
		return err
	}
	if err := validateFieldManager(o.FieldManager); err != nil {
		return err
	}
	if o.Output != "" && !render.IsObjectFormat(o.Output) {
		return usageErrorf("unknown output format %q: must be one of yaml, json", o.Output)
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
	if o.Unenroll {
		return nil
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

// Run selects the objects, checks the waypoint, patches the labels and
// reports object by object.
func (o *EnrollOptions) Run(ctx context.Context) error {
	sel := enroll.SelectIn(ctx, o.clients, o.kind, o.namespaces, o.Names, o.Selector, o.Concurrency)
	targets, missing := sel.Targets, sel.Missing
	human := o.Output == ""
	var records []bulk.Record
	fail := func(rec bulk.Record, err error) {
		rec.Action, rec.Error = bulk.Failed, err.Error()
		if errors.Is(err, bulk.ErrInterrupted) {
			rec.Action, rec.Error = bulk.NotStarted, ""
		} else if human {
			o.IO.Errorf("%v", err)
		}
		records = append(records, rec)
	}
	for _, f := range sel.Failed {
		fail(bulk.Record{Kind: o.kind.APIKind(), Namespace: f.Namespace, Name: f.Name}, f.Err)
	}
	if len(targets) == 0 && len(missing) == 0 && len(sel.Failed) == 0 {
		if human {
			scope := ""
			if o.kind.Namespaced() {
				scope = strings.Join(o.namespaces, ", ")
			}
			o.IO.noneFound(o.kind.Plural(), scope)
		}
		_, err := finishBulk(o.IO, o.Output, o.dryRun, nil, false)
		return err
	}
	change := o.labelChange
	// The checks guard writes: when every object is already as asked, there
	// is nothing to check.
	var toChange []enroll.Target
	for _, t := range targets {
		if change(t).NeededFor(t.Labels, t.Annotations) {
			toChange = append(toChange, t)
		}
	}
	if len(toChange) > 0 {
		refused, err := o.guardPolicies(ctx, toChange)
		if err != nil {
			return err
		}
		if len(refused) > 0 {
			keep := func(ts []enroll.Target) []enroll.Target {
				var kept []enroll.Target
				for _, t := range ts {
					if _, ok := refused[policyObject(t)]; !ok {
						kept = append(kept, t)
					}
				}
				return kept
			}
			for _, t := range toChange {
				losses, ok := refused[policyObject(t)]
				if !ok {
					continue
				}
				records = append(records, refusedRecord(bulk.Record{Kind: t.Kind.APIKind(), Namespace: t.Namespace, Name: t.Name,
					Before: nonNil(enroll.EnrollmentLabels(t.Labels))}, losses))
				if human {
					o.policyGuard().refuse(describeResource(t.Resource()), losses)
				}
			}
			targets, toChange = keep(targets), keep(toChange)
		}
	}
	if !o.Unenroll && o.Waypoint != istio.NoWaypoint && len(toChange) > 0 {
		unchecked, err := o.check(ctx, o.Waypoint, toChange, sel.NamespaceLabels)
		if err != nil {
			return err
		}
		if o.Canary != "" {
			more, err := o.check(ctx, o.Canary, toChange, sel.NamespaceLabels)
			if err != nil {
				return err
			}
			for ns, e := range more {
				unchecked[ns] = e
			}
		}
		// Targets whose waypoint could not be read are not written unchecked.
		var kept []enroll.Target
		for _, t := range targets {
			if err, ok := unchecked[t.Own()]; ok && change(t).Needed(t.Labels) {
				fail(bulk.Record{Kind: t.Kind.APIKind(), Namespace: t.Namespace, Name: t.Name}, err)
				continue
			}
			kept = append(kept, t)
		}
		targets = kept
	}
	for _, m := range missing {
		fail(bulk.Record{Kind: o.kind.APIKind(), Namespace: m.Namespace, Name: m.Name}, o.notFound(m))
	}
	var progress func(int, int)
	if len(targets) > 1 {
		progress = o.IO.Progress(o.verb() + "ing")
	}
	outcomes := enroll.ChangeAll(ctx, o.clients, targets, change, o.dryRun, o.Concurrency, progress)
	for _, out := range outcomes {
		records = append(records, o.record(out))
		if human && !out.NotStarted {
			o.report(out)
		}
	}
	_, err := finishBulk(o.IO, o.Output, o.dryRun, records, len(o.namespaces) > 1)
	return err
}

func (o *EnrollOptions) notFound(m enroll.Missing) error {
	if o.kind == enroll.KindNamespace {
		return fmt.Errorf("namespace %q not found", m.Name)
	}
	return fmt.Errorf("%s %q not found in namespace %s", o.kind, m.Name, m.Namespace)
}

func (o *EnrollOptions) record(out enroll.Outcome) bulk.Record {
	rec := bulk.Record{Kind: out.Target.Kind.APIKind(), Namespace: out.Target.Namespace, Name: out.Target.Name,
		Before: nonNil(out.Before), After: nonNil(out.After), Action: bulk.Unchanged}
	switch {
	case out.NotStarted:
		rec.Action = bulk.NotStarted
	case out.Err != nil:
		rec.Action, rec.Error = bulk.Failed, out.Err.Error()
	case out.Changed && o.Unenroll:
		rec.Action = bulk.Unenrolled
	case out.Changed:
		rec.Action = bulk.Enrolled
	}
	return rec
}

func nonNil(m map[string]string) map[string]string {
	if m == nil {
		return map[string]string{}
	}
	return m
}

// report prints the line of one object, in the style of the Istio docs.
func (o *EnrollOptions) report(out enroll.Outcome) {
	if out.Err != nil {
		o.IO.Errorf("%v", out.Err)
		return
	}
	t := out.Target
	subject := describeResource(t.Resource())
	suffix := o.dryRun.Suffix()
	if o.Unenroll {
		before := enroll.UseOf(out.Before, t.Own())
		switch {
		case !out.Changed:
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
	if t.Kind == enroll.KindNamespace {
		after := enroll.EnrollmentOf(out.After)
		verb := "labeled"
		if !out.Changed {
			verb = "already labeled"
		}
		labels := fmt.Sprintf("%q", istio.LabelUseWaypoint+": "+after.Waypoint)
		if after.Namespace != "" {
			labels += fmt.Sprintf(" and %q", istio.LabelUseWaypointNamespace+": "+after.Namespace)
		}
		o.IO.Successf("namespace %s %s with %s%s", t.Name, verb, labels, suffix)
		return
	}
	after := enroll.UseOf(out.After, t.Own())
	key := after.String()
	if o.Canary != "" {
		key += fmt.Sprintf(" (%d%% to canary %s/%s)", o.CanaryWeight, after.Namespace, o.Canary)
	}
	switch {
	case after.None && out.Changed:
		o.IO.Successf("%s opted out of waypoints (%q)%s", subject, istio.LabelUseWaypoint+": "+istio.NoWaypoint, suffix)
	case after.None:
		o.IO.Successf("%s unchanged (already opted out of waypoints)%s", subject, suffix)
	case out.Changed:
		o.IO.Successf("%s enrolled in waypoint %s%s", subject, key, suffix)
	default:
		o.IO.Successf("%s unchanged (already enrolled in waypoint %s)%s", subject, key, suffix)
	}
}

// check runs the checks before anything is written: per waypoint the
// targets name (one, unless namespaces each get their own), its traffic
// type, who it lets in, and whether enrolled namespaces are in the mesh.
// It returns, by namespace of the targets, the faults that kept a
// waypoint from being read: those targets must not be written.
func (o *EnrollOptions) check(ctx context.Context, name string, targets []enroll.Target, nsLabels map[string]map[string]string) (map[string]error, error) {
	classes := mesh.NewClasses(o.clients.Gateway)
	checks := enroll.CheckWaypoints(ctx, o.clients, classes, o.kind, name, o.WaypointNamespace, targets, nsLabels, o.Concurrency)
	warnUnreadClasses(o.IO, classes)
	unchecked := map[string]error{}
	var problems []problem
	for _, g := range checks {
		if g.Err != nil {
			for ns := range g.Namespaces {
				unchecked[ns] = g.Err
			}
			continue
		}
		if g.ReadErr != nil {
			o.IO.Warnf("cannot read waypoint %s to check it (%v); %sing without the checks", g.Key, g.ReadErr, o.verb())
			continue
		}
		res := g.Result
		for _, ns := range res.NotAmbient {
			o.IO.Warnf("namespace %s is not in ambient mode; to add it to the mesh run: kubectl label namespace %s %s=%s",
				ns, ns, istio.LabelDataplaneMode, istio.DataplaneModeAmbient)
		}
		if res.Missing {
			o.IO.Warnf("waypoint %s does not exist yet; the %s use it once it is applied and ready:\n  %s",
				g.Key, o.kind.Plural(), applyForMissing(o.Tool, o.kind, g.Namespace, g.Name, sortedKeys(g.Namespaces)))
			continue
		}
		if res.NoTraffic {
			o.IO.Warnf("waypoint %s has traffic type none: no traffic of the enrolled namespaces will go through it", g.Key)
		}
		problems = append(problems, o.describeProblems(res)...)
	}
	if len(problems) == 0 {
		return unchecked, nil
	}
	if o.Force {
		for _, p := range problems {
			o.IO.Warnf("%s (--force: enrolling anyway)", p.what)
		}
		return unchecked, nil
	}
	msgs := make([]string, len(problems))
	for i, p := range problems {
		msgs[i] = p.what + "; " + p.fix + "\nor add --force to enroll anyway"
	}
	return nil, usageErrorf("%s", strings.Join(msgs, "\n"))
}

func (o *EnrollOptions) policyGuard() policyGuard {
	return policyGuard{io: o.IO, clients: o.clients, force: o.Force, verb: o.verb(), scope: o.namespaces}
}

// policyObject is a target as a policy.Change names it; empty Kind for
// the kinds no L7 policy targets (pods, WorkloadEntries).
func policyObject(t enroll.Target) policy.Object {
	return policy.Object{Kind: policy.ChangeOf(t.Kind), Namespace: t.Namespace, Name: t.Name}
}

// labelChange is the change of labels the command makes on a target.
func (o *EnrollOptions) labelChange(t enroll.Target) enroll.LabelChange {
	if o.Unenroll {
		return enroll.UnenrollChange()
	}
	c := enroll.EnrollChange(t.Own(), o.Waypoint, o.WaypointNamespace)
	if o.Canary != "" {
		c = enroll.CanaryChange(c, t.Own(), o.Canary, o.WaypointNamespace, o.CanaryWeight)
	}
	return c
}

// guardPolicies refuses the targets whose new labels would stop istiod
// enforcing L7 policies: on them, on their namespace's services, or on the
// waypoint they leave. One check for all targets.
func (o *EnrollOptions) guardPolicies(ctx context.Context, targets []enroll.Target) (map[policy.Object][]policy.Loss, error) {
	ch := o.relabelChange(targets)
	if len(ch.Labels) == 0 {
		return nil, nil
	}
	return o.policyGuard().check(ctx, ch)
}

// relabelChange is the change the command makes to the targets, for the
// policy check: their labels after it, and in words.
func (o *EnrollOptions) relabelChange(targets []enroll.Target) policy.Change {
	ch := policy.Change{Labels: map[policy.Object]map[string]string{}, Before: map[policy.Object]map[string]string{}, Causes: map[policy.Object]string{}}
	for _, t := range targets {
		obj := policyObject(t)
		if obj.Kind == "" {
			continue
		}
		ch.Labels[obj], ch.Before[obj] = o.labelChange(t).Apply(t.Labels), t.Labels
		after := enroll.UseOf(ch.Labels[obj], t.Own())
		cause := describeResource(t.Resource())
		switch {
		case o.Unenroll:
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
			p.fix = "let it take both kinds of traffic with:\n  " + cmd + "\n" + p.fix
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
