// Package cli holds the commands of kubectl-waypoint. Each command is an
// options struct with Complete, Validate and Run; the work itself lives in the
// domain packages (render, waypoint, enroll), which know nothing of cobra.
package cli

import (
	"context"
	"errors"
	"fmt"
	"path/filepath"
	"slices"
	"strings"

	"github.com/spf13/cobra"

	"github.com/kubectl-waypoint/kubectl-waypoint/internal/interrupt"
	"github.com/kubectl-waypoint/kubectl-waypoint/pkg/kube"
)

// DisplayName is how the tool names itself in help and messages: "kubectl
// waypoint" when kubectl runs it as a plugin (kubectl passes the plugin's
// full path as argv[0]), else "kubectl-waypoint".
func DisplayName(argv0 string) string {
	base := filepath.Base(argv0)
	if filepath.IsAbs(argv0) && strings.HasPrefix(base, "kubectl-") {
		return "kubectl " + strings.TrimSuffix(strings.TrimPrefix(base, "kubectl-"), ".exe")
	}
	return "kubectl-waypoint"
}

// NewRootCommand builds the command tree over the factory.
func NewRootCommand(f *Factory) *cobra.Command {
	root := &cobra.Command{
		Use:   "kubectl-waypoint",
		Short: "Manage Istio ambient waypoint proxies and the workloads enrolled in them",
		Long: `kubectl-waypoint generates, applies, lists, checks and deletes the Gateway API
Gateways that are Istio ambient-mode waypoints. It speaks the subcommands and
flags of "istioctl waypoint" and works standalone or as "kubectl waypoint".`,
		SilenceUsage:  true,
		SilenceErrors: true,
		Annotations:   map[string]string{cobra.CommandDisplayNameAnnotation: f.Name},
		// The root only groups subcommands; an unknown one is a usage error.
		Args: func(cmd *cobra.Command, args []string) error {
			if len(args) > 0 {
				return unknownCommand(cmd, args[0])
			}
			return nil
		},
		RunE: func(cmd *cobra.Command, args []string) error { return cmd.Help() },
		// Cobra has parsed flags and checked arguments by now: from here on
		// an error is the command's, not the command line's.
		PersistentPreRunE: func(cmd *cobra.Command, _ []string) error {
			if err := f.checkEmptyValues(cmd.Flags()); err != nil {
				return err
			}
			if err := f.validateFlags(); err != nil {
				return err
			}
			f.started = true
			if cmd.Annotations[writesCommand] == "" {
				// A read stops at the first interrupt; the two-step
				// stop lets writes in flight finish.
				interrupt.ReadOnly()
			}
			// Several clusters: the command runs once per cluster.
			return f.planFleet(cmd)
		},
	}
	root.SetIn(f.IO.In)
	root.SetOut(f.IO.Out)
	root.SetErr(f.IO.ErrOut)
	root.SetFlagErrorFunc(flagError)
	root.CompletionOptions.DisableDefaultCmd = true
	root.SuggestionsMinimumDistance = 2

	f.addFlags(root.PersistentFlags())
	registerRootCompletions(root, f)
	setUsage(root)

	root.AddCommand(
		newGenerateCommand(f),
		newApplyCommand(f),
		newDefaultsCommand(f),
		newListCommand(f),
		newStatusCommand(f),
		newDeleteCommand(f),
		newEnrollCommand(f),
		newUnenrollCommand(f),
		newExplainCommand(f),
		newPoliciesCommand(f),
		newMigrateCommand(f),
		newVersionCommand(f),
		newCompletionCommand(f),
		newOptionsCommand(f),
	)
	return root
}

// writesCommand marks, in a command's annotations, a command that writes
// (to the cluster, or files): an interrupt lets the writes in flight finish
// (internal/interrupt). Every other command stops at the first interrupt.
const writesCommand = "kubectl-waypoint/writes"

// unknownCommand is the error for a subcommand that does not exist, with
// cobra's suggestions of the nearest names.
func unknownCommand(root *cobra.Command, name string) error {
	msg := fmt.Sprintf("unknown command %q for %q", name, root.DisplayName())
	if s := root.SuggestionsFor(name); len(s) > 0 {
		msg += "; did you mean " + strings.Join(s, " or ") + "?"
	}
	return usageErrorf("%s", msg)
}

// checkHelpTarget refuses "UNKNOWN --help": cobra would answer it with the
// root's help and exit 0, which hides the typo.
func checkHelpTarget(root *cobra.Command, args []string) error {
	if !slices.Contains(args, "--help") && !slices.Contains(args, "-h") {
		return nil
	}
	if c, _, err := root.Find(args); err != nil || c != root {
		return nil
	}
	root.InitDefaultHelpFlag()
	if err := root.ParseFlags(args); err != nil {
		return nil // cobra reports it
	}
	rest := root.Flags().Args()
	if len(rest) == 0 || rest[0] == "help" || strings.HasPrefix(rest[0], "__") {
		return nil
	}
	return unknownCommand(root, rest[0])
}

// Execute runs the command tree with args and returns the process exit code,
// after printing any error as one line on stderr.
func Execute(f *Factory, args []string) int {
	return ExecuteContext(context.Background(), f, args)
}

// ExecuteContext is Execute under ctx, which may carry the stop of an
// interrupt (bulk.WithStop): bulk work then reports and exits 130.
func ExecuteContext(ctx context.Context, f *Factory, args []string) int {
	if args == nil {
		args = []string{} // never os.Args: the command line is what the caller gives
	}
	root := NewRootCommand(f)
	root.SetArgs(args)
	if err := checkHelpTarget(root, args); err != nil {
		f.IO.Errorf("%s", err)
		return ExitUsage
	}
	return ExitCode(f.execute(ctx, root))
}

// execute runs root under ctx and prints its error, if any, as one line
// on stderr; it returns the error for the exit code.
func (f *Factory) execute(ctx context.Context, root *cobra.Command) error {
	_, err := root.ExecuteContextC(ctx)
	if err == nil {
		return nil
	}
	var ee *ExitError
	if !errors.As(err, &ee) && !f.started {
		// Cobra rejected the command line before any command ran: an
		// unknown command or flag, or arguments the command does not take.
		err = usageError(err)
	}
	return f.sayError(err)
}

// sayError prints a command's error as one line on stderr, unless it was
// said already (ExitError.Silent), and returns it. An unreachable API
// server's error says where a kubeconfig was looked for in vain, when
// none was found.
func (f *Factory) sayError(err error) error {
	if err == nil {
		return nil
	}
	if f.noKubeconfig != "" && errors.Is(err, kube.ErrUnreachable) {
		err = fmt.Errorf("%w; %s", err, f.noKubeconfig)
	}
	var ee *ExitError
	if !errors.As(err, &ee) || !ee.Silent {
		f.IO.Errorf("%s", err)
	}
	return err
}
