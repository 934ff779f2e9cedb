package cli

import (
	"time"
	"unicode"

	"github.com/spf13/cobra"
	"github.com/spf13/pflag"
	"k8s.io/apimachinery/pkg/labels"
	"k8s.io/apimachinery/pkg/util/validation"

	"github.com/kubectl-waypoint/kubectl-waypoint/pkg/bulk"
	"github.com/kubectl-waypoint/kubectl-waypoint/pkg/kube"
	"github.com/kubectl-waypoint/kubectl-waypoint/pkg/render"
)

// defaultWaitTimeout is how long --wait waits, as in istioctl.
const defaultWaitTimeout = 90 * time.Second

// addDryRunFlag adds kubectl's --dry-run: none, client or server; a bare
// --dry-run means client, with kubectl's deprecation warning.
func addDryRunFlag(cmd *cobra.Command, p *string) {
	cmd.Flags().StringVar(p, "dry-run", string(kube.DryRunNone),
		`Must be "none", "server", or "client". With client, only print what would be sent; with server, submit it to the server without persisting it`)
	cmd.Flags().Lookup("dry-run").NoOptDefVal = kube.DryRunBare
	_ = cmd.RegisterFlagCompletionFunc("dry-run", cobra.FixedCompletions([]string{"none", "client", "server"}, cobra.ShellCompDirectiveNoFileComp))
}

// parseWriteFlags checks what the flags of every writing command share:
// --dry-run (returned parsed), --field-manager and -o, which prints the
// report as yaml or json.
func parseWriteFlags(streams *IOStreams, dryRun, fieldManager, output string) (kube.DryRun, error) {
	d, err := parseDryRun(streams, dryRun)
	if err != nil {
		return "", err
	}
	if err := validateFieldManager(fieldManager); err != nil {
		return "", err
	}
	return d, checkObjectFormat(output)
}

// checkObjectFormat refuses an -o other than yaml or json; none is fine.
func checkObjectFormat(output string) error {
	if output != "" && !render.IsObjectFormat(output) {
		return usageErrorf("unknown output format %q: must be one of yaml, json", output)
	}
	return nil
}

// parseDryRun reads the value of --dry-run, warning on stderr about the
// deprecated forms kubectl still accepts; a bad value is a usage error.
func parseDryRun(streams *IOStreams, value string) (kube.DryRun, error) {
	d, deprecation, err := kube.ParseDryRun(value)
	if err != nil {
		return "", usageError(err)
	}
	if deprecation != "" {
		streams.Warnf("%s", deprecation)
	}
	return d, nil
}

// addFieldManagerFlag adds kubectl's --field-manager: the name the API server
// records as the owner of the fields a write sets.
func addFieldManagerFlag(cmd *cobra.Command, p *string) {
	cmd.Flags().StringVar(p, "field-manager", kube.FieldManager, "Name of the manager used to track field ownership")
}

// validateFieldManager checks a --field-manager value as the API server does:
// not empty, at most 128 characters, printable.
func validateFieldManager(name string) error {
	if name == "" || len(name) > 128 {
		return usageErrorf("invalid --field-manager %q: must be 1 to 128 characters", name)
	}
	for _, r := range name {
		if !unicode.IsPrint(r) {
			return usageErrorf("invalid --field-manager %q: must be printable", name)
		}
	}
	return nil
}

// waitFlags are --wait and its timeout, with istioctl's --waypoint-timeout
// accepted as another name for --timeout.
type waitFlags struct {
	wait    bool
	timeout time.Duration
	fs      *pflag.FlagSet
}

func (w *waitFlags) addFlags(fs *pflag.FlagSet, what string) {
	w.fs = fs
	fs.BoolVarP(&w.wait, "wait", "w", false, "Wait until "+what+" programmed by istiod and has an address (-w as in istioctl; on list, -w is --watch)")
	fs.DurationVar(&w.timeout, "timeout", defaultWaitTimeout, "How long --wait waits before giving up (exit code 3)")
	fs.DurationVar(&w.timeout, "waypoint-timeout", defaultWaitTimeout, "Same as --timeout (istioctl's name)")
	_ = fs.MarkHidden("waypoint-timeout")
}

// validate refuses a timeout without --wait: it would bound nothing, and a
// script ported from istioctl, whose status waits by default, would
// silently stop waiting.
func (w *waitFlags) validate() error {
	if !w.wait && w.fs != nil {
		for _, name := range []string{"timeout", "waypoint-timeout"} {
			if w.fs.Changed(name) {
				return usageErrorf("--%s only makes sense with --wait: add --wait to wait for readiness", name)
			}
		}
	}
	if w.timeout <= 0 {
		return usageErrorf("invalid --timeout %s: must be positive", w.timeout)
	}
	return nil
}

// validateSelector checks a label selector flag value.
func validateSelector(flag, s string) error {
	if s == "" {
		return nil
	}
	if _, err := labels.Parse(s); err != nil {
		return usageErrorf("invalid %s %q: %v", flag, s, err)
	}
	return nil
}

// bulkFlags choose the namespaces of bulk work and how much runs at once.
// Embedded in the options of apply, delete, enroll and unenroll.
type bulkFlags struct {
	// NamespaceSelector picks the namespaces by label.
	NamespaceSelector string
	// Concurrency bounds the objects in flight.
	Concurrency int
}

func (b *bulkFlags) addBulkFlags(fs *pflag.FlagSet) {
	fs.StringVar(&b.NamespaceSelector, "namespace-selector", "", "Work in every namespace whose labels match this selector")
	fs.IntVar(&b.Concurrency, "concurrency", bulk.DefaultConcurrency, "Objects worked on at once")
}

func (b *bulkFlags) validateBulk() error {
	if b.Concurrency <= 0 {
		return usageErrorf("invalid --concurrency %d: must be positive", b.Concurrency)
	}
	return validateSelector("--namespace-selector", b.NamespaceSelector)
}

// addNameFlag accepts istioctl's --name, which "istioctl waypoint" takes on
// every subcommand, as one more waypoint name.
func addNameFlag(cmd *cobra.Command, f *Factory, names *[]string) {
	cmd.Flags().StringArrayVar(names, "name", nil, "Name of a waypoint (istioctl's flag; the same as naming it as an argument)")
	_ = cmd.RegisterFlagCompletionFunc("name", completeWaypointFlag(f, ""))
}

// validateNames checks waypoint names given on the command line.
func validateNames(names []string) error {
	for _, n := range names {
		if err := checkValue("waypoint name", n, validation.IsDNS1123Subdomain); err != nil {
			return err
		}
	}
	return nil
}

// checkValue runs one of apimachinery's validations on a value given on the
// command line: a usage error naming what it is, the value and the rule.
func checkValue(what, value string, check func(string) []string) error {
	if msgs := check(value); len(msgs) > 0 {
		return usageErrorf("invalid %s %q: %s", what, value, msgs[0])
	}
	return nil
}
