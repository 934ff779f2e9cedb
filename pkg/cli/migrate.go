package cli

import (
	"context"
	"errors"
	"fmt"
	"path/filepath"
	"slices"
	"strconv"
	"strings"

	"github.com/spf13/cobra"
	"k8s.io/apimachinery/pkg/util/validation"

	"github.com/kubectl-waypoint/kubectl-waypoint/pkg/gitops"
	"github.com/kubectl-waypoint/kubectl-waypoint/pkg/kube"
	"github.com/kubectl-waypoint/kubectl-waypoint/pkg/migrate"
	"github.com/kubectl-waypoint/kubectl-waypoint/pkg/render"
)

func newMigrateCommand(f *Factory) *cobra.Command {
	cmd := &cobra.Command{
		Use:   "migrate",
		Short: "Plan the move of namespaces from sidecars to ambient without losing a policy",
		Long: `Plan the move of namespaces from sidecar mode to ambient mode with waypoints,
so that no policy stops applying or starts denying more than it says.`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, args []string) error { return cmd.Help() },
	}
	cmd.AddCommand(newMigratePlanCommand(f), newMigrateApplyCommand(f))
	return cmd
}

// migrateScope are the namespaces migrate plan and migrate apply work in,
// and the mesh's root namespace.
type migrateScope struct {
	AllNamespaces     bool
	NamespaceSelector string
	RootNamespace     string
	Granularity       string
	Replace           bool

	namespaces []string
}

// addScopeFlags adds the flags of the scope, with the completion of
// --granularity.
func (m *migrateScope) addScopeFlags(cmd *cobra.Command, verb string) {
	fs := cmd.Flags()
	fs.BoolVarP(&m.AllNamespaces, "all-namespaces", "A", false, verb+" every namespace in sidecar or ambient mode")
	fs.StringVar(&m.NamespaceSelector, "namespace-selector", "", verb+" every namespace whose labels match this selector")
	fs.StringVar(&m.RootNamespace, "root-namespace", "istio-system", "The mesh's root namespace, whose policies without a selector apply to every namespace")
	fs.BoolVar(&m.Replace, "replace", false, "Rewrite each original in place, with targetRefs in place of its selector, once no sidecar applies it, rather than keep a copy named <original>-waypoint")
	fs.StringVar(&m.Granularity, "granularity", string(migrate.GranularityNamespace), "What each new waypoint serves: namespace (one per namespace, the namespace enrolled) or service (one per Service that needs it, named <service>-svc-waypoint, the Service enrolled)")
	_ = cmd.RegisterFlagCompletionFunc("granularity", cobra.FixedCompletions(migrate.Granularities, cobra.ShellCompDirectiveNoFileComp))
}

func (m *migrateScope) validateScope() error {
	if m.AllNamespaces && m.NamespaceSelector != "" {
		return usageErrorf("-A/--all-namespaces and --namespace-selector choose namespaces in two ways: use one")
	}
	if err := checkValue("--root-namespace", m.RootNamespace, validation.IsDNS1123Label); err != nil {
		return err
	}
	if !slices.Contains(migrate.Granularities, m.Granularity) {
		return usageErrorf("invalid --granularity %q: must be one of %s", m.Granularity, strings.Join(migrate.Granularities, ", "))
	}
	return validateSelector("--namespace-selector", m.NamespaceSelector)
}

// completeScope resolves the namespaces: none for every one with -A.
func (m *migrateScope) completeScope(ctx context.Context, f *Factory) error {
	if err := f.checkAllNamespaces(m.AllNamespaces); err != nil {
		return err
	}
	if m.AllNamespaces {
		return nil
	}
	var err error
	m.namespaces, err = f.Namespaces(ctx, m.NamespaceSelector)
	return err
}

// planner is the planner of the scope over the clients.
func (m *migrateScope) planner(c *kube.Clients) *migrate.Planner {
	p := migrate.NewPlanner(c)
	p.RootNamespace = m.RootNamespace
	p.Granularity = migrate.Granularity(m.Granularity)
	p.Replace = m.Replace
	return p
}

// runOptions is the RunE of a command whose options validate, complete
// and run.
func runOptions(f *Factory, o interface {
	Validate() error
	Complete(context.Context, *Factory) error
	Run(context.Context) error
}) func(*cobra.Command, []string) error {
	return func(cmd *cobra.Command, _ []string) error {
		if err := o.Validate(); err != nil {
			return err
		}
		if err := o.Complete(cmd.Context(), f); err != nil {
			return err
		}
		return o.Run(cmd.Context())
	}
}

// MigratePlanOptions plans a migration to ambient.
type MigratePlanOptions struct {
	IO *IOStreams
	migrateScope
	outputFlags

	OutputDir string

	clients *kube.Clients
}

