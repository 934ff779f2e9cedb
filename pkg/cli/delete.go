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
	"github.com/kubectl-waypoint/kubectl-waypoint/pkg/policy"
	"github.com/kubectl-waypoint/kubectl-waypoint/pkg/waypoint"
)

// DeleteOptions deletes waypoints, and only waypoints.
type DeleteOptions struct {
	IO *IOStreams

	Names           []string
	All             bool
	Revision        string
	AllNamespaces   bool
	Unenroll        bool
	UnenrollMissing bool
	IgnoreNotFound  bool
	FieldManager    string
	DryRunFlag      string
	Output          string

	Force bool
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

Before it deletes anything it looks for the namespaces, services, pods,
ServiceEntries and WorkloadEntries whose istio.io/use-waypoint label names a
waypoint it deletes, and afterwards prints the commands that unenroll them.
--unenroll removes those labels first, then deletes the waypoint; a waypoint
whose users it could not all unenroll is left in place, so that running the
same command again finishes the work. Labels that name a waypoint that did
not exist before the call (left by an earlier delete, or written ahead of
their waypoint) are named, and removed only with --unenroll-missing.

A waypoint whose deletion would stop istiod enforcing L7 policies (on the
waypoint, or on the services and ServiceEntries that use it) is left alone
and the policies are named; --force deletes it anyway. When others are
deleted the exit code is 1; when nothing was, 2. See docs/policies.md.`,
		Example: examples(f.Name, `
# Delete the waypoint named waypoint in namespace default
kubectl-waypoint delete waypoint -n default

# Delete every waypoint of namespace default and unenroll what used them
kubectl-waypoint delete --all -n default --unenroll

# Remove the labels of namespace default that name waypoints that do not exist
kubectl-waypoint delete --all -n default --unenroll-missing

# Delete the waypoints of revision canary everywhere
kubectl-waypoint delete --revision canary -A

# Show what would be deleted
kubectl-waypoint delete --all -A --dry-run

# Clean up the waypoints of every namespace of a team, with a JSON report
kubectl-waypoint delete --all --unenroll --namespace-selector team=payments -o json`),
		Annotations: map[string]string{fleetCommand: "true", writesCommand: "true"},
		RunE: func(cmd *cobra.Command, args []string) error {
			o.Names = append(o.Names, args...)
			return f.runClusters(cmd, o)
		},
	}
	fs := cmd.Flags()
	fs.BoolVar(&o.All, "all", false, "Delete every waypoint in the namespace (or, with -A, the cluster)")
	fs.StringVarP(&o.Revision, "revision", "r", "", "Delete the waypoints labelled with this istio.io/rev")
	fs.BoolVarP(&o.AllNamespaces, "all-namespaces", "A", false, "With --all or --revision, act on every namespace")
	fs.BoolVar(&o.Unenroll, "unenroll", false, "Unenroll what uses each waypoint before deleting it")
	fs.BoolVar(&o.UnenrollMissing, "unenroll-missing", false, "With --unenroll, also remove labels that name a waypoint that does not exist in the scope (implies --unenroll)")
	fs.BoolVar(&o.IgnoreNotFound, "ignore-not-found", false, "Treat a named waypoint that does not exist as deleted")
	fs.BoolVar(&o.Force, "force", false, "Delete even when L7 policies on the waypoint or on what uses it would no longer be enforced")
	fs.StringVarP(&o.Output, "output", "o", "", "Report every object and a summary: {yaml|json}")
	o.addBulkFlags(fs)
	addNameFlag(cmd, f, &o.Names)
	cmd.ValidArgsFunction = completeWaypointArgs(f)
	addDryRunFlag(cmd, &o.DryRunFlag)
	addFieldManagerFlag(cmd, &o.FieldManager)
	return cmd
}

// Validate checks the arguments and flags.
func (o *DeleteOptions) Validate() error {
	var err error
	if o.dryRun, err = parseWriteFlags(o.IO, o.DryRunFlag, o.FieldManager, o.Output); err != nil {
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
	if err := f.checkAllNamespaces(o.AllNamespaces); err != nil {
		return err
	}
	var err error
	if !o.AllNamespaces {
		if o.namespaces, err = f.Namespaces(ctx, o.NamespaceSelector); err != nil {
			return err
		}
	}
	o.clients, err = f.writeClients(o.FieldManager)
	return err
}

// runOn deletes on the cluster of f.
func (o *DeleteOptions) runOn(ctx context.Context, f *Factory) (ending, error) {
	c := *o
	c.IO = f.IO
	if err := c.Complete(ctx, f); err != nil {
		return ending{}, err
	}
	return c.Run(ctx)
}

func (o *DeleteOptions) document() fleetDocument { return oneReport }

// Run deletes and reports per object.
func (o *DeleteOptions) Run(ctx context.Context) (ending, error) {
	human := o.Output == ""
	var progress func(int, int)
	if len(o.namespaces) != 1 {
		progress = o.IO.Progress("deleting")
	}
	res, err := waypoint.Delete(ctx, o.clients, waypoint.DeleteRequest{
		Namespaces:      o.namespaces,
		Names:           o.Names,
		All:             o.All,
		Revision:        o.Revision,
		DryRun:          o.dryRun,
		IgnoreNotFound:  o.IgnoreNotFound,
		Unenroll:        o.Unenroll,
		UnenrollMissing: o.UnenrollMissing,
		Concurrency:     o.Concurrency,
		Progress:        progress,
		Force:           o.Force,
	})
	if err != nil {
		return ending{}, err
	}
	o.policyGuard().warn(res.Policies)
	if res.Narrowed {
		o.IO.Warnf("you may not read across the cluster: only namespaces %s were searched; resources of other namespaces may still name these waypoints", strings.Join(o.namespaces, ", "))
	}
	if human {
		o.printHuman(res)
	}
	return finishBulk(o.Output, o.dryRun, res.Records, len(o.namespaces) != 1)
}

func (o *DeleteOptions) printHuman(res *waypoint.DeleteResult) {
	suffix := o.dryRun.Suffix()
	gateways, deleted := 0, 0
	var enrolled []bulk.Record
	bulk.Sort(res.Records) // deleted side by side: say it in the report's order
	for _, r := range res.Records {
		if r.Kind == "Gateway" {
			if r.Action != bulk.Skipped || r.Error != waypoint.NotFoundMessage {
				gateways++ // found, whatever became of it
			}
			switch {
			case r.Action == bulk.Deleted:
				deleted++
				o.IO.Successf("waypoint %s/%s deleted%s", r.Namespace, r.Name, suffix)
			case r.Action == bulk.Failed && r.Error == waypoint.NotFoundMessage:
				o.IO.Errorf("waypoint %s/%s not found", r.Namespace, r.Name)
			case r.Action == bulk.Failed:
				o.IO.Errorf("%s", r.Error)
			case r.Refused:
				o.policyGuard().refuse(fmt.Sprintf("waypoint %s/%s", r.Namespace, r.Name), res.Policies.Refused[policy.WaypointObject(r.Namespace+"/"+r.Name)])
			case r.Action == bulk.Skipped && r.Error != waypoint.NotFoundMessage:
				o.IO.Infof("waypoint %s/%s %s", r.Namespace, r.Name, r.Error)
			}
			continue
		}
		if r.Kind == "ConfigMap" {
			// The waypoint's parameters, removed with it.
			if r.Action == bulk.Failed {
				o.IO.Errorf("%s", r.Error)
			} else {
				o.IO.Successf("configmap %s/%s %s%s", r.Namespace, r.Name, r.Action, suffix)
			}
			continue
		}
		own := r.Namespace
		if r.Kind == "Namespace" {
			own = r.Name
		}
		switch r.Action {
		case bulk.Unenrolled:
			o.IO.Successf("%s unenrolled from waypoint %s%s", r.Ref.String(), enroll.UseOf(r.Before, own), suffix)
		case bulk.Unchanged:
			o.IO.Successf("%s unchanged (no longer enrolled)%s", r.Ref.String(), suffix)
		case bulk.Failed:
			o.IO.Errorf("%s", r.Error)
		case bulk.Skipped:
			enrolled = append(enrolled, r)
		}
	}
	if len(o.Names) == 0 && gateways == 0 {
		o.IO.noneFound(o.what(), o.scope())
	}
	if res.EnrolledUnknown != nil && deleted > 0 {
		// (When nothing was deleted, as without the Gateway API, the
		// error already said why; the failed search adds nothing.)
		o.IO.Warnf("could not check for resources still enrolled in the deleted waypoints: %v", res.EnrolledUnknown)
	} else if len(enrolled) > 0 {
		if len(enrolled) == 1 {
			o.IO.Warnf("1 resource still uses a waypoint that no longer exists; unenroll it with --unenroll-missing, or:")
		} else {
			o.IO.Warnf("%d resources still use waypoints that no longer exist; unenroll them with --unenroll-missing, or:", len(enrolled))
		}
		for _, c := range unlabelCommands(res.Enrolled) {
			o.IO.Infof("  %s", c)
		}
	}
}

func (o *DeleteOptions) policyGuard() policyGuard {
	return policyGuard{io: o.IO, verb: "delete"}
}

// what is what delete --all or --revision looks for, for "No ... found".
func (o *DeleteOptions) what() string {
	if o.Revision != "" {
		return "waypoints of revision " + o.Revision
	}
	return "waypoints"
}

func (o *DeleteOptions) scope() string {
	if len(o.namespaces) == 1 {
		return o.namespaces[0]
	}
	return ""
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
