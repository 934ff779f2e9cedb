package cli

import (
	"context"
	"errors"
	"fmt"
	"io"
	"maps"
	"slices"
	"strings"

	"github.com/spf13/cobra"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/util/validation"

	"github.com/kubectl-waypoint/kubectl-waypoint/pkg/enroll"
	"github.com/kubectl-waypoint/kubectl-waypoint/pkg/istio"
	"github.com/kubectl-waypoint/kubectl-waypoint/pkg/kube"
	"github.com/kubectl-waypoint/kubectl-waypoint/pkg/mesh"
	"github.com/kubectl-waypoint/kubectl-waypoint/pkg/policy"
	"github.com/kubectl-waypoint/kubectl-waypoint/pkg/render"
	"github.com/kubectl-waypoint/kubectl-waypoint/pkg/waypoint"
)

// ExplainOptions tells which waypoint a resource's traffic uses and why, or
// which resources use a waypoint.
type ExplainOptions struct {
	IO   *IOStreams
	Tool string

	KindArg string
	Name    string
	Output  string

	waypoint  bool
	kind      enroll.Kind
	namespace string
	clients   *kube.Clients
}

func newExplainCommand(f *Factory) *cobra.Command {
	o := &ExplainOptions{IO: f.IO, Tool: f.Name}
	cmd := &cobra.Command{
		Use:   "explain {service|pod|serviceentry|workloadentry|namespace|waypoint} [NAME] [flags]",
		Short: "Explain which waypoint a resource's traffic uses, and why",
		Long: `Explain, by istiod's rules, which waypoint the traffic of a service, pod,
ServiceEntry, WorkloadEntry or namespace uses, and why:

  - a resource's own istio.io/use-waypoint label, when present (even empty),
    wins over its namespace's; the value none opts it out;
  - a waypoint named by the resource's own label that istiod cannot use
    leaves it without one: there is no fallback to the namespace's;
  - istiod uses a waypoint as soon as its Gateway has an address (bound),
    programmed or not;
  - services and ServiceEntries need a waypoint for service or all traffic,
    pods and WorkloadEntries one for workload or all (a mismatch inherited
    from the namespace just does not apply to a workload; named on it, it
    is an error); an empty istio.io/waypoint-for label serves nothing;
  - a waypoint in another namespace must admit the resource's namespace on
    the listener istiod reads (the inbound-binding listener, else HBONE);
  - a ServiceEntry that the mesh config's serviceEntryVisibility makes
    NAMESPACE-visible may not use a waypoint in another namespace;
  - ExternalName services, the services of waypoints and east-west
    gateways, and the pods of a waypoint never use one;
  - a service may split its traffic with a canary waypoint
    (istio.io/use-waypoint-canary and the istio.io/use-waypoint-canary-weight
    annotation);
  - the traffic of ingress gateways to a service or ServiceEntry goes
    through its waypoint only when istio.io/ingress-use-waypoint says true:
    its own label when present (even empty), else its namespace's; istiod
    reads the value with Go's strconv.ParseBool (true, True, TRUE, t, T and
    1 are true) and takes any other value as false, with a warning.

The reason is named as istiod names it (WaypointAccepted, WaypointIsNotReady,
AttachmentDenied, UnsupportedTrafficType, CrossNamespaceWaypointForbidden),
next to the istio.io/WaypointBound condition istiod wrote on the service,
ServiceEntry or WorkloadEntry, if any. When that condition says otherwise,
a note says so and istiod's condition is trusted. For a pod it also
explains the services that select it.

For a service, ServiceEntry or WorkloadEntry it then lists the L7 policies
on its traffic (routes, AuthorizationPolicy, RequestAuthentication,
WasmPlugin, Telemetry): those that target it and those that target its
waypoint, each enforced or not, as "policies" predicts it and istiod reports it.

"explain waypoint NAME" lists the namespaces, services, pods, ServiceEntries
and WorkloadEntries that use the waypoint: those labelled with it and those
that inherit it from an enrolled namespace.`,
		Example: examples(f.Name, `
# Which waypoint does traffic to the reviews service go through?
kubectl-waypoint explain service reviews -n default

# Which waypoint serves a pod, and the services that select it?
kubectl-waypoint explain pod reviews-v2-5b667bcbf8-spnnh -n default

# Which resources use the waypoint egress-gateway?
kubectl-waypoint explain waypoint egress-gateway -n common-infrastructure

# The same as JSON, for a script
kubectl-waypoint explain se istio-site -n cross-namespace-waypoint-consumer -o json

# Does traffic from ingress gateways to the reviews service take its waypoint too? (see "ingress")
kubectl-waypoint explain service reviews -n default -o yaml`),
		ValidArgsFunction: completeKindAndNames(f, []string{"service", "pod", "serviceentry", "workloadentry", "namespace", "waypoint"}, true),
		RunE: func(cmd *cobra.Command, args []string) error {
			if len(args) > 2 {
				return usageErrorf("explain takes one kind and one name, got %d arguments", len(args))
			}
			if len(args) > 0 {
				o.KindArg = args[0]
			}
			if len(args) > 1 {
				o.Name = args[1]
			}
			return f.runClusters(cmd, o)
		},
		Annotations: map[string]string{fleetCommand: "true"},
	}
	cmd.Flags().StringVarP(&o.Output, "output", "o", "", "Output format: {json|yaml}; text when unset")
	_ = cmd.RegisterFlagCompletionFunc("output", cobra.FixedCompletions(render.ObjectFormats, cobra.ShellCompDirectiveNoFileComp))
	return cmd
}