func newMigratePlanCommand(f *Factory) *cobra.Command {
	o := &MigratePlanOptions{IO: f.IO}
	cmd := &cobra.Command{
		Use:   "plan [flags]",
		Short: "List what needs attention to move namespaces to ambient, in phases",
		Long: `List each object that needs attention before its namespace moves from sidecars
to ambient mode, what happens to it in ambient as things are, and the steps
that fix it, grouped by namespace and phase:

  1  waypoints, enrollment and copies of policies converted to targetRefs
     (harmless while the pods still run sidecars)
  2  the originals narrowed to the pods that run a sidecar, the namespace to
     ambient, and the pods to restart without a sidecar
  3  the originals removed that ztunnel would enforce wrongly or that
     nothing applies any more

An AuthorizationPolicy without targetRefs is predicted as istiod converts it
for ztunnel (ISTIOD shows the ZtunnelAccepted condition istiod wrote, when it
wrote one): an ALLOW loses its rules with HTTP attributes (it allows less, and
nothing when every rule has one), a DENY is enforced without them (it denies
more) or not at all. RequestAuthentication, Telemetry and WasmPlugin with a
selector do nothing for ambient pods; VirtualServices and DestinationRules of
in-mesh Services apply only through a waypoint (a VirtualService that an
HTTPRoute expresses one-to-one gets that HTTPRoute, for phase 3); EnvoyFilters
are not supported and Sidecar resources are ignored. Every code is explained in
docs/troubleshooting.md.

Without -n, every namespace in sidecar or ambient mode is planned (-A), or
those of --namespace-selector; the root namespace's mesh-wide policies are
always read. Each kind is listed once for the cluster, or once per namespace.

Converted copies are named <original>-waypoint, and phase 3 deletes the
originals. With --replace each original is rewritten in place instead, its
targetRefs in place of its selector, once no sidecar applies it: in phase 1
in an ambient namespace whose pods run no sidecar, else in phase 3, its copy
deleted after it.

A namespace that needs a waypoint gets one named "waypoint", the namespace
enrolled in it, or is enrolled in a waypoint of its own that serves Services.
With --granularity service each Service that needs one gets its own instead,
<service>-svc-waypoint, the Service enrolled in it, and a namespace-wide
policy's copy targets the namespace's Services. A Service or namespace that
already uses a waypoint serving Services keeps it.

--output-dir DIR also writes the phases as manifests, DIR/phase-1, DIR/phase-2
and DIR/phase-3 with a kustomization.yaml each, for kubectl apply --server-side
-k or a GitOps tool: the waypoints, enrollment and copies; the namespaces' move
to ambient (istio.io/dataplane-mode=ambient, istio-injection=disabled, their
enrollment labels repeated); the HTTPRoutes that replace VirtualServices. Pod
restarts and deletions are not manifests.

-o json|yaml prints the plan; -o jsonpath, custom-columns and go-template take
one item per finding (with its namespace), and --sort-by orders the findings.

The exit code is 1 while anything is left to do and 0 when nothing is, so
that a pipeline can gate on it.`,
		Example: examples(f.Name, `
# What is left to move namespace bookinfo to ambient
kubectl-waypoint migrate plan -n bookinfo

# Plan every namespace in the mesh, as JSON
kubectl-waypoint migrate plan -A -o json

# Each finding's code and object, by code
kubectl-waypoint migrate plan -A -o custom-columns=NAMESPACE:.namespace,CODE:.code,KIND:.object.kind,NAME:.object.name --sort-by '{.code}'

# A waypoint per Service rather than per namespace
kubectl-waypoint migrate plan -n bookinfo --granularity service

# Write the phases as manifests, then apply phase 1
kubectl-waypoint migrate plan -n bookinfo --output-dir migration
kubectl apply --server-side -k migration/phase-1`),
		Args: cobra.NoArgs,
		RunE: runOptions(f, o),
	}
	fs := cmd.Flags()
	o.addScopeFlags(cmd, "Plan")
	o.addOutputFlags(cmd, append([]string{"wide"}, render.ObjectFormats...)...)
	fs.StringVar(&o.OutputDir, "output-dir", "", "Also write the manifests of the phases into DIR/phase-1, DIR/phase-2 and DIR/phase-3, each with a kustomization.yaml, for kubectl apply --server-side -k or a GitOps tool")
	return cmd
}

// Validate checks the flags.
func (o *MigratePlanOptions) Validate() error {
	if err := o.validateOutput(); err != nil {
		return err
	}
	if o.Replace && o.OutputDir != "" {
		return usageErrorf("--replace rewrites the originals in the cluster, which a server-side apply of another field manager cannot do: in Git, change the originals in your own manifests as the plan's rewrite says (-o json), or leave out --replace")
	}
	return o.validateScope()
}

// Complete resolves the namespaces and builds the clients.
func (o *MigratePlanOptions) Complete(ctx context.Context, f *Factory) error {
	if err := o.completeScope(ctx, f); err != nil {
		return err
	}
	var err error
	o.clients, err = f.Clients()
	return err
}

// Run plans and prints; the exit code is 1 while anything is left to do.
func (o *MigratePlanOptions) Run(ctx context.Context) error {
	plan, err := o.planner(o.clients).Plan(ctx, o.namespaces)
	if err != nil {
		return err
	}
	if o.OutputDir != "" {
		if err := o.writeDirs(plan); err != nil {
			return err
		}
	}
	if err := o.print(plan); err != nil {
		return err
	}
	if n := plan.Count(); n > 0 {
		return &ExitError{Code: ExitFailed, Err: fmt.Errorf("%d findings in %d namespaces are left to do before the move to ambient", n, len(plan.Namespaces))}
	}
	return nil
}

