package cli

import (
	"context"
	"fmt"

	"github.com/spf13/cobra"

	"github.com/kubectl-waypoint/kubectl-waypoint/pkg/kube"
	"github.com/kubectl-waypoint/kubectl-waypoint/pkg/policy"
	"github.com/kubectl-waypoint/kubectl-waypoint/pkg/render"
)

// PoliciesOptions audits the L7 policies that take effect only through a waypoint.
type PoliciesOptions struct {
	IO *IOStreams

	AllNamespaces bool
	All           bool
	outputFlags

	namespace string
	clients   *kube.Clients
}

func newPoliciesCommand(f *Factory) *cobra.Command {
	o := &PoliciesOptions{IO: f.IO}
	cmd := &cobra.Command{
		Use:   "policies [flags]",
		Short: "List the L7 policies that no waypoint enforces",
		Long: `List the Layer 7 policies that take effect only in a waypoint and that no
waypoint enforces: HTTPRoute, GRPCRoute, TCPRoute and TLSRoute with a Service,
ServiceEntry or waypoint as parent, and AuthorizationPolicy,
RequestAuthentication, WasmPlugin and Telemetry with targetRefs. Kinds whose
CRD is not installed are skipped. Each kind is listed once.

A policy is enforced when its target is a waypoint that istiod knows (it has
an address), or a Service or ServiceEntry bound to a waypoint that serves its
traffic, by the rules explain applies. On an AuthorizationPolicy istiod writes
the WaypointAccepted condition; when it has one for the current generation,
ENFORCED and REASON are istiod's. REASON is Accepted, AncestorNotBound (the
target uses no waypoint), TargetNotFound, Invalid or PartiallyInvalid (some
targets are not enforced). ISTIOD is what istiod wrote: WaypointAccepted on
an AuthorizationPolicy, and on a route its status for that parent (Accepted,
ResolvedRefs); istiod accepts a route on a Service that uses no waypoint,
which is then not enforced all the same. -o wide adds MESSAGE, the reason in
words (istiod's message when its condition decides), such as why a route
istiod accepted is not enforced.

The exit code is 1 when any policy in the scope is not enforced, so that the
command can gate a pipeline; 0 when every one is.`,
		Example: examples(f.Name, `
# List the policies of namespace default that no waypoint enforces
kubectl-waypoint policies -n default

# Fail a pipeline when any policy in the cluster is not enforced
kubectl-waypoint policies -A -o json > unenforced.json

# List every L7 policy, enforced or not
kubectl-waypoint policies -A --all`),
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			if err := o.Validate(); err != nil {
				return err
			}
			if err := o.Complete(f); err != nil {
				return err
			}
			return o.Run(cmd.Context())
		},
	}
	cmd.Flags().BoolVarP(&o.AllNamespaces, "all-namespaces", "A", false, "Check the policies of every namespace")
	cmd.Flags().BoolVar(&o.All, "all", false, "List the enforced policies too")
	o.addOutputFlags(cmd, append([]string{"wide"}, render.ObjectFormats...)...)
	return cmd
}

// Complete resolves the namespace and builds the clients.
func (o *PoliciesOptions) Complete(f *Factory) error {
	if err := f.checkAllNamespaces(o.AllNamespaces); err != nil {
		return err
	}
	var err error
	o.namespace, o.clients, err = f.readScope(o.AllNamespaces)
	return err
}

// Validate checks the flags.
func (o *PoliciesOptions) Validate() error {
	return o.validateOutput()
}

// policyRecord is one policy in -o json.
type policyRecord struct {
	policy.Policy
	// VerdictEnforced and VerdictReason are the verdict: istiod's when it
	// wrote a condition for the current generation, else the prediction.
	VerdictEnforced bool   `json:"verdictEnforced"`
	VerdictReason   string `json:"verdictReason"`
}

