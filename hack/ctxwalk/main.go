// Command ctxwalk walks a context.Context through a command of kubectl-waypoint
// and counts where it goes: the functions of the module that take it (stops),
// the files they are in, the calls between packages (moves) and the calls from
// a lower layer up to a higher one (climbs), each climb with its call site.
//
// It starts at the Run method of a command's options type in pkg/cli and
// follows, along a VTA call graph of the module, every call from a function
// that holds the context to a function of the module that holds it too: as a
// parameter, or as a closure that captures it. Calls into the standard
// library and other modules end the walk there.
//
// Usage, from this directory (or `go -C hack/ctxwalk run .` from the root):
//
//	go run . [-v] [-every] [-algo vta|cha] [-cmd apply,delete,enroll] [repository root]
//
// The root defaults to ../.. (the repository this directory sits in). -v also
// lists every stop and every move; -every also counts the calls to functions
// without a context (see walk).
package main

import (
	"flag"
	"fmt"
	"io"
	"os"
	"slices"
	"strings"
)

// A command is a walk: the command, the options type in pkg/cli whose Run
// starts it, and a command sharing that type.
type command struct{ name, options, also string }

// commands are the walks printed by default.
var commands = []command{
	{"apply", "ApplyOptions", ""},
	{"delete", "DeleteOptions", ""},
	{"enroll", "EnrollOptions", "unenroll"},
}

func main() {
	if err := run(os.Args[1:], os.Stdout); err != nil {
		fmt.Fprintln(os.Stderr, "ctxwalk:", err)
		os.Exit(1)
	}
}

func run(args []string, out io.Writer) error {
	fs := flag.NewFlagSet("ctxwalk", flag.ContinueOnError)
	verbose := fs.Bool("v", false, "also list every stop and every move")
	every := fs.Bool("every", false, "also count the calls a holder makes to functions of the module without a context (callbacks, Error methods)")
	algo := fs.String("algo", "vta", "call graph: vta (types that flow) or cha (every method and func of a matching signature)")
	only := fs.String("cmd", "", "comma-separated commands to walk (default: apply,delete,enroll)")
	if err := fs.Parse(args); err != nil {
		return err
	}
	if fs.NArg() > 1 {
		return fmt.Errorf("at most one argument, the repository root; got %q", fs.Args())
	}
	root := "../.."
	if fs.NArg() == 1 {
		root = fs.Arg(0)
	}
	wanted := map[string]bool{}
	for name := range strings.SplitSeq(*only, ",") {
		if name == "" {
			continue
		}
		if !slices.ContainsFunc(commands, func(c command) bool { return c.name == name }) {
			return fmt.Errorf("unknown command %q in -cmd: must be one of apply, delete, enroll", name)
		}
		wanted[name] = true
	}
	m, err := load(root, *algo)
	if err != nil {
		return err
	}
	fmt.Fprintf(out, "ctxwalk: module %s, call graph %s\n", m.path, *algo)
	printLayers(out, m)
	for _, c := range commands {
		if len(wanted) > 0 && !wanted[c.name] {
			continue
		}
		start, err := m.runMethod(c.options)
		if err != nil {
			return err
		}
		title := c.name
		if c.also != "" {
			title += " (and " + c.also + ")"
		}
		printWalk(out, m, title, m.walk(start, *every), *verbose)
	}
	return nil
}
