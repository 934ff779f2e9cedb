package cli

import (
	"context"
	"fmt"
	"sort"
	"strings"

	"github.com/spf13/cobra"

	"github.com/kubectl-waypoint/kubectl-waypoint/pkg/enroll"
	"github.com/kubectl-waypoint/kubectl-waypoint/pkg/istio"
	"github.com/kubectl-waypoint/kubectl-waypoint/pkg/kube"
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
	DryRunFlag     string

	namespace string
	dryRun    kube.DryRun
	clients   *kube.Clients
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
kubectl-waypoint delete --all -A --dry-run`),
		RunE: func(cmd *cobra.Command, args []string) error {
			o.Names = args
			if err := o.Validate(); err != nil {
				return err
			}
			if err := o.Complete(f); err != nil {
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
	addDryRunFlag(cmd, &o.DryRunFlag)
	return cmd
}

// Validate checks the arguments and flags.
func (o *DeleteOptions) Validate() error {
	var err error
	if o.dryRun, err = kube.ParseDryRun(o.DryRunFlag); err != nil {
		return usageError(err)
	}
	bulk := o.All || o.Revision != ""
	switch {
	case bulk && len(o.Names) > 0:
		return usageErrorf("either name waypoints or use --all/--revision, not both")
	case !bulk && len(o.Names) == 0:
		return usageErrorf("name the waypoints to delete, or use --all or --revision")
	case o.AllNamespaces && !bulk:
		return usageErrorf("-A needs --all or --revision")
	}
	for _, n := range o.Names {
		if n == istio.NoWaypoint {
			return usageErrorf(`invalid waypoint name "none": it is reserved and never names a waypoint`)
		}
	}
	return nil
}

// Complete resolves the namespace and builds the clients.
func (o *DeleteOptions) Complete(f *Factory) error {
	var err error
	if !o.AllNamespaces {
		if o.namespace, err = f.Namespace(); err != nil {
			return err
		}
	}
	o.clients, err = f.Clients()
	return err
}

// Run deletes and reports per object.
func (o *DeleteOptions) Run(ctx context.Context) error {
	res, err := waypoint.Delete(ctx, o.clients, waypoint.DeleteRequest{
		Namespace: o.namespace,
		Names:     o.Names,
		All:       o.All,
		Revision:  o.Revision,
		DryRun:    o.dryRun,
		Unenroll:  o.Unenroll,
	})
	if res == nil {
		return err
	}
	failed := 0
	for _, r := range res.Deleted {
		o.IO.Successf("waypoint %s deleted%s", r, o.dryRun.Suffix())
	}
	for _, r := range res.Refused {
		failed++
		o.IO.Errorf("gateway %s is not a waypoint (class %q); refusing to delete it", r.Ref, r.Class)
	}
	for _, r := range res.NotFound {
		if !o.IgnoreNotFound {
			failed++
			o.IO.Errorf("waypoint %s not found", r)
		}
	}
	for _, fl := range res.Failed {
		failed++
		o.IO.Errorf("%v", fl.Err)
	}
	if len(o.Names) == 0 && len(res.Deleted) == 0 && len(res.Failed) == 0 {
		o.IO.noneFound("waypoints", o.namespace)
	}
	if o.Unenroll {
		for _, r := range res.Unenrolled {
			o.IO.Successf("%s unenrolled from waypoint %s%s", describeResource(r), r.WaypointKey(), o.dryRun.Suffix())
		}
		for _, fl := range res.UnenrollFailed {
			failed++
			o.IO.Errorf("%v", fl.Err)
		}
	} else if len(res.Enrolled) > 0 {
		o.IO.Warnf("%d resources still use the deleted waypoints; unenroll them with:", len(res.Enrolled))
		for _, c := range unlabelCommands(res.Enrolled) {
			fmt.Fprintln(o.IO.ErrOut, "  "+c)
		}
	}
	if err != nil {
		return err
	}
	if failed > 0 {
		return &ExitError{Code: ExitFailed, Err: fmt.Errorf("%d waypoint operations failed", failed), Silent: true}
	}
	return nil
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
