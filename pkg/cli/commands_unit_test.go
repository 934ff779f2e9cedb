package cli

import (
	"slices"
	"strings"
	"testing"

	"github.com/spf13/cobra"
	"github.com/spf13/pflag"
)

// The tests of this file need no API server: `make unit` runs them (their
// names start with TestUnit) without starting one. They check what every
// command does before it reads a kubeconfig: flags, validation, usage and
// help, on a terminal and on a pipe.

// commandNames are the subcommands a user can run.
var commandNames = []string{"apply", "completion", "delete", "enroll", "explain", "generate", "list", "options", "policies", "status", "unenroll", "version"}

// TestUnitHelp: every command's --help goes to stdout with its usage line,
// exits 0 and writes nothing to stderr, on a terminal and on a pipe.
func TestUnitHelp(t *testing.T) {
	for _, name := range commandNames {
		for _, tty := range []bool{false, true} {
			stdout, stderr, code := run(t, tty, name, "--help")
			if code != 0 || stderr != "" || !strings.Contains(stdout, "Usage:\n  kubectl-waypoint "+name) {
				t.Errorf("%s --help tty=%v: exit %d, stderr %q, stdout:\n%s", name, tty, code, stderr, stdout)
			}
			if strings.Contains(stdout, "\x1b[") {
				t.Errorf("%s --help tty=%v: colour in help", name, tty)
			}
		}
	}
}

// TestUnitGlobalFlagsInOptions: the help of the root and of every command
// (subcommands included) shows its own flags and only -n, --context and
// --kubeconfig of the global ones, and points at options, which lists every
// global flag, as kubectl keeps its connection flags in "kubectl options".
func TestUnitGlobalFlagsInOptions(t *testing.T) {
	streams, _, _ := TestStreams(false)
	root := NewRootCommand(NewFactory(streams, "kubectl-waypoint"))
	var globals []string
	root.PersistentFlags().VisitAll(func(f *pflag.Flag) { globals = append(globals, f.Name) })
	if len(globals) < 20 {
		t.Fatalf("only %d global flags: %v", len(globals), globals)
	}
	options, stderr, code := run(t, false, "options")
	if code != 0 || stderr != "" {
		t.Fatalf("options: exit %d, stderr %q", code, stderr)
	}
	var paths [][]string
	var walk func(c *cobra.Command, path []string)
	walk = func(c *cobra.Command, path []string) {
		paths = append(paths, path)
		for _, sub := range c.Commands() {
			if sub.IsAvailableCommand() {
				walk(sub, append(slices.Clone(path), sub.Name()))
			}
		}
	}
	walk(root, nil)
	for _, g := range globals {
		if !strings.Contains(options, "--"+g+" ") {
			t.Errorf("options does not list --%s:\n%s", g, options)
		}
	}
	for _, path := range paths {
		help, _, code := run(t, false, append(path, "--help")...)
		if code != 0 {
			t.Errorf("%v --help: exit %d", path, code)
			continue
		}
		for _, g := range globals {
			shown := strings.Contains(help, "--"+g+" ")
			if want := slices.Contains(everydayGlobals, g); shown != want {
				t.Errorf("%v --help: --%s shown = %v, want %v", path, g, shown, want)
			}
		}
		if !strings.Contains(help, `Use "kubectl-waypoint options" for the other global flags`) {
			t.Errorf("%v --help does not point at options:\n%s", path, help)
		}
	}
}