// Run reads the policies, prints those not enforced (all with --all) and
// fails when any is not enforced.
func (o *PoliciesOptions) Run(ctx context.Context) error {
	res, err := policy.NewReader(o.clients).List(ctx, o.namespace)
	if err != nil {
		return err
	}
	noGatewayAPI := res.GatewayAPIMissing()
	if noGatewayAPI {
		o.IO.Warnf("the Gateway API CRDs are not installed, so no waypoint can exist and no L7 policy is enforced; install them with: %s", kube.GatewayAPIInstall)
	}
	records := []policyRecord{}
	unenforced := 0
	for _, p := range res.Policies {
		enforced, reason := p.Verdict()
		if !enforced || reason == policy.ReasonPartiallyInvalid {
			unenforced++
		} else if !o.All {
			continue
		}
		records = append(records, policyRecord{Policy: p, VerdictEnforced: enforced, VerdictReason: reason})
	}
	if len(res.Policies) == 0 && noGatewayAPI && !render.IsObjectFormat(o.Output) && !o.generic() {
		// "Every L7 policy is enforced" would be true of none at all.
		o.IO.noneFound("L7 policies", o.namespace)
		return nil
	}
	if err := o.print(records); err != nil {
		return err
	}
	if unenforced > 0 {
		return &ExitError{Code: ExitFailed, Err: fmt.Errorf("%d of %d L7 policies in scope are not enforced by a waypoint", unenforced, len(res.Policies))}
	}
	return nil
}

func (o *PoliciesOptions) print(records []policyRecord) error {
	if o.needsObjects() {
		items, err := render.Items(records)
		if err != nil {
			return err
		}
		if err := sortByFlag(o.SortBy, records, items); err != nil {
			return usageError(err)
		}
		if o.generic() {
			return o.printGeneric(o.IO.Out, items)
		}
	}
	if render.IsObjectFormat(o.Output) {
		return render.Object(o.IO.Out, o.Output, map[string]any{"policies": records})
	}
	if len(records) == 0 {
		if o.All {
			o.IO.noneFound("L7 policies", o.namespace)
		} else {
			fmt.Fprintln(o.IO.ErrOut, "Every L7 policy in scope is enforced by a waypoint.")
		}
		return nil
	}
	wide := o.Output == "wide"
	header := []string{"POLICY", "KIND", "TARGET", "WAYPOINT", "ENFORCED", "REASON", "ISTIOD"}
	if wide {
		header = append(header, "MESSAGE")
	}
	if o.AllNamespaces {
		header = append([]string{"NAMESPACE"}, header...)
	}
	t := render.NewTable(header...)
	t.NoHeaders = o.NoHeaders
	for _, r := range records {
		for i, a := range r.Attachments {
			enforced := yesNo(a.Enforced)
			if i == 0 && len(r.Attachments) == 1 {
				enforced = yesNo(r.VerdictEnforced)
			}
			reason, message := a.Reason, a.Message
			if len(r.Attachments) == 1 {
				reason, message = r.VerdictReason, r.VerdictMessage()
			}
			row := []string{r.Name, r.Kind, a.Target.String(), orDefault(a.Waypoint, "<none>"), enforced, reason, istiodStatus(r.Policy, a)}
			if wide {
				row = append(row, orDefault(message, "<none>"))
			}
			if o.AllNamespaces {
				row = append([]string{r.Namespace}, row...)
			}
			t.Append(row...)
		}
	}
	return t.Render(o.IO.Out)
}

// istiodStatus is what istiod wrote on a policy for one target: its
// WaypointAccepted on an AuthorizationPolicy, the route's parent
// conditions on a route; <none> when it wrote nothing.
func istiodStatus(p policy.Policy, a policy.Attachment) string {
	if a.Parent != nil {
		return a.Parent.String()
	}
	if c := p.Condition; c != nil && c.ObservedGeneration == p.Generation {
		return c.Type + "=" + string(c.Status)
	}
	return "<none>"
}