// Validate checks the arguments without a cluster.
func (o *ExplainOptions) Validate() error {
	if o.KindArg == "" {
		return usageErrorf("name what to explain: explain {service|pod|serviceentry|workloadentry|namespace|waypoint} NAME")
	}
	switch strings.ToLower(o.KindArg) {
	case "waypoint", "waypoints", "wp":
		o.waypoint = true
	default:
		kind, err := enroll.ParseKind(o.KindArg)
		if err != nil {
			return usageErrorf("cannot explain %q: the kinds are service (svc), pod (po), serviceentry (se), workloadentry (we), namespace (ns) and waypoint", o.KindArg)
		}
		o.kind = kind
	}
	if err := checkObjectFormat(o.Output); err != nil {
		return err
	}
	if o.Name == "" {
		if o.kind == enroll.KindNamespace && !o.waypoint {
			return nil // the current namespace
		}
		return usageErrorf("name the %s to explain", o.KindArg)
	}
	return checkValue("name", o.Name, validation.IsDNS1123Subdomain)
}

// Complete resolves the namespace and builds the clients.
func (o *ExplainOptions) Complete(f *Factory) error {
	var err error
	if o.namespace, err = f.Namespace(); err != nil {
		return err
	}
	if o.kind == enroll.KindNamespace && !o.waypoint && o.Name == "" {
		o.Name = o.namespace
	}
	o.clients, err = f.Clients()
	return err
}

// runOn explains on the cluster of f.
func (o *ExplainOptions) runOn(ctx context.Context, f *Factory) (ending, error) {
	c := *o
	c.IO = f.IO
	if err := c.Complete(f); err != nil {
		return ending{}, err
	}
	return c.Run(ctx)
}

func (o *ExplainOptions) document() fleetDocument { return eachDocument }

// Run reads, resolves and prints, or ends with the document of -o json.
func (o *ExplainOptions) Run(ctx context.Context) (ending, error) {
	reader := enroll.NewReader(o.clients)
	if o.waypoint {
		users, err := reader.ExplainWaypoint(ctx, o.namespace, o.Name)
		warnListGaps(o.IO, reader.Gaps, o.namespace+"/"+o.Name)
		warnAssumed(o.IO, reader)
		var notWaypoint *enroll.NotAWaypointError
		if errors.As(err, &notWaypoint) {
			return ending{}, usageError(err)
		}
		if err != nil {
			return ending{}, err
		}
		infra := o.infrastructure(ctx, users)
		if o.Output != "" {
			return ending{format: o.Output, doc: waypointExplanation{WaypointUsers: users, Infrastructure: infra}}, nil
		}
		if err := o.printWaypointUsers(users); err != nil {
			return ending{}, err
		}
		o.printInfrastructure(infra)
		return ending{}, nil
	}
	ex, err := reader.Explain(ctx, o.kind, o.namespace, o.Name)
	warnAssumed(o.IO, reader)
	if err != nil {
		return ending{}, err
	}
	warnUnreadWaypoints(o.IO, ex)
	warnIngressValues(o.IO, ex)
	policies, ok := o.policies(ctx, ex)
	if o.Output != "" {
		if ok {
			return ending{format: o.Output, doc: explanationWithPolicies{Explanation: ex, Policies: policies}}, nil
		}
		return ending{format: o.Output, doc: ex}, nil
	}
	o.printExplanation(o.IO.Out, ex, "")
	if ok {
		o.printPolicies(o.IO.Out, ex, policies)
	}
	return ending{}, nil
}