// writeDirs writes the manifests of the phases, one directory each.
func (o *MigratePlanOptions) writeDirs(plan *migrate.Plan) error {
	for _, phase := range []int{migrate.PhaseWaypoints, migrate.PhaseAmbient, migrate.PhaseCleanup} {
		ms, err := plan.Manifests(phase)
		if err != nil {
			return err
		}
		changes, err := gitops.WriteMigrationDir(filepath.Join(o.OutputDir, fmt.Sprintf("phase-%d", phase)), ms)
		for _, c := range changes {
			o.IO.Successf("file %s %s", c.Path, c.Action)
		}
		var foreign *gitops.ForeignFileError
		if errors.As(err, &foreign) {
			return usageError(err)
		}
		if err != nil {
			return err
		}
	}
	return nil
}

// print prints the plan: as an object (-o json|yaml), its findings with a
// generic format (jsonpath, custom-columns, go-template: one item per
// finding, as in -o json, with its namespace), or the table. --sort-by
// orders the findings: the items, the table's rows, or the findings of
// each namespace of the object.
func (o *MigratePlanOptions) print(plan *migrate.Plan) error {
	if o.needsObjects() {
		var findings []migrate.Finding
		for _, ns := range plan.Namespaces {
			findings = append(findings, ns.Findings...)
		}
		items, err := render.Items(findings)
		if err != nil {
			return err
		}
		// Each item says its namespace, which a namespace's own finding
		// has only as its object's name.
		for i, f := range findings {
			if m, ok := items[i].(map[string]any); ok {
				m["namespace"] = f.Namespace()
			}
		}
		if err := sortByFlag(o.SortBy, findings, items); err != nil {
			return usageError(err)
		}
		if o.generic() {
			return o.printGeneric(o.IO.Out, items)
		}
		if render.IsObjectFormat(o.Output) {
			// The plan keeps its namespaces; each one's findings take
			// the order of --sort-by.
			byNs := map[string][]migrate.Finding{}
			for _, f := range findings {
				byNs[f.Namespace()] = append(byNs[f.Namespace()], f)
			}
			for i := range plan.Namespaces {
				plan.Namespaces[i].Findings = byNs[plan.Namespaces[i].Name]
			}
		}
		if !render.IsObjectFormat(o.Output) && len(findings) > 0 {
			var rows []planRow
			for _, f := range findings {
				for _, s := range f.Steps {
					rows = append(rows, planRow{f.Namespace(), f, s})
				}
			}
			return o.printTable(rows)
		}
	}
	switch {
	case render.IsObjectFormat(o.Output):
		return render.Object(o.IO.Out, o.Output, plan)
	case plan.Count() == 0:
		fmt.Fprintln(o.IO.ErrOut, "Nothing is left to do: every namespace in scope runs in ambient mode without a policy that needs moving.")
		return nil
	}
	// One row per step, grouped by namespace and phase.
	var rows []planRow
	for _, ns := range plan.Namespaces {
		for phase := migrate.PhaseWaypoints; phase <= migrate.PhaseCleanup; phase++ {
			for _, f := range ns.Findings {
				for _, s := range f.Steps {
					if s.Phase == phase {
						rows = append(rows, planRow{ns.Name, f, s})
					}
				}
			}
		}
	}
	return o.printTable(rows)
}

// planRow is one row of the plan's table: one step of a finding.
type planRow struct {
	namespace string
	finding   migrate.Finding
	step      migrate.Step
}

// printTable prints the rows, with the columns of -o wide when asked.
func (o *MigratePlanOptions) printTable(rows []planRow) error {
	wide := o.Output == "wide"
	header := []string{"NAMESPACE", "PHASE", "CODE", "OBJECT", "STEP"}
	if wide {
		header = append(header, "IN AMBIENT", "ISTIOD")
	}
	t := render.NewTable(header...)
	t.NoHeaders = o.NoHeaders
	for _, r := range rows {
		step := r.step.Do
		if r.step.Command != "" {
			step += ": " + r.step.Command
		}
		row := []string{r.namespace, strconv.Itoa(r.step.Phase), string(r.finding.Code), objectName(r.finding.Object), step}
		if wide {
			row = append(row, r.finding.Ambient, ztunnelCondition(r.finding))
		}
		t.Append(row...)
	}
	return t.Render(o.IO.Out)
}

// objectName is kind/name, the namespace being in its own column.
func objectName(r kube.Ref) string {
	return strings.ToLower(r.Kind) + "/" + r.Name
}

// ztunnelCondition is istiod's ZtunnelAccepted on a policy, <none> when it
// wrote none.
func ztunnelCondition(f migrate.Finding) string {
	c := f.ZtunnelAccepted
	if c == nil {
		return "<none>"
	}
	return fmt.Sprintf("ZtunnelAccepted=%s (%s)", c.Status, c.Reason)
}
