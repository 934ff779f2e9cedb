package cli

import (
	"context"
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

// DeleteOptions deletes waypoints, and only waypoints.
type DeleteOptions struct {
	IO *IOStreams

	Names          []string
	All            bool
	Revision       string
	AllNamespaces  bool
	Unenroll       bool
	IgnoreNotFound bool
	FieldManager   string
	DryRunFlag     string
	Output         string
	bulkFlags

	namespaces []string // empty with -A
	dryRun     kube.DryRun
	clients    *kube.Clients
}

func newDeleteCommand(f *Factory) *cobra.Command {
	o := &DeleteOptions{IO: f.IO}
	cmd := &cobra.Command{
		Use:   "delete {NAME... | --all | --revision REV} [flags]",
		Short: "Delete waypoints, and warn about what still uses them",
		Long: `Delete waypoints by name, all of them (--all) or those of one revision
(--revision), in a namespace or, with -A, in every namespace. Only waypoint
Gateways are ever deleted: a named Gateway of another class is refused.

Afterwards it looks for namespaces, services, pods and ServiceEntries whose
istio.io/use-waypoint label still points at a deleted waypoint and prints the
command that unenrolls them; --unenroll removes those labels itself.`,
		Example: examples(f.Name, `
# Delete the waypoint named waypoint in namespace default
kubectl-waypoint delete waypoint -n default

# Delete every waypoint of namespace default and unenroll what used them
kubectl-waypoint delete --all -n default --unenroll

# Delete the waypoints of revision canary everywhere
kubectl-waypoint delete --revision canary -A

# Show what would be deleted
kubectl-waypoint delete --all -A --dry-run

# Clean up the waypoints of every namespace of a team, with a JSON report
kubectl-waypoint delete --all --unenroll --namespace-selector team=payments -o json`),
		RunE: func(cmd *cobra.Command, args []string) error {
			o.Names = append(o.Names, args...)
			if err := o.Validate(); err != nil {
				return err
			}
			if err := o.Complete(cmd.Context(), f); err != nil {
				return err
			}
			return o.Run(cmd.Context())
		},
	}
	fs := cmd.Flags()
	fs.BoolVar(&o.All, "all", false, "Delete every waypoint in the namespace (or, with -A, the cluster)")
	fs.StringVarP(&o.Revision, "revision", "r", "", "Delete the waypoints labelled with this istio.io/rev")
	fs.BoolVarP(&o.AllNamespaces, "all-namespaces", "A", false, "With --all or --revision, act on every namespace")
	fs.BoolVar(&o.Unenroll, "unenroll", false, "Remove the enrollment labels that still name a deleted waypoint")
	fs.BoolVar(&o.IgnoreNotFound, "ignore-not-found", false, "Treat a named waypoint that does not exist as deleted")
	fs.StringVarP(&o.Output, "output", "o", "", "Report every object and a summary: {yaml|json}")
	o.addBulkFlags(fs)
	addNameFlag(cmd, &o.Names)
	addDryRunFlag(cmd, &o.DryRunFlag)
	addFieldManagerFlag(cmd, &o.FieldManager)
	return cmd
}

// Validate checks the arguments and flags.
func (o *DeleteOptions) Validate() error {
	var err error
	if o.dryRun, err = parseDryRun(o.IO, o.DryRunFlag); err != nil {
		return err
	}
	if err := validateFieldManager(o.FieldManager); err != nil {
		return err
	}
	every := o.All || o.Revision != ""
	switch {
	case every && len(o.Names) > 0:
		return usageErrorf("either name waypoints or use --all/--revision, not both")
	case !every && len(o.Names) == 0:
		return usageErrorf("name the waypoints to delete, or use --all or --revision")
	case o.AllNamespaces && !every:
		return usageErrorf("-A needs --all or --revision")
	case o.AllNamespaces && o.NamespaceSelector != "":
		return usageErrorf("-A and --namespace-selector choose namespaces in two ways: use one")
	case o.Output != "" && !render.IsObjectFormat(o.Output):
		return usageErrorf("unknown output format %q: must be one of yaml, json", o.Output)
	}
	if err := o.validateBulk(); err != nil {
		return err
	}
	for _, n := range o.Names {
		if n == istio.NoWaypoint {
			return usageErrorf(`invalid waypoint name "none": it is reserved and never names a waypoint`)
		}
	}
	if err := validateNames(o.Names); err != nil {
		return err
	}
	return checkValue("--revision", o.Revision, validation.IsValidLabelValue)
}

// Complete resolves the namespaces and builds the clients.
func (o *DeleteOptions) Complete(ctx context.Context, f *Factory) error {
	var err error
	if !o.AllNamespaces {
		if o.namespaces, err = f.Namespaces(ctx, o.NamespaceSelector); err != nil {
			return err
		}
	}
	o.clients, err = f.writeClients(o.FieldManager)
	return err
}

// Run deletes and reports per object.
func (o *DeleteOptions) Run(ctx context.Context) error {
	human := o.Output == ""
	var progress func(int, int)
	if len(o.namespaces) != 1 {
		progress = o.IO.Progress("deleting")
	}
	res, err := waypoint.Delete(ctx, o.clients, waypoint.DeleteRequest{
		Namespaces:  o.namespaces,
		Names:       o.Names,
		All:         o.All,
		Revision:    o.Revision,
		DryRun:      o.dryRun,
		Unenroll:    o.Unenroll,
		Concurrency: o.Concurrency,
		Progress:    progress,
	})
	if res == nil {
		return err
	}
	records := deleteRecords(res, o.IgnoreNotFound, o.Unenroll)
	report := bulk.NewReport(records)
	if o.dryRun != kube.DryRunNone {
		report.DryRun = string(o.dryRun)
	}
	if !human {
		if err := render.Object(o.IO.Out, o.Output, report); err != nil {
			return err
		}
	} else {
		o.printHuman(res, report)
	}
	if err != nil {
		return err
	}
	if report.Summary.Failed > 0 {
		return &ExitError{Code: ExitFailed, Err: fmt.Errorf("%d of %d objects failed", report.Summary.Failed, report.Summary.Total), Silent: human}
	}
	return nil
}

func (o *DeleteOptions) printHuman(res *waypoint.DeleteResult, report *bulk.Report) {
	for _, r := range res.Deleted {
		o.IO.Successf("waypoint %s deleted%s", r, o.dryRun.Suffix())
	}
	for _, r := range res.Refused {
		o.IO.Errorf("gateway %s is not a waypoint (class %q); refusing to delete it", r.Ref, r.Class)
	}
	if !o.IgnoreNotFound {
		for _, r := range res.NotFound {
			o.IO.Errorf("waypoint %s not found", r)
		}
	}
	for _, fl := range res.Failed {
		o.IO.Errorf("%v", fl.Err)
	}
	if len(o.Names) == 0 && len(res.Deleted) == 0 && len(res.Failed) == 0 {
		ns := ""
		if len(o.namespaces) == 1 {
			ns = o.namespaces[0]
		}
		o.IO.noneFound("waypoints", ns)
	}
	if o.Unenroll {
		for _, r := range res.Unenrolled {
			o.IO.Successf("%s unenrolled from waypoint %s%s", describeResource(r), r.WaypointKey(), o.dryRun.Suffix())
		}
		for _, fl := range res.UnenrollFailed {
			o.IO.Errorf("%v", fl.Err)
		}
	} else if res.EnrolledUnknown != nil {
		o.IO.Warnf("could not check for resources still enrolled in the deleted waypoints: %v", res.EnrolledUnknown)
	} else if len(res.Enrolled) > 0 {
		o.IO.Warnf("%d resources still use the deleted waypoints; unenroll them with:", len(res.Enrolled))
		for _, c := range unlabelCommands(res.Enrolled) {
			o.IO.Infof("  %s", c)
		}
	}
	if len(o.namespaces) != 1 {
		o.IO.Printf("%s\n", report.Line())
	}
}

// deleteRecords turns a delete result into one record per object.
func deleteRecords(res *waypoint.DeleteResult, ignoreNotFound, unenroll bool) []bulk.Record {
	var out []bulk.Record
	gw := func(r waypoint.Ref, a bulk.Action, err string) {
		out = append(out, bulk.Record{Kind: "Gateway", Namespace: r.Namespace, Name: r.Name, Action: a, Error: err})
	}
	for _, r := range res.Deleted {
		gw(r, bulk.Deleted, "")
	}
	for _, r := range res.Refused {
		gw(r.Ref, bulk.Failed, fmt.Sprintf("not a waypoint (class %q); refused", r.Class))
	}
	for _, r := range res.NotFound {
		if ignoreNotFound {
			gw(r, bulk.Skipped, "not found")
		} else {
			gw(r, bulk.Failed, "not found")
		}
	}
	for _, f := range res.Failed {
		gw(f.Ref, bulk.Failed, f.Err.Error())
	}
	res2 := func(r enroll.Resource, a bulk.Action, err string) {
		out = append(out, bulk.Record{Kind: r.Kind.APIKind(), Namespace: r.Namespace, Name: r.Name, Action: a, Error: err})
	}
	if unenroll {
		for _, r := range res.Unenrolled {
			res2(r, bulk.Unenrolled, "")
		}
		for _, f := range res.UnenrollFailed {
			out = append(out, bulk.Record{Kind: "Resource", Namespace: f.Ref.Namespace, Name: f.Ref.Name, Action: bulk.Failed, Error: f.Err.Error()})
		}
	} else {
		for _, r := range res.Enrolled {
			res2(r, bulk.Skipped, "still uses deleted waypoint "+r.WaypointKey()+"; rerun with --unenroll or remove its labels")
		}
	}
	return out
}

// describeResource names a resource as the messages do: "service default/reviews".
func describeResource(r enroll.Resource) string {
	if r.Kind == enroll.KindNamespace {
		return "namespace " + r.Name
	}
	return string(r.Kind) + " " + r.Namespace + "/" + r.Name
}

// unlabelCommands groups resources by kind and namespace into the kubectl
// commands that remove their enrollment labels.
func unlabelCommands(rs []enroll.Resource) []string {
	groups := map[string][]string{}
	for _, r := range rs {
		key := r.Kind.Resource()
		if r.Kind.Namespaced() {
			key += " -n " + r.Namespace
		}
		groups[key] = append(groups[key], r.Name)
	}
	var out []string
	for key, names := range groups {
		sort.Strings(names)
		kind, ns, _ := strings.Cut(key, " ")
		cmd := "kubectl label " + kind + " " + strings.Join(names, " ")
		if ns != "" {
			cmd += " " + ns
		}
		out = append(out, cmd+" "+istio.LabelUseWaypoint+"- "+istio.LabelUseWaypointNamespace+"-")
	}
	sort.Strings(out)
	return out
}