// waypointExplanation is explain -o json of a waypoint: its users and
// what istiod lays over its template.
type waypointExplanation struct {
	*enroll.WaypointUsers
	Infrastructure *waypoint.Infrastructure `json:"infrastructure,omitempty"`
}

// infrastructure reads what istiod lays over the waypoint's template, nil
// for a waypoint that does not exist or cannot be read (its users are the
// answer all the same).
func (o *ExplainOptions) infrastructure(ctx context.Context, u *enroll.WaypointUsers) *waypoint.Infrastructure {
	if u.Facts == nil {
		return nil
	}
	gw, err := o.clients.Gateway.GatewayV1().Gateways(o.namespace).Get(ctx, o.Name, metav1.GetOptions{})
	if err != nil {
		o.IO.Warnf("could not read what istiod deploys for waypoint %s: %v", u.Waypoint, kube.Describe("read waypoint "+u.Waypoint, err))
		return nil
	}
	infra, err := waypoint.ReadInfrastructure(ctx, o.clients, gw, mesh.MeshConfigNamespace)
	if err != nil {
		o.IO.Warnf("could not read what istiod deploys for waypoint %s: %v", u.Waypoint, err)
		return nil
	}
	return infra
}

// printInfrastructure says what istiod lays over the waypoint's template
// and what it made of it.
func (o *ExplainOptions) printInfrastructure(in *waypoint.Infrastructure) {
	if in == nil {
		return
	}
	w := o.IO.Out
	fmt.Fprintf(w, "infrastructure (istiod's parameters, docs/production.md):\n")
	switch {
	case in.DefaultsUnknown != "":
		fmt.Fprintf(w, "  class defaults: unknown (%s)\n", in.DefaultsUnknown)
	case in.ClassDefaults == "":
		fmt.Fprintf(w, "  class defaults: none\n")
	case in.ClassDefaultsForeign:
		fmt.Fprintf(w, "  class defaults: configmap %s (not written by kubectl-waypoint)\n", in.ClassDefaults)
	default:
		fmt.Fprintf(w, "  class defaults: configmap %s\n", in.ClassDefaults)
	}
	switch {
	case in.Parameters == "":
		fmt.Fprintf(w, "  own parameters: none\n")
	case in.ParametersMissing:
		fmt.Fprintf(w, "  own parameters: configmap %s, which does not exist\n", in.Parameters)
	default:
		fmt.Fprintf(w, "  own parameters: configmap %s\n", in.Parameters)
	}
	for _, key := range render.OverlayKeys {
		overlay, ok := in.Overlays[key]
		if !ok {
			continue
		}
		fmt.Fprintf(w, "  %s (merged, the waypoint's over the class's):\n", key)
		for _, line := range strings.Split(strings.TrimRight(overlay, "\n"), "\n") {
			fmt.Fprintf(w, "    %s\n", line)
		}
	}
	for _, kv := range [][2]any{{"labels", in.Labels}, {"annotations", in.Annotations}} {
		if m := kv[1].(map[string]string); len(m) > 0 {
			var pairs []string
			for _, k := range slices.Sorted(maps.Keys(m)) {
				pairs = append(pairs, k+"="+m[k])
			}
			fmt.Fprintf(w, "  %s on what istiod creates: %s\n", kv[0], strings.Join(pairs, ", "))
		}
	}
	if in.Problem != "" {
		fmt.Fprintf(w, "  istiod cannot render the waypoint from them: %s; it only logs this, and the Deployment stays as it was\n", in.Problem)
	}
	if a := in.Accepted; a != nil {
		line := fmt.Sprintf("  istiod: Accepted=%s (%s)", a.Status, a.Reason)
		if a.Status != "True" && a.Message != "" {
			line += ": " + a.Message
		}
		fmt.Fprintf(w, "%s\n", line)
	}
}

// explanationWithPolicies is explain -o json of a Service, ServiceEntry or
// WorkloadEntry: the explanation and the L7 policies on its traffic.
type explanationWithPolicies struct {
	*enroll.Explanation
	Policies []policy.Policy `json:"policies"`
}

