package cli

import (
	"context"
	"errors"
	"slices"

	"github.com/spf13/cobra"

	"github.com/kubectl-waypoint/kubectl-waypoint/pkg/gitops"
	"github.com/kubectl-waypoint/kubectl-waypoint/pkg/render"
)

// GenerateOptions prints the waypoint Gateway, in one namespace or many,
// and with --output-dir writes it as GitOps manifests. Only
// --namespace-selector needs a cluster.
type GenerateOptions struct {
	IO *IOStreams

	Gateway           gatewayFlags
	Output            string
	NamespaceSelector string
	EnrollNamespace   bool
	OutputDir         string

	// namespaces are those to render; [""] for a Gateway without
	// metadata.namespace.
	namespaces []string
}

func newGenerateCommand(f *Factory) *cobra.Command {
	o := &GenerateOptions{IO: f.IO}
	cmd := &cobra.Command{
		Use:         "generate [flags]",
		Annotations: map[string]string{writesCommand: "true"}, // --output-dir
		Short:       "Print a waypoint Gateway as YAML or JSON",
		Long: `Print the Gateway API Gateway of a waypoint. No cluster is contacted, unless
--namespace-selector is given.

For the flags istioctl also has, the output is byte for byte what
"istioctl waypoint generate" prints. metadata.namespace is set only when
-n/--namespace is given.

For GitOps, generate takes the namespaces as apply does: several -n (one
Gateway each, in a stream of YAML documents, or a List with -o json), or
--namespace-selector, the only flag that reads a cluster. --enroll-namespace
adds for each namespace a Namespace that carries only the label
istio.io/use-waypoint=<name> (and annotations that keep Argo CD and Flux from
ever deleting the namespace): applied server-side, it sets that label and
leaves the namespace's other labels alone.

--output-dir DIR writes one file per namespace (namespace-<ns>.yaml) and a
kustomization.yaml listing them, for "kubectl apply --server-side -k DIR",
Argo CD or Flux. DIR is generate's own: it is created when missing, and
refused when it holds any file generate did not write; files of namespaces
no longer selected are removed.`,
		Example: examples(f.Name, `
# Print the waypoint that serves the services of namespace default
kubectl-waypoint generate --for service -n default

# Print a waypoint for pods only, pinned to a control-plane revision
kubectl-waypoint generate --name reviews-v2-pod-waypoint --for workload -r canary -n default

# Print a waypoint in common-infrastructure that another namespace may use
kubectl-waypoint generate --name egress-gateway -n common-infrastructure --allow-namespace cross-namespace-waypoint-consumer

# Print it as JSON and pipe it to kubectl
kubectl-waypoint generate -n default -o json | kubectl apply --server-side -f -

# Write the waypoints and enrollment of two namespaces as a kustomization for GitOps
kubectl-waypoint generate -n bookinfo,payments --enroll-namespace --output-dir waypoints
kubectl apply --server-side -k waypoints`),
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			if err := o.Validate(f); err != nil {
				return err
			}
			if err := o.Complete(cmd.Context(), f); err != nil {
				return err
			}
			return o.Run()
		},
	}
	o.Gateway.addFlags(cmd, f)
	fs := cmd.Flags()
	fs.StringVarP(&o.Output, "output", "o", render.FormatYAML, "Output format: {yaml|json}")
	_ = cmd.RegisterFlagCompletionFunc("output", cobra.FixedCompletions(render.ObjectFormats, cobra.ShellCompDirectiveNoFileComp))
	fs.StringVar(&o.NamespaceSelector, "namespace-selector", "", "Generate for every namespace whose labels match this selector (reads the cluster)")
	fs.BoolVar(&o.EnrollNamespace, "enroll-namespace", false, "Also write each namespace's enrollment: a Namespace with only the label istio.io/use-waypoint, for server-side apply")
	fs.StringVar(&o.OutputDir, "output-dir", "", "Write one YAML file per namespace and a kustomization.yaml into this directory, which only generate may write to")
	_ = cmd.MarkFlagDirname("output-dir")
	return cmd
}

// Validate checks the flags; every error is a usage error. It reads no
// cluster.
func (o *GenerateOptions) Validate(f *Factory) error {
	if err := f.checkNamespaces(false); err != nil {
		return err
	}
	if !render.IsObjectFormat(o.Output) {
		return usageErrorf("unknown output format %q: must be one of yaml, json", o.Output)
	}
	if err := validateSelector("--namespace-selector", o.NamespaceSelector); err != nil {
		return err
	}
	if o.NamespaceSelector != "" && len(f.namespaces) > 0 {
		return usageErrorf("-n and --namespace-selector choose namespaces in two ways: use one")
	}
	named := o.NamespaceSelector != "" || len(f.namespaces) > 0
	if o.EnrollNamespace && !named {
		return usageErrorf("--enroll-namespace needs the namespaces to enroll: add -n or --namespace-selector")
	}
	if o.OutputDir != "" {
		if !named {
			return usageErrorf("--output-dir writes a file per namespace: add -n or --namespace-selector")
		}
		if o.Output != render.FormatYAML {
			return usageErrorf("--output-dir writes YAML files: leave out -o %s", o.Output)
		}
	}
	return usageError(o.Gateway.validate())
}

// Complete resolves the namespaces: those of --namespace-selector (one list
// request to the cluster), else every -n, sorted and without duplicates,
// else none. generate never falls back to the kubeconfig's namespace.
func (o *GenerateOptions) Complete(ctx context.Context, f *Factory) error {
	if o.NamespaceSelector != "" {
		var err error
		o.namespaces, err = f.Namespaces(ctx, o.NamespaceSelector)
		return err
	}
	o.namespaces = slices.Compact(slices.Sorted(slices.Values(f.namespaces)))
	if len(o.namespaces) == 0 {
		o.namespaces = []string{""}
	}
	return nil
}

// Run renders the waypoint in every namespace and prints the manifests, or
// writes them into --output-dir.
func (o *GenerateOptions) Run() error {
	ms := make([]gitops.Manifest, len(o.namespaces))
	for i, ns := range o.namespaces {
		req := o.Gateway.request(ns)
		gw, err := render.Gateway(req)
		if err != nil {
			return usageError(err)
		}
		params, err := render.ConfigMap(req)
		if err != nil {
			return usageError(err)
		}
		ms[i] = gitops.Manifest{Namespace: ns, Parameters: params, Gateway: gw}
		if o.EnrollNamespace {
			// The same refusal as apply's: istiod would deny the attachment.
			own := &ApplyOptions{Gateway: o.Gateway, EnrollNamespace: true}
			if err := own.checkOwnNamespaceAdmitted(ns); err != nil {
				return err
			}
			ms[i].Enrollment = gitops.Enrollment(ns, gw.Name)
		}
	}
	if o.OutputDir == "" {
		return gitops.WriteStream(o.IO.Out, o.Output, ms)
	}
	changes, err := gitops.WriteDir(o.OutputDir, ms)
	for _, c := range changes {
		o.IO.Successf("file %s %s", c.Path, c.Action)
	}
	var foreign *gitops.ForeignFileError
	if errors.As(err, &foreign) {
		return usageError(err)
	}
	return err
}
