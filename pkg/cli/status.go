package cli

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"time"

	"github.com/spf13/cobra"

	"github.com/kubectl-waypoint/kubectl-waypoint/pkg/kube"
	"github.com/kubectl-waypoint/kubectl-waypoint/pkg/mesh"
	"github.com/kubectl-waypoint/kubectl-waypoint/pkg/render"
	"github.com/kubectl-waypoint/kubectl-waypoint/pkg/waypoint"
)

// StatusOptions shows, and optionally waits for, the readiness of waypoints.
type StatusOptions struct {
	IO *IOStreams

	Names         []string
	AllNamespaces bool
	Wait          waitFlags
	// Compare: over several clusters, end with what the drift gate
	// compares instead of the status.
	Compare bool
	outputFlags

	namespace string
	clients   *kube.Clients
	tool      string
}

func newStatusCommand(f *Factory) *cobra.Command {
	o := &StatusOptions{IO: f.IO, tool: f.Name}
	cmd := &cobra.Command{
		Use:   "status [NAME...] [flags]",
		Short: "Show whether waypoints are programmed and have an address",
		Long: `Show the Programmed condition of the waypoints in a namespace (or all with -A),
or only of the named ones. It reads them with one list request; --wait then
watches them, with one watch, until all are ready. On timeout it still prints
the table, showing which are not ready and why, and exits with code 3.

Ready means programmed (Programmed=True) with an address. PROGRAMMED and
REASON are the Gateway's Programmed condition. BOUND is whether the waypoint
has an address at all: istiod sends traffic to it then, even when it is not
programmed (an address stays after the proxy degrades). REPLICAS is
ready/desired of the Deployment istiod made for the waypoint, as kubectl get
deployment shows it. -o wide adds AUTOSCALE, its HorizontalPodAutoscaler's
min-max (and current replicas, once it has run), BUDGET, its
PodDisruptionBudget, the addresses and the condition's message. What runs is
read from the objects istiod made, with one list of each kind, never from
the waypoint's parameters.

A waypoint that runs one replica (or autoscales from one) without a
disruption budget, and that resources are enrolled in, gets a warning: a
node drain would cut their traffic. The warning gives the apply command
that adds a second replica and a budget.

With several clusters (--context a,b, --all-contexts, --context-selector) the
table gets a CONTEXT column; --compare instead prints where the clusters
differ (a waypoint missing in one, its class, traffic type, revision or
allowed namespaces, a namespace enrolled in one and not another) and exits 1
when they do.`,
		Example: examples(f.Name, `
# Show the status of the waypoints of namespace default
kubectl-waypoint status -n default

# Wait up to two minutes for every waypoint in the cluster to be ready
kubectl-waypoint status -A --wait --timeout 2m

# Gate a pipeline on drift: exit 1 when the clusters' waypoints or enrolled namespaces differ
kubectl-waypoint status -A --context prod-eu,prod-us --compare`),
		Annotations: map[string]string{fleetCommand: "true"},
		RunE: func(cmd *cobra.Command, args []string) error {
			o.Names = append(o.Names, args...)
			return f.runClusters(cmd, o)
		},
	}
	cmd.Flags().BoolVarP(&o.AllNamespaces, "all-namespaces", "A", false, "Show the waypoints of every namespace")
	o.addOutputFlags(cmd, append([]string{"wide"}, render.ObjectFormats...)...)
	o.Wait.addFlags(cmd.Flags(), "every waypoint is")
	addNameFlag(cmd, f, &o.Names)
	addCompareFlag(cmd, &o.Compare)
	cmd.ValidArgsFunction = completeWaypointArgs(f)
	return cmd
}

// Complete resolves the namespace and builds the clients.
func (o *StatusOptions) Complete(f *Factory) error {
	var err error
	if err := f.checkAllNamespaces(o.AllNamespaces); err != nil {
		return err
	}
	o.namespace, o.clients, err = f.readScope(o.AllNamespaces)
	return err
}

// Validate checks the flags.
func (o *StatusOptions) Validate() error {
	if err := o.validateOutput(); err != nil {
		return err
	}
	if err := validateNames(o.Names); err != nil {
		return err
	}
	if o.AllNamespaces && len(o.Names) > 0 {
		return usageErrorf("waypoint names need one namespace: drop -A or the names")
	}
	return o.Wait.validate()
}

// WaypointStatus is one row of status, as printed with -o json|yaml.
type WaypointStatus struct {
	// Context is the kubeconfig context of the cluster, when status read
	// several; empty otherwise.
	Context   string `json:"context,omitempty"`
	Namespace string `json:"namespace"`
	Name      string `json:"name"`
	Ready     bool   `json:"ready"`
	// Bound is true when the waypoint has an address: istiod sends it
	// traffic, programmed or not.
	Bound     bool     `json:"bound"`
	Status    string   `json:"status"`
	Type      string   `json:"type"`
	Reason    string   `json:"reason"`
	Message   string   `json:"message"`
	Addresses []string `json:"addresses"`
	// What runs for the waypoint: its Deployment's replicas, its
	// autoscaler and its budget, read from what istiod made.
	waypoint.Deployed

	// created is when the Gateway was created, for AGE; it travels with
	// the row when --sort-by reorders the rows.
	created time.Time
}

// runOn shows the status of the waypoints of the cluster of f.
func (o *StatusOptions) runOn(ctx context.Context, f *Factory) (ending, error) {
	c := *o
	c.IO = f.IO
	if err := c.Complete(f); err != nil {
		return ending{}, err
	}
	return c.Run(ctx)
}