// policyTargetKind is the targetRef kind of the objects whose policies
// explain lists.
var policyTargetKind = map[enroll.Kind]string{
	enroll.KindService: "Service", enroll.KindServiceEntry: "ServiceEntry", enroll.KindWorkloadEntry: "WorkloadEntry",
}

// policies reads the L7 policies on the object and on the waypoint it
// uses; ok is false for other kinds, or after a warning when they cannot
// be read (explain still answers which waypoint is used).
func (o *ExplainOptions) policies(ctx context.Context, ex *enroll.Explanation) ([]policy.Policy, bool) {
	kind, ok := policyTargetKind[ex.Kind]
	if !ok {
		return nil, false
	}
	waypoint := ""
	if ex.Uses {
		waypoint = ex.Waypoint
	}
	ps, err := policy.NewReader(o.clients).ListFor(ctx, kind, ex.Namespace, ex.Name, waypoint)
	if err != nil {
		o.IO.Warnf("cannot list the L7 policies on its traffic: %v", err)
		return nil, false
	}
	if ps == nil {
		ps = []policy.Policy{}
	}
	return ps, true
}

// printPolicies lists the L7 policies on the object's traffic and whether
// a waypoint enforces each.
func (o *ExplainOptions) printPolicies(w io.Writer, ex *enroll.Explanation, ps []policy.Policy) {
	if len(ps) == 0 {
		fmt.Fprintln(w, "L7 policies: none target it or its waypoint")
		return
	}
	fmt.Fprintln(w, "L7 policies on its traffic:")
	for _, p := range ps {
		for _, a := range p.Attachments {
			line := fmt.Sprintf("  %s %s/%s on %s: ", p.Kind, p.Namespace, p.Name, a.Target)
			switch {
			case a.Enforced:
				line += "enforced by " + a.Waypoint
			case a.Target.Kind != "Gateway" && a.Reason == policy.ReasonAncestorNotBound:
				line += fmt.Sprintf("not enforced: %s uses no waypoint", ex.Name)
			default:
				line += "not enforced: " + a.Message
			}
			line += " (" + a.Reason + ")"
			if c := p.Condition; c != nil && c.ObservedGeneration == p.Generation {
				line += fmt.Sprintf("; istiod reports %s=%s, reason %s", c.Type, c.Status, c.Reason)
			}
			if a.Parent != nil {
				line += "; istiod reports the route " + a.Parent.String()
				if w := a.Parent.ResolvedWaypoints; w != nil && w.Message != "" {
					line += " (" + w.Message + ")"
				}
			}
			fmt.Fprintln(w, line)
		}
	}
}

// verdictText says in words what istiod's condition says.
func verdictText(ex *enroll.Explanation) string {
	if ex.Condition.Status == "True" {
		return "uses a waypoint, says istiod: " + ex.Condition.Message
	}
	if ex.Condition.Message != "" {
		return "uses no waypoint, says istiod: " + ex.Condition.Message
	}
	return "uses no waypoint, says istiod"
}

func subjectOf(r enroll.Resolution) string {
	return enroll.RefOf(r.Kind, r.Namespace, r.Name).String()
}

// printExplanation writes an explanation as text, each line prefixed by indent.
func (o *ExplainOptions) printExplanation(w io.Writer, ex *enroll.Explanation, indent string) {
	r := ex.Resolution
	line := fmt.Sprintf("%s: %s (%s)", subjectOf(r), r.Message, r.Reason)
	if ex.Verdict != "" && ex.Verdict != r.Reason {
		// istiod's own condition is trusted over the rules.
		line = fmt.Sprintf("%s: %s (%s, by istiod's condition)", subjectOf(r), verdictText(ex), ex.Verdict)
	}
	if indent == "" {
		o.IO.Successf("%s", line)
	} else {
		fmt.Fprintln(w, indent+line)
	}
	for _, s := range r.Steps {
		fmt.Fprintf(w, "%s  - %s\n", indent, s)
	}
	if fix := o.fix(r); fix != "" && ex.UnreadWaypoint == "" {
		fmt.Fprintf(w, "%s  fix: %s\n", indent, strings.ReplaceAll(fix, "\n", "\n"+indent+"  "))
	}
	if c := r.Canary; c != nil {
		if c.Active {
			fmt.Fprintf(w, "%s  canary: %s takes %d%%, %s %d%%\n", indent, c.Waypoint, c.Weight, r.Waypoint, 100-c.Weight)
		} else {
			fmt.Fprintf(w, "%s  canary: %s takes nothing (%s); all traffic goes to %s\n", indent, c.Waypoint, c.Reason, r.Waypoint)
		}
	}
	if in := r.Ingress; in != nil {
		fmt.Fprintf(w, "%s  ingress: %s\n", indent, in.Message)
	}
	if r.Kind.HasCondition() {
		if c := ex.Condition; c != nil {
			fmt.Fprintf(w, "%s  istiod reports %s=%s, reason %s", indent, c.Type, c.Status, c.Reason)
			if c.Message != "" {
				fmt.Fprintf(w, ": %s", c.Message)
			}
			fmt.Fprintln(w)
		}
		if ex.Disagreement != "" {
			fmt.Fprintf(w, "%s  note: %s\n", indent, ex.Disagreement)
		}
	}
	if r.Kind != enroll.KindPod {
		return
	}
	if len(ex.Services) == 0 {
		fmt.Fprintf(w, "%straffic addressed to its services: no service in namespace %s selects the pod\n", indent, r.Namespace)
		return
	}
	fmt.Fprintf(w, "%straffic addressed to its services:\n", indent)
	for i := range ex.Services {
		o.printExplanation(w, &ex.Services[i], indent+"  ")
	}
}

