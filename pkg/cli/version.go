package cli

import (
	"fmt"

	"github.com/spf13/cobra"

	"github.com/kubectl-waypoint/kubectl-waypoint/pkg/render"
	"github.com/kubectl-waypoint/kubectl-waypoint/pkg/version"
)

func newVersionCommand(f *Factory) *cobra.Command {
	var output string
	cmd := &cobra.Command{
		Use:   "version [flags]",
		Short: "Print the version, commit, build date and Go version",
		Example: examples(f.Name, `
# Print the version
kubectl-waypoint version

# Print it as JSON for scripts
kubectl-waypoint version -o json`),
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			info := version.Get()
			switch output {
			case "":
				fmt.Fprintf(f.IO.Out, "kubectl-waypoint %s (commit %s, built %s, %s %s)\n",
					info.Version, info.Commit, info.Date, info.GoVersion, info.Platform)
				return nil
			case render.FormatYAML, render.FormatJSON:
				return render.Object(f.IO.Out, output, info)
			}
			return usageErrorf("unknown output format %q: must be one of yaml, json", output)
		},
	}
	cmd.Flags().StringVarP(&output, "output", "o", "", "Output format: {yaml|json}; plain text when unset")
	_ = cmd.RegisterFlagCompletionFunc("output", cobra.FixedCompletions(render.ObjectFormats, cobra.ShellCompDirectiveNoFileComp))
	return cmd
}
