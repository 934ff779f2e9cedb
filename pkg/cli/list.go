package cli

import (
	"context"
	"fmt"
	"slices"
	"time"

	"github.com/spf13/cobra"
	"k8s.io/apimachinery/pkg/util/duration"
	gatewayv1 "sigs.k8s.io/gateway-api/apis/v1"

	"github.com/kubectl-waypoint/kubectl-waypoint/pkg/enroll"
	"github.com/kubectl-waypoint/kubectl-waypoint/pkg/istio"
	"github.com/kubectl-waypoint/kubectl-waypoint/pkg/kube"
	"github.com/kubectl-waypoint/kubectl-waypoint/pkg/mesh"
	"github.com/kubectl-waypoint/kubectl-waypoint/pkg/render"
	"github.com/kubectl-waypoint/kubectl-waypoint/pkg/waypoint"
)

// ListOptions lists the waypoints of a namespace or of the cluster.
type ListOptions struct {
	IO *IOStreams

	AllNamespaces bool
	Selector      string
	Names         []string
	PageSize      int64
	// Watch prints changes as they happen after the list.
	Watch bool
	outputFlags

	namespace string
	clients   *kube.Clients
}

var listFormats = []string{"wide", "yaml", "json", "name"}

func newListCommand(f *Factory) *cobra.Command {
	o := &ListOptions{IO: f.IO}
	cmd := &cobra.Command{
		Use:     "list [flags]",
		Aliases: []string{"ls"},
		Short:   "List the waypoints of a namespace or of the whole cluster",
		Long: `List waypoint Gateways (classes istio-waypoint and istio-agentgateway-waypoint;
other Gateways never appear), sorted by namespace and name.

TRAFFIC TYPE is the one istiod uses: the Gateway's istio.io/waypoint-for label,
else its GatewayClass's, else service; a label that is there but empty is
shown as "" and serves nothing. PROGRAMMED is the Gateway's Programmed
condition, what --wait waits for. The list is read in pages, so a large
cluster is never loaded in one response.

With -o wide, BOUND says whether the waypoint has an address: istiod sends
traffic to it then, programmed or not. ADDRESS is its first address and how
many more it has (istiod gives it its Service's IP and hostname); AGE is the
Gateway's, as kubectl shows it. ALLOWED FROM is who may use it, read
from the listener istiod reads (the one the inbound-binding annotation names,
else the HBONE listener on 15008), in the words explain uses.

With -o wide, ENROLLED counts the namespaces, services, pods and
ServiceEntries whose own istio.io/use-waypoint label names the waypoint
(resources that inherit it from their namespace are not counted): one list
per kind across the cluster, whatever the number of waypoints.

With -o wide, REPLICAS, AUTOSCALE and BUDGET are what runs for the
waypoint, read from the objects istiod made for it (one list of
Deployments, HorizontalPodAutoscalers and PodDisruptionBudgets each):
ready/desired replicas of its Deployment, its autoscaler's min-max (and
current replicas, once it has run), and its disruption budget.`,
		Example: examples(f.Name, `
# List the waypoints of namespace default
kubectl-waypoint list -n default

# List every waypoint with its address and who may use it
kubectl-waypoint list -A -o wide

# List them as JSON for a script
kubectl-waypoint list -A -o json`),
		Args:        cobra.NoArgs,
		Annotations: map[string]string{fleetCommand: "true"},
		RunE: func(cmd *cobra.Command, args []string) error {
			return f.runClusters(cmd, o)
		},
	}
	cmd.Flags().BoolVarP(&o.AllNamespaces, "all-namespaces", "A", false, "List the waypoints of every namespace")
	o.addOutputFlags(cmd, listFormats...)
	cmd.Flags().BoolVarP(&o.Watch, "watch", "w", false, "After listing, print each waypoint again as it changes, until interrupted (-w as in kubectl get; on status and apply, -w is --wait)")
	cmd.Flags().StringVarP(&o.Selector, "selector", "l", "", "Only waypoints whose labels match this selector, e.g. istio.io/rev=canary")
	addNameFlag(cmd, f, &o.Names)
	cmd.Flags().Int64Var(&o.PageSize, "chunk-size", waypoint.DefaultPageSize, "Gateways read per request")
	return cmd
}

// Complete resolves the namespace and builds the clients.
func (o *ListOptions) Complete(f *Factory) error {
	var err error
	if err := f.checkAllNamespaces(o.AllNamespaces); err != nil {
		return err
	}
	o.namespace, o.clients, err = f.readScope(o.AllNamespaces)
	return err
}

// Validate checks the flags.
func (o *ListOptions) Validate() error {
	if err := o.validateOutput(); err != nil {
		return err
	}
	if err := o.validateWatch(); err != nil {
		return err
	}
	if err := validateNames(o.Names); err != nil {
		return err
	}
	if o.PageSize <= 0 {
		return usageErrorf("invalid --chunk-size %d: must be positive", o.PageSize)
	}
	return validateSelector("--selector", o.Selector)
}

// runOn lists the waypoints of the cluster of f.
func (o *ListOptions) runOn(ctx context.Context, f *Factory) (ending, error) {
	c := *o
	c.IO = f.IO
	if err := c.Complete(f); err != nil {
		return ending{}, err
	}
	return c.Run(ctx)
}

func (o *ListOptions) document() fleetDocument { return eachDocument }