// warnIngressValues warns, once each, about the ingress labels of the
// explanation (and of a pod's services) that istiod cannot read as true or
// false.
func warnIngressValues(io *IOStreams, ex *enroll.Explanation) {
	seen := map[string]bool{}
	for _, e := range append([]enroll.Explanation{*ex}, ex.Services...) {
		if in := e.Ingress; in != nil && in.Warning != "" && !seen[in.Warning] {
			seen[in.Warning] = true
			io.Warnf("%s", in.Warning)
		}
	}
}

// fix says what to do about a problem.
func (o *ExplainOptions) fix(r enroll.Resolution) string {
	if !r.Problem {
		return ""
	}
	ns, name, _ := strings.Cut(r.Waypoint, "/")
	switch r.Reason {
	case enroll.ReasonNotReady:
		if r.Facts == nil {
			consumer := r.Namespace
			if r.Kind == enroll.KindNamespace {
				consumer = r.Name
			}
			return "apply the waypoint: " + applyForMissing(o.Tool, r.Kind, ns, name, []string{consumer})
		}
		return fmt.Sprintf("check that istiod runs and programs it: %s status -n %s %s --wait", o.Tool, ns, name)
	case enroll.ReasonAttachmentDenied:
		consumer := r.Namespace
		if r.Kind == enroll.KindNamespace {
			consumer = r.Name
		}
		return attachmentFix(o.Tool, r.Facts, []string{consumer})
	case enroll.ReasonUnsupportedTrafficType:
		need := istio.TrafficService
		if r.Kind.IsWorkload() {
			need = istio.TrafficWorkload
		}
		fix := fmt.Sprintf("name a waypoint applied with --for %s", need)
		if cmd, ok := applyCommand(o.Tool, r.Facts, func(a *applyArgs) { a.forType = string(istio.TrafficAll) }); ok {
			fix = "let the waypoint take both kinds of traffic: " + cmd + "\nor " + fix
		}
		return fix
	}
	return ""
}

func (o *ExplainOptions) printWaypointUsers(u *enroll.WaypointUsers) error {
	w := o.IO.Out
	if u.Facts == nil {
		o.IO.Successf("waypoint %s does not exist", u.Waypoint)
	} else {
		f := u.Facts
		o.IO.Successf("waypoint %s: traffic type %s (%s), %s", u.Waypoint, f.TrafficType.Display(), trafficSource(f), f.StateText())
		fmt.Fprintf(w, "  its %s admits %s\n", f.ListenerText(), f.AllowedFrom)
	}
	if len(u.Users) == 0 {
		fmt.Fprintf(w, "no namespace, service, pod or ServiceEntry names waypoint %s\n", u.Waypoint)
		return nil
	}
	t := render.NewTable("KIND", "NAMESPACE", "NAME", "VIA", "USES", "REASON")
	for _, r := range u.Users {
		via := "own label"
		if r.Source == enroll.SourceNamespace {
			via = "namespace"
		}
		uses := "no"
		if r.Uses {
			uses = "yes"
		}
		t.Append(string(r.Kind), orDefault(r.Namespace, "-"), r.Name, via, uses, r.Reason)
	}
	return t.Render(w)
}