func (o *StatusOptions) document() fleetDocument { return oneList }

// statusRows are status's document; over several clusters, one list.
type statusRows []WaypointStatus

func (rows statusRows) inContext(context string) []any {
	out := make([]any, len(rows))
	for i, r := range rows {
		r.Context = context
		out[i] = r
	}
	return out
}

// Run reads the waypoints, waits if asked, and ends with their status.
func (o *StatusOptions) Run(ctx context.Context) (ending, error) {
	classes := mesh.NewClasses(o.clients.Gateway)
	wps, rv, err := waypoint.List(ctx, o.clients.Gateway, waypoint.ListOptions{Namespace: o.namespace, SkipClasses: !o.Compare, Classes: classes, KeepGateway: !o.Compare})
	if err != nil {
		return ending{}, kube.Describe("list waypoints", err)
	}
	warnUnreadClasses(o.IO, classes)
	if len(o.Names) > 0 {
		wps = slices.DeleteFunc(wps, func(w mesh.Waypoint) bool { return !slices.Contains(o.Names, w.Name) })
		for _, n := range o.Names {
			if !slices.ContainsFunc(wps, func(w mesh.Waypoint) bool { return w.Name == n }) {
				return ending{}, fmt.Errorf("waypoint %s/%s not found", o.namespace, n)
			}
		}
	}
	if o.Compare {
		snap, err := snapshot(ctx, o.clients, o.namespace, wps)
		return ending{snap: snap}, err
	}
	if len(wps) == 0 {
		o.IO.noneFound("waypoints", o.namespace)
		return ending{}, nil
	}
	var waitErr error
	if o.Wait.wait {
		waiting := map[string]*mesh.Waypoint{}
		for i := range wps {
			waiting[wps[i].Key()] = &wps[i]
		}
		wctx, cancel := context.WithTimeout(ctx, o.Wait.timeout)
		defer cancel()
		waitErr = waypoint.WaitReady(wctx, o.clients.Gateway, waypoint.WaitScope{Namespace: o.namespace, ResourceVersion: rv}, waiting)
		switch {
		case errors.Is(waitErr, context.DeadlineExceeded):
			notReady := 0
			for _, w := range wps {
				if !w.Ready() {
					notReady++
				}
			}
			waitErr = timeoutError(fmt.Errorf("timed out after %s: %d of %d waypoints not ready", o.Wait.timeout, notReady, len(wps)))
		case waitErr != nil:
			waitErr = kube.Describe("watch waypoints", waitErr)
		}
	}
	deployed := readDeployed(ctx, o.IO, o.clients, wps)
	warnExposed(ctx, o.IO, o.clients, o.tool, wps, deployed, o.scope(wps))
	end, err := o.end(wps, deployed)
	if err != nil {
		return ending{}, err
	}
	return end, waitErr
}

// scope are the namespaces status reads: its one namespace, or those of
// the waypoints with -A.
func (o *StatusOptions) scope(wps []mesh.Waypoint) []string {
	if o.namespace != "" {
		return []string{o.namespace}
	}
	var nss []string
	for _, w := range wps {
		if !slices.Contains(nss, w.Namespace) {
			nss = append(nss, w.Namespace)
		}
	}
	return nss
}

// end is the status of wps: a table, a document, or printed here in the
// other formats.
func (o *StatusOptions) end(wps []mesh.Waypoint, deployed waypoint.DeployedRead) (ending, error) {
	rows := make(statusRows, len(wps))
	for i, w := range wps {
		r := WaypointStatus{Namespace: w.Namespace, Name: w.Name, Ready: w.Ready(), Bound: w.Bound, Status: "Unknown", Type: "Programmed", Addresses: w.Addresses, created: w.Created,
			Deployed: deployed.ByWaypoint[w.Key()]}
		if c := w.Programmed; c != nil {
			r.Status, r.Reason, r.Message = string(c.Status), c.Reason, c.Message
		}
		rows[i] = r
	}
	if o.needsObjects() {
		items, err := render.Items(rows)
		if err != nil {
			return ending{}, err
		}
		if err := sortByFlag(o.SortBy, rows, items); err != nil {
			return ending{}, usageError(err)
		}
		if o.generic() {
			return ending{}, o.printGeneric(o.IO.Out, items)
		}
	}
	if o.Output != "" && o.Output != "wide" {
		return ending{format: o.Output, doc: rows}, nil
	}
	header := []string{"NAME", "READY", "PROGRAMMED", "REASON", "BOUND", "REPLICAS", "AGE"}
	wide := o.Output == "wide"
	if wide {
		header = append(header, "AUTOSCALE", "BUDGET", "ADDRESS", "MESSAGE")
	}
	if o.AllNamespaces {
		header = append([]string{"NAMESPACE"}, header...)
	}
	t := render.NewTable(header...)
	t.NoHeaders = o.NoHeaders
	now := time.Now()
	for _, r := range rows {
		row := []string{r.Name, yesNo(r.Ready), r.Status, orDefault(r.Reason, "<none>"), yesNo(r.Bound), replicasCell(r.Deployed), ageCell(r.created, now)}
		if wide {
			row = append(row, autoscaleCell(r.Deployed), budgetCell(r.Deployed), addressCell(r.Addresses), orDefault(r.Message, "<none>"))
		}
		if o.AllNamespaces {
			row = append([]string{r.Namespace}, row...)
		}
		t.Append(row...)
	}
	return ending{table: t}, nil
}