// Run lists, and ends with the table or the document; other formats are
// printed here.
func (o *ListOptions) Run(ctx context.Context) (ending, error) {
	if o.Watch {
		return ending{}, o.runWatch(ctx)
	}
	keep := o.Output == render.FormatYAML || o.Output == render.FormatJSON || o.Output == "wide" || o.needsObjects()
	classes := mesh.NewClasses(o.clients.Gateway)
	wps, _, err := waypoint.List(ctx, o.clients.Gateway, waypoint.ListOptions{
		Namespace: o.namespace, LabelSelector: o.Selector, PageSize: o.PageSize, KeepGateway: keep, Classes: classes,
	})
	if err != nil {
		return ending{}, kube.Describe("list waypoints", err)
	}
	warnUnreadClasses(o.IO, classes)
	if len(o.Names) > 0 {
		wps = slices.DeleteFunc(wps, func(w mesh.Waypoint) bool { return !slices.Contains(o.Names, w.Name) })
	}
	if o.needsObjects() {
		items, err := render.Items(gateways(wps))
		if err != nil {
			return ending{}, err
		}
		if err := sortByFlag(o.SortBy, wps, items); err != nil {
			return ending{}, usageError(err)
		}
		if o.generic() {
			return ending{}, o.printGeneric(o.IO.Out, items)
		}
	}
	switch o.Output {
	case render.FormatYAML, render.FormatJSON:
		if !o.ShowManagedFields {
			for _, w := range wps {
				w.Gateway.ManagedFields = nil
			}
		}
		return ending{format: o.Output, doc: gatewayList(wps)}, nil
	case "name":
		for _, w := range wps {
			fmt.Fprintf(o.IO.Out, "gateway.gateway.networking.k8s.io/%s\n", w.Name)
		}
		return ending{}, nil
	}
	if len(wps) == 0 {
		o.IO.noneFound("waypoints", o.namespace)
		return ending{}, nil
	}
	header := []string{"NAME", "REVISION", "TRAFFIC TYPE", "PROGRAMMED"}
	var enrolled map[string]enroll.Counts
	var deployed waypoint.DeployedRead
	if o.Output == "wide" {
		header = append(append(header, "BOUND", "ADDRESS", "ALLOWED FROM", "ENROLLED"), append(deployedHeader, "AGE")...)
		enrolled = o.enrolled(ctx, wps)
		deployed = readDeployed(ctx, o.IO, o.clients, wps)
	}
	if o.AllNamespaces {
		header = append([]string{"NAMESPACE"}, header...)
	}
	t := render.NewTable(header...)
	t.NoHeaders = o.NoHeaders
	for _, w := range wps {
		row := []string{w.Name, orDefault(w.Revision, "default"), trafficCell(w.TrafficType), w.ProgrammedText()}
		if o.Output == "wide" {
			row = append(row, yesNo(w.Bound), addressCell(w.Addresses), w.AllowedFrom, enrolledCell(enrolled, w.Key()))
			row = append(append(row, deployedCells(deployed.ByWaypoint[w.Key()])...), ageCell(w.Created, time.Now()))
		}
		if o.AllNamespaces {
			row = append([]string{w.Namespace}, row...)
		}
		t.Append(row...)
	}
	return ending{table: t}, nil
}

// enrolled counts the resources labelled to use each waypoint, with one
// metadata list per kind across the cluster; nil, after a warning, when
// they cannot be read.
func (o *ListOptions) enrolled(ctx context.Context, wps []mesh.Waypoint) map[string]enroll.Counts {
	keys := make([]string, len(wps))
	for i := range wps {
		keys[i] = wps[i].Key()
	}
	counts, err := enroll.CountEnrolled(ctx, o.clients, keys)
	if err != nil {
		o.IO.Warnf("%v", kube.Describe("count the resources enrolled in the waypoints", err))
		return nil
	}
	return counts
}

func enrolledCell(counts map[string]enroll.Counts, key string) string {
	c, ok := counts[key]
	if !ok {
		return "<unknown>"
	}
	return c.String()
}

// gatewayList wraps waypoints in a v1 List, as kubectl prints lists.
func gatewayList(wps []mesh.Waypoint) map[string]any {
	items := make([]any, 0, len(wps))
	for _, gw := range gateways(wps) {
		items = append(items, gw)
	}
	return map[string]any{"apiVersion": "v1", "kind": "List", "items": items, "metadata": map[string]any{"resourceVersion": ""}}
}

// gateways are the Gateways of waypoints read with KeepGateway, with their
// apiVersion and kind set as kubectl prints them.
func gateways(wps []mesh.Waypoint) []*gatewayv1.Gateway {
	gws := make([]*gatewayv1.Gateway, len(wps))
	for i, w := range wps {
		w.Gateway.APIVersion, w.Gateway.Kind = "gateway.networking.k8s.io/v1", "Gateway"
		gws[i] = w.Gateway
	}
	return gws
}

// trafficCell shows an empty traffic type, which serves nothing, as "".
func trafficCell(t istio.TrafficType) string {
	if t == "" {
		return `""`
	}
	return string(t)
}

// addressCell is the first address, and how many more there are, as
// kubectl shows many endpoints: istiod gives a waypoint its Service's IP
// and hostname, and the hostname is <name>.<namespace>.svc.<domain>.
func addressCell(addrs []string) string {
	switch len(addrs) {
	case 0:
		return "<none>"
	case 1:
		return addrs[0]
	}
	return fmt.Sprintf("%s + %d more", addrs[0], len(addrs)-1)
}

// ageCell is kubectl's AGE of an object created at created.
func ageCell(created, now time.Time) string {
	if created.IsZero() {
		return "<unknown>"
	}
	return duration.HumanDuration(now.Sub(created))
}

func yesNo(b bool) string {
	if b {
		return "yes"
	}
	return "no"
}
