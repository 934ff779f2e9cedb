package cli

import (
	"context"
	"fmt"
	"maps"
	"slices"
	"strings"

	"github.com/spf13/cobra"

	"github.com/kubectl-waypoint/kubectl-waypoint/pkg/bulk"
	"github.com/kubectl-waypoint/kubectl-waypoint/pkg/kube"
	"github.com/kubectl-waypoint/kubectl-waypoint/pkg/migrate"
	"github.com/kubectl-waypoint/kubectl-waypoint/pkg/render"
)

// MigrateApplyOptions carries out the next phase of a migration to ambient.
type MigrateApplyOptions struct {
	IO *IOStreams
	migrateScope

	AllPhases    bool
	Output       string
	DryRunFlag   string
	FieldManager string

	dryRun  kube.DryRun
	clients *kube.Clients
}

func newMigrateApplyCommand(f *Factory) *cobra.Command {
	o := &MigrateApplyOptions{IO: f.IO}
	cmd := &cobra.Command{
		Use:         "apply [flags]",
		Annotations: map[string]string{writesCommand: "true"},
		Short:       "Carry out the next phase of the move to ambient in each namespace",
		Long: `Carry out, in each namespace, the phase of migrate plan that is due: the first
with a step the tool can do.

  1  apply the waypoint and enroll the namespace (as apply --enroll-namespace
     and enroll namespace do), or with --granularity service each Service's
     own waypoint and the Service's enrollment (as enroll service does, its L7
     policy guard included), and create the copies of the policies
  2  narrow each original that ztunnel would enforce wrongly to the pods that
     run a sidecar (security.istio.io/tlsMode=istio in its selector), label the
     namespace istio.io/dataplane-mode=ambient, remove its injection labels,
     and restart the Deployments, StatefulSets and DaemonSets whose pods run a
     sidecar (as kubectl rollout restart does)
  3  delete the originals whose copies exist and the Sidecar resources, and
     replace each VirtualService that converts exactly with its HTTPRoute

Phase 3 waits while a pod of the namespace runs a sidecar, since that
sidecar still applies the originals; the command says which pods. Steps that
have no exact conversion, and EnvoyFilters, are never done for you: migrate
plan lists them. Every delete is conditional on the object as just read.

Each run does one phase per namespace; --all-phases goes on while the next can
start. Run it again until migrate plan reports nothing left to do. The exit
code is 1 when any write failed.`,
		Example: examples(f.Name, `
# See what the next phase would write, then do it
kubectl-waypoint migrate apply -n bookinfo --dry-run=server
kubectl-waypoint migrate apply -n bookinfo

# Every phase that can start, in every namespace in the mesh
kubectl-waypoint migrate apply -A --all-phases`),
		Args: cobra.NoArgs,
		RunE: runOptions(f, o),
	}
	fs := cmd.Flags()
	o.addScopeFlags(cmd, "Migrate")
	fs.BoolVar(&o.AllPhases, "all-phases", false, "Go on with the next phase of a namespace once one is done, while it can start")
	fs.StringVarP(&o.Output, "output", "o", "", "Print the report as: {yaml|json}")
	_ = cmd.RegisterFlagCompletionFunc("output", cobra.FixedCompletions(render.ObjectFormats, cobra.ShellCompDirectiveNoFileComp))
	addDryRunFlag(cmd, &o.DryRunFlag)
	addFieldManagerFlag(cmd, &o.FieldManager)
	return cmd
}

// Validate checks the flags.
func (o *MigrateApplyOptions) Validate() error {
	var err error
	if o.dryRun, err = parseWriteFlags(o.IO, o.DryRunFlag, o.FieldManager, o.Output); err != nil {
		return err
	}
	return o.validateScope()
}

// Complete resolves the namespaces and builds the clients.
func (o *MigrateApplyOptions) Complete(ctx context.Context, f *Factory) error {
	if err := o.completeScope(ctx, f); err != nil {
		return err
	}
	var err error
	o.clients, err = f.writeClients(o.FieldManager)
	return err
}

// Run carries out the due phases and prints a line per object written.
func (o *MigrateApplyOptions) Run(ctx context.Context) error {
	res, err := o.planner(o.clients).Apply(ctx, migrate.ApplyRequest{Namespaces: o.namespaces, DryRun: o.dryRun, AllPhases: o.AllPhases})
	if err != nil {
		return err
	}
	if o.Output == "" {
		for _, ns := range slices.Sorted(maps.Keys(res.Phases)) {
			phases := make([]string, len(res.Phases[ns]))
			for i, ph := range res.Phases[ns] {
				phases[i] = fmt.Sprint(ph)
			}
			o.IO.Infof("namespace %s: phase %s (%s)", ns, strings.Join(phases, ", then "), migrate.PhaseNames[res.Phases[ns][len(phases)-1]])
		}
		for _, r := range res.Records {
			if r.Action == bulk.Failed {
				o.IO.Errorf("%s", r.Error)
				continue
			}
			line := fmt.Sprintf("%s %s%s", r.Ref, r.Action, o.dryRun.Suffix())
			if r.Error != "" {
				line += ": " + r.Error
			}
			o.IO.Successf("%s", line)
		}
		for _, ns := range slices.Sorted(maps.Keys(res.Waiting)) {
			o.IO.Warnf("namespace %s: %s", ns, res.Waiting[ns])
		}
		if len(res.Records) == 0 && len(res.Waiting) == 0 {
			fmt.Fprintln(o.IO.ErrOut, "Nothing to do: no step in scope is one the tool carries out; migrate plan lists what is left.")
		}
	}
	end, err := finishBulk(o.Output, o.dryRun, res.Records, false)
	if perr := end.print(o.IO); perr != nil {
		return perr
	}
	return err
}
