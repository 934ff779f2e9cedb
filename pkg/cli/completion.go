package cli

import (
	"github.com/spf13/cobra"
)

func newCompletionCommand(f *Factory) *cobra.Command {
	return &cobra.Command{
		Use:   "completion {bash|zsh|fish|powershell}",
		Short: "Print a shell completion script",
		Long: `Print a completion script for the given shell. As a kubectl plugin, install
it as an executable named kubectl_complete-waypoint on PATH that runs
"kubectl-waypoint __complete "$@"", and kubectl completes "kubectl waypoint" too.`,
		Example: examples(f.Name, `
# Load completion into the current bash session
source <(kubectl-waypoint completion bash)

# Install it for zsh
kubectl-waypoint completion zsh > "${fpath[1]}/_kubectl-waypoint"`),
		ValidArgs: []string{"bash", "zsh", "fish", "powershell"},
		Args:      cobra.MatchAll(cobra.ExactArgs(1), cobra.OnlyValidArgs),
		RunE: func(cmd *cobra.Command, args []string) error {
			root := cmd.Root()
			out := f.IO.Out
			switch args[0] {
			case "bash":
				return root.GenBashCompletionV2(out, true)
			case "zsh":
				return root.GenZshCompletion(out)
			case "fish":
				return root.GenFishCompletion(out, true)
			default:
				return root.GenPowerShellCompletionWithDesc(out)
			}
		},
	}
}
