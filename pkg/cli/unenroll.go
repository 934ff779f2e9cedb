package cli

import (
	"github.com/spf13/cobra"
)

func newUnenrollCommand(f *Factory) *cobra.Command {
	o := &EnrollOptions{IO: f.IO, Tool: f.Name, Unenroll: true}
	cmd := &cobra.Command{
		Use:   "unenroll {namespace|service|pod|serviceentry|workloadentry} [NAME...] [-l SELECTOR] [flags]",
		Short: "Remove namespaces, services, pods, ServiceEntries or WorkloadEntries from their waypoint",
		Long: `Remove the enrollment labels istio.io/use-waypoint and
istio.io/use-waypoint-namespace (and a canary's labels and weight annotation)
from namespaces, services, pods, ServiceEntries or WorkloadEntries, patching
only those. An opt-out (istio.io/use-waypoint=none) is removed too. Objects without the labels are left unchanged, so running the
same command again changes nothing.

For namespaces, NAME is the namespace; without NAME or -l it is the current
namespace (or those of several -n). For the other kinds, NAME... or -l select
them in the namespace of -n, or in each of several. The short names ns, svc,
po, se and we work too.

--ingress removes istio.io/ingress-use-waypoint alone: the traffic of
ingress gateways stops taking the waypoint (unless the namespace's label
sends it there), while traffic from inside the mesh still does. Without
--ingress that label is left in place; a warning names each object that
keeps it, and the command that removes it.

Unenrolling what L7 policies protect (an HTTPRoute or AuthorizationPolicy on
the service, or on the waypoint it leaves) is refused, naming each policy
that would no longer be enforced; --force unenrolls anyway. With several
objects, those are skipped and the rest is done (exit code 1); exit code 2
when nothing was changed. See docs/policies.md.`,
		Example: examples(f.Name, `
# Stop the reviews service from using its waypoint
kubectl-waypoint unenroll service reviews -n default

# Stop sending the reviews service's traffic from ingress gateways through its waypoint
kubectl-waypoint unenroll service reviews --ingress -n default

# Unenroll the pods of reviews v2
kubectl-waypoint unenroll pod -l version=v2,app=reviews -n default

# Unenroll the current namespace
kubectl-waypoint unenroll namespace

# Show what would change, as JSON
kubectl-waypoint unenroll se istio-site -n cross-namespace-waypoint-consumer --dry-run -o json`),
		ValidArgsFunction: completeKindAndNames(f, enrollKinds, false),
		Annotations:       map[string]string{fleetCommand: "true", writesCommand: "true"},
		RunE: func(cmd *cobra.Command, args []string) error {
			return o.run(cmd, f, args)
		},
	}
	o.addFlags(cmd)
	cmd.Flags().BoolVar(&o.Ingress, "ingress", false, "Remove only istio.io/ingress-use-waypoint: ingress traffic stops taking the waypoint, the enrollment stays")
	cmd.Flags().BoolVar(&o.Force, "force", false, "Unenroll even when L7 policies would no longer be enforced")
	return cmd
}
