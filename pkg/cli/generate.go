package cli

import (
	"github.com/spf13/cobra"

	"github.com/kubectl-waypoint/kubectl-waypoint/pkg/render"
)

// GenerateOptions prints the waypoint Gateway without touching a cluster.
type GenerateOptions struct {
	IO *IOStreams

	Gateway   gatewayFlags
	Namespace string
	Output    string
}

func newGenerateCommand(f *Factory) *cobra.Command {
	o := &GenerateOptions{IO: f.IO}
	cmd := &cobra.Command{
		Use:   "generate [flags]",
		Short: "Print a waypoint Gateway as YAML or JSON",
		Long: `Print the Gateway API Gateway of a waypoint without contacting a cluster.

For the flags istioctl also has, the output is byte for byte what
"istioctl waypoint generate" prints. metadata.namespace is set only when
-n/--namespace is given.`,
		Example: examples(f.Name, `
# Print the waypoint that serves the services of namespace default
kubectl-waypoint generate --for service -n default

# Print a waypoint for pods only, pinned to a control-plane revision
kubectl-waypoint generate --name reviews-v2-pod-waypoint --for workload -r canary -n default

# Print a waypoint in common-infrastructure that another namespace may use
kubectl-waypoint generate --name egress-gateway -n common-infrastructure --allow-namespace cross-namespace-waypoint-consumer

# Print it as JSON and pipe it to kubectl
kubectl-waypoint generate -n default -o json | kubectl apply --server-side -f -`),
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			if err := f.checkNamespaces(true); err != nil {
				return err
			}
			o.Complete(f)
			if err := o.Validate(); err != nil {
				return err
			}
			return o.Run()
		},
	}
	o.Gateway.addFlags(cmd, f)
	cmd.Flags().StringVarP(&o.Output, "output", "o", render.FormatYAML, "Output format: {yaml|json}")
	_ = cmd.RegisterFlagCompletionFunc("output", cobra.FixedCompletions(render.ObjectFormats, cobra.ShellCompDirectiveNoFileComp))
	return cmd
}

// Complete takes the namespace only as given on the command line: generate
// reads no kubeconfig.
func (o *GenerateOptions) Complete(f *Factory) {
	o.Namespace = f.FlagNamespace()
}

// Validate checks the flags; every error is a usage error.
func (o *GenerateOptions) Validate() error {
	if !render.IsObjectFormat(o.Output) {
		return usageErrorf("unknown output format %q: must be one of yaml, json", o.Output)
	}
	return usageError(o.Gateway.request(o.Namespace).Validate())
}

// Run prints the Gateway.
func (o *GenerateOptions) Run() error {
	gw, err := render.Gateway(o.Gateway.request(o.Namespace))
	if err != nil {
		return usageError(err)
	}
	return render.Object(o.IO.Out, o.Output, gw)
}