// TestUnitUsageErrors: bad flags and arguments of every command are refused
// with one line on stderr and exit 2, before any kubeconfig is read (the
// one given does not exist) or any request is sent.
func TestUnitUsageErrors(t *testing.T) {
	for _, tc := range []struct {
		args []string
		want string
	}{
		{[]string{"apply", "--no-such-flag"}, "unknown flag: --no-such-flag"},
		{[]string{"apply", "--dry-run=maybe"}, `invalid --dry-run "maybe": must be one of none, client, server`},
		{[]string{"apply", "--field-manager", ""}, `invalid --field-manager "": an empty value is not allowed`},
		{[]string{"apply", "--field-manager", strings.Repeat("m", 129)}, "must be 1 to 128 characters"},
		{[]string{"apply", "--field-manager", "a\tb"}, "must be printable"},
		{[]string{"apply", "-o", "wide"}, `unknown output format "wide": must be one of yaml, json`},
		{[]string{"apply", "--overwrite"}, "--overwrite only makes sense with --enroll-namespace"},
		{[]string{"delete"}, "name the waypoints to delete, or use --all or --revision"},
		{[]string{"delete", "w", "--field-manager", ""}, `invalid --field-manager ""`},
		{[]string{"delete", "--all", "--dry-run=sometimes"}, `invalid --dry-run "sometimes"`},
		{[]string{"enroll", "svc", "a", "--waypoint", "w", "--field-manager", ""}, `invalid --field-manager ""`},
		{[]string{"unenroll", "svc", "a", "--field-manager", strings.Repeat("x", 200)}, "invalid --field-manager"},
		{[]string{"generate", "--for", "nothing"}, `"nothing"`},
		{[]string{"list", "-o", "table"}, `unknown output format "table": must be one of wide, yaml, json, name, jsonpath=...`},
		{[]string{"list", "-o", "jsonpath={.items["}, "invalid -o jsonpath"},
		{[]string{"list", "-o", "go-template={{.items"}, "invalid -o go-template"},
		{[]string{"list", "-o", "custom-columns="}, "invalid -o custom-columns: custom-columns format specified but no custom columns given"},
		{[]string{"list", "-o", "custom-columns=NAME"}, `unexpected custom-columns spec "NAME"`},
		{[]string{"list", "--sort-by", "{.a[}"}, `invalid --sort-by "{.a[}"`},
		{[]string{"list", "--sort-by", "{.a}{.b}"}, "invalid --sort-by"},
		{[]string{"list", "--chunk-size", "0"}, "invalid --chunk-size 0"},
		{[]string{"list", "extra"}, "unknown command"},
		{[]string{"status", "-o", "name"}, `unknown output format "name": must be one of wide, yaml, json, jsonpath=...`},
		{[]string{"policies", "-o", "name"}, `unknown output format "name": must be one of wide, yaml, json, jsonpath=...`},
		{[]string{"policies", "-o", "custom-columns=A:"}, `unexpected custom-columns spec "A:"`},
		{[]string{"status", "-o", "custom-columns=A:"}, `unexpected custom-columns spec "A:"`},
		{[]string{"status", "--sort-by", "{.a[}"}, "invalid --sort-by"},
		{[]string{"status", "-A", "w"}, "waypoint names need one namespace"},
		{[]string{"status", "--wait", "--timeout", "0s"}, "invalid --timeout 0s"},
		{[]string{"status", "--timeout", "1m"}, "--timeout only makes sense with --wait"},
		{[]string{"explain"}, "name what to explain"},
		{[]string{"migrate", "plan", "--replace", "--output-dir", "x"}, "--replace rewrites the originals in the cluster"},
		{[]string{"migrate", "plan", "-o", "custom-columns=A:"}, `unexpected custom-columns spec "A:"`},
		{[]string{"migrate", "plan", "-o", "table"}, `unknown output format "table": must be one of wide, yaml, json, jsonpath=...`},
		{[]string{"migrate", "plan", "--granularity", "pod"}, `invalid --granularity "pod": must be one of namespace, service`},
		{[]string{"migrate", "apply", "--granularity", ""}, `invalid --granularity "": an empty value is not allowed`},
		{[]string{"migrate", "plan", "-A", "--namespace-selector", "a=b"}, "-A/--all-namespaces and --namespace-selector choose namespaces in two ways"},
		{[]string{"completion", "tcsh"}, "tcsh"},
		{[]string{"version", "-o", "xml"}, `"xml"`},
	} {
		t.Run(strings.Join(tc.args, " "), func(t *testing.T) {
			for _, tty := range []bool{false, true} {
				stdout, stderr, code := run(t, tty, append(tc.args, "--kubeconfig", "/nonexistent")...)
				if code != ExitUsage || stdout != "" || !strings.Contains(stderr, tc.want) || strings.Count(stderr, "\n") != 1 {
					t.Errorf("tty=%v: exit %d, stdout %q, stderr %q; want exit 2 and %q", tty, code, stdout, stderr, tc.want)
				}
				if !tty && strings.Contains(stderr, "\x1b[") {
					t.Errorf("colour in a pipe: %q", stderr)
				}
			}
		})
	}
}

// TestUnitDryRunLikeKubectl: a bare --dry-run and the boolean values still
// work, as in kubectl, with kubectl's deprecation warning; a client dry
// run of apply needs no cluster.
func TestUnitDryRunLikeKubectl(t *testing.T) {
	want, _, code := run(t, false, "apply", "-n", "default", "--dry-run=client", "--kubeconfig", "/nonexistent")
	if code != 0 || !strings.Contains(want, "kind: Gateway") {
		t.Fatalf("--dry-run=client: exit %d, stdout %q", code, want)
	}
	for _, tc := range []struct {
		flag, warning string
	}{
		{"--dry-run", "Warning: --dry-run is deprecated and can be replaced with --dry-run=client\n"},
		{"--dry-run=true", "Warning: --dry-run=true is deprecated (boolean value) and can be replaced with --dry-run=client\n"},
	} {
		stdout, stderr, code := run(t, false, "apply", "-n", "default", tc.flag, "--kubeconfig", "/nonexistent")
		if code != 0 || stdout != want || stderr != tc.warning {
			t.Errorf("%s: exit %d, stderr %q, stdout %q; want the client dry run and %q", tc.flag, code, stderr, stdout, tc.warning)
		}
	}
}
