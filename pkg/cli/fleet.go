package cli

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"regexp"
	"slices"
	"sort"
	"strings"
	"sync"

	"github.com/spf13/cobra"
	"github.com/spf13/pflag"

	"github.com/kubectl-waypoint/kubectl-waypoint/pkg/bulk"
	"github.com/kubectl-waypoint/kubectl-waypoint/pkg/fleet"
	"github.com/kubectl-waypoint/kubectl-waypoint/pkg/render"
)

// A fleet run is one command over several clusters (kubeconfig contexts).
// The command line is run once per cluster, in-process, by the same
// command code as for one cluster: each cluster gets a factory, clients,
// QPS budget and retries of its own, and resolves its own namespaces.
// What the clusters print is put together here: human lines prefixed with
// the context, tables with a CONTEXT column, one report for -o json|yaml,
// a summary per cluster and in total, and one exit code.

// fleetCommands are the commands that work on several clusters at once.
var fleetCommands = map[string]bool{
	"apply": true, "delete": true, "enroll": true, "unenroll": true,
	"list": true, "status": true, "explain": true,
}

// bulkCommands end in a bulk.Report.
var bulkCommands = map[string]bool{"apply": true, "delete": true, "enroll": true, "unenroll": true}

// fleetFlags choose many clusters for one call.
type fleetFlags struct {
	all         bool
	selector    string
	concurrency int
}

// contextsValue is --context: repeatable, comma-separated. The first
// context is the one kubectl's connection flags use.
type contextsValue struct{ f *Factory }

func (v contextsValue) String() string { return "[" + strings.Join(v.f.contexts, ",") + "]" }
func (v contextsValue) Type() string   { return "strings" }
func (v contextsValue) Set(s string) error {
	for c := range strings.SplitSeq(s, ",") {
		if c = strings.TrimSpace(c); c != "" {
			v.f.contexts = append(v.f.contexts, c)
		}
	}
	if len(v.f.contexts) > 0 {
		v.f.context = v.f.contexts[0]
	}
	return nil
}

// addContextFlag adds --context, kubectl's flag taking several contexts.
func (f *Factory) addContextFlag(fs *pflag.FlagSet) {
	fs.Var(contextsValue{f}, "context", "The name of the kubeconfig context to use; apply, delete, enroll, unenroll, list, status and explain take several (repeat the flag or separate with commas) and work on each cluster")
	fs.Lookup("context").DefValue = "" // unset, as kubectl shows it
}

// addFleetFlags adds the other flags that choose clusters.
func (f *Factory) addFleetFlags(fs *pflag.FlagSet) {
	fs.BoolVar(&f.fleet.all, "all-contexts", false, "Work on the cluster of every context of the kubeconfig")
	fs.StringVar(&f.fleet.selector, "context-selector", "", "Work on the clusters of the kubeconfig's contexts whose name matches this regular expression")
	fs.IntVar(&f.fleet.concurrency, "cluster-concurrency", 0, "Clusters worked on at once with several contexts (0: all)")
}

// addCompareFlag adds status's drift gate.
func addCompareFlag(cmd *cobra.Command) {
	cmd.Flags().Bool("compare", false, "With several contexts: show where the clusters differ (waypoints, traffic type, revision, allowed namespaces, enrolled namespaces) instead of the status, and exit 1 when they do")
}

// fleetContexts are the contexts the command line chooses, and whether it
// chose a fleet: more than one context, --all-contexts or
// --context-selector. One --context is kubectl's flag, as ever.
func (f *Factory) fleetContexts() ([]string, bool, error) {
	fl := f.fleet
	if fl.concurrency < 0 {
		return nil, false, usageErrorf("invalid --cluster-concurrency %d: must be 0 (all) or more", fl.concurrency)
	}
	ways := 0
	for _, used := range []bool{len(f.contexts) > 0, fl.all, fl.selector != ""} {
		if used {
			ways++
		}
	}
	if ways > 1 {
		return nil, false, usageErrorf("--context, --all-contexts and --context-selector choose clusters in different ways: use one")
	}
	given := slices.Compact(slices.Clone(f.contexts))
	if ways == 0 || (len(given) == 1 && !fl.all && fl.selector == "") {
		return nil, false, nil
	}
	var re *regexp.Regexp
	if fl.selector != "" {
		var err error
		if re, err = regexp.Compile(fl.selector); err != nil {
			return nil, false, usageErrorf("invalid --context-selector %q: %v", fl.selector, err)
		}
	}
	if err := f.checkKubeconfig(); err != nil {
		return nil, false, err
	}
	raw, err := f.ConfigFlags.ToRawKubeConfigLoader().RawConfig()
	if err != nil {
		return nil, false, usageErrorf("invalid kubeconfig: %v", err)
	}
	var names []string
	for name := range raw.Contexts {
		names = append(names, name)
	}
	sort.Strings(names)
	has := "it has none"
	if len(names) > 0 {
		has = "it has " + strings.Join(names, ", ")
	}
	var out []string
	switch {
	case len(given) > 0:
		seen := map[string]bool{}
		for _, c := range given {
			if raw.Contexts[c] == nil {
				return nil, false, usageErrorf("context %q is not in the kubeconfig; %s", c, has)
			}
			if !seen[c] {
				seen[c] = true
				out = append(out, c)
			}
		}
		if len(out) == 1 {
			return nil, false, nil
		}
	case fl.all:
		out = names
	default:
		for _, n := range names {
			if re.MatchString(n) {
				out = append(out, n)
			}
		}
	}
	if len(out) == 0 {
		if fl.all {
			return nil, false, usageErrorf("--all-contexts: the kubeconfig has no contexts")
		}
		return nil, false, usageErrorf("no context of the kubeconfig matches --context-selector %q; %s", fl.selector, has)
	}
	return out, true, nil
}

// startFleet runs in the root's PersistentPreRunE, once cobra has parsed
// the command line: a cluster of a fleet run takes its own context; a
// command line that chooses several clusters gets a RunE that runs the
// command once per cluster.
func (f *Factory) startFleet(cmd *cobra.Command) error {
	if m := f.member; m != nil {
		f.context = m.context
		if m.json {
			if err := cmd.Flags().Set("output", render.FormatJSON); err != nil {
				return err
			}
		}
		return nil
	}
	contexts, many, err := f.fleetContexts()
	if err != nil {
		return err
	}
	compare, _ := cmd.Flags().GetBool("compare")
	if !many {
		if compare {
			return usageErrorf("--compare needs several clusters: give two or more contexts (--context a,b), --all-contexts or --context-selector")
		}
		return nil
	}
	if !fleetCommands[cmd.Name()] {
		return usageErrorf("%s works on one cluster: give one --context", cmd.CommandPath())
	}
	if watch, _ := cmd.Flags().GetBool("watch"); watch {
		return usageErrorf("--watch follows one cluster: give one --context")
	}
	if wait, _ := cmd.Flags().GetBool("wait"); wait && compare {
		return usageErrorf("--compare and --wait do not go together: --compare shows where the clusters differ now")
	}
	cmd.RunE = func(cmd *cobra.Command, _ []string) error { return f.runFleet(cmd, contexts) }
	return nil
}

// fleetMember is one cluster of a fleet run: what the run asks of the
// command, and what the command hands back besides what it prints.
type fleetMember struct {
	context string
	// validate: the run only checks the command line; no clients.
	validate bool
	// json: the command prints -o json, which the run merges.
	json bool
	// tables: the command hands its table over instead of printing it.
	tables bool
	// compare: status hands over what the cluster holds (the drift gate).
	compare bool

	mu       sync.Mutex
	reports  []*bulk.Report
	table    *render.Table
	snap     *fleet.Snapshot
	out      bytes.Buffer
	err      error
	finished bool
}

// errValidated ends the command line check of a fleet run where the
// command would first need a cluster; it is never printed.
var errValidated error = validatedError{}

type validatedError struct{}

func (validatedError) Error() string { return "the command line was checked" }

func (m *fleetMember) validating() bool { return m != nil && m.validate }
func (m *fleetMember) comparing() bool  { return m != nil && m.compare }

// addReport keeps a bulk command's report for the fleet's total.
func (m *fleetMember) addReport(r *bulk.Report) {
	if m == nil {
		return
	}
	m.mu.Lock()
	defer m.mu.Unlock()
	m.reports = append(m.reports, r)
}

// runFleet runs the command line once per cluster, --cluster-concurrency
// at a time, and puts together what they print.
func (f *Factory) runFleet(cmd *cobra.Command, contexts []string) error {
	ctx := cmd.Context()
	name := cmd.Name()
	output, _ := cmd.Flags().GetString("output")
	compare, _ := cmd.Flags().GetBool("compare")
	// Bad input is the same for every cluster: say it once.
	if err := f.checkOnce(ctx, contexts[0]); err != nil {
		return err
	}
	objects := !compare && (output == render.FormatJSON || output == render.FormatYAML)
	tables := !compare && (name == "list" || name == "status") && (output == "" || output == "wide")
	members := make([]*fleetMember, len(contexts))
	for i, c := range contexts {
		members[i] = &fleetMember{context: c, json: objects, tables: tables, compare: compare}
	}
	limit := f.fleet.concurrency
	if limit == 0 || limit > len(contexts) {
		limit = len(contexts)
	}
	var outLock, errLock sync.Mutex
	bulk.ForEach(ctx, len(members), limit, func(ctx context.Context, i int) {
		m := members[i]
		stdout := io.Writer(&m.out)
		if !objects && !tables && !compare {
			stdout = newPrefixWriter(f.IO.Out, &outLock, m.context)
		}
		stderr := newPrefixWriter(f.IO.ErrOut, &errLock, m.context)
		streams := &IOStreams{
			In: &bytes.Buffer{}, Out: stdout, ErrOut: stderr,
			OutTTY: f.IO.OutTTY && !objects, NoColor: f.IO.NoColor, fleet: m,
		}
		sub := NewFactory(streams, f.Name)
		sub.NewClients, sub.member = f.NewClients, m
		root := NewRootCommand(sub)
		root.SetArgs(f.args)
		m.err = sub.execute(ctx, root)
		m.finished = true
		if w, ok := stdout.(*prefixWriter); ok {
			w.flush()
		}
		stderr.flush()
	}, nil)

	var perr error
	switch {
	case compare:
		return f.finishCompare(members, output)
	case objects:
		perr = f.printFleetObjects(name, output, members)
	case tables:
		perr = f.printFleetTable(members)
	}
	if perr != nil {
		return perr
	}
	if bulkCommands[name] && !objects {
		var records []bulk.Record
		for _, m := range members {
			for _, r := range m.reports {
				for _, rec := range r.Records {
					rec.Context = m.context
					records = append(records, rec)
				}
			}
		}
		f.IO.Printf("total of %d contexts: %s\n", len(members), bulk.NewReport(records).Line())
	}
	return fleetOutcome(members)
}

// checkOnce runs the command line for the first cluster with no clients:
// a usage error there (bad flags, names, selectors) is one for every
// cluster, printed once, with nothing sent to any cluster.
func (f *Factory) checkOnce(ctx context.Context, context string) error {
	streams := &IOStreams{In: &bytes.Buffer{}, Out: io.Discard, ErrOut: io.Discard}
	sub := NewFactory(streams, f.Name)
	sub.member = &fleetMember{context: context, validate: true}
	streams.fleet = sub.member
	root := NewRootCommand(sub)
	root.SetArgs(f.args)
	_, err := root.ExecuteContextC(ctx)
	if ExitCode(err) == ExitUsage {
		return err
	}
	return nil
}

// fleetOutcome is the exit of a fleet run: 0 when every cluster succeeded,
// else the clusters that did not, named, with exit 130 when interrupted,
// 3 when each of them only timed out waiting, and 1 otherwise.
func fleetOutcome(members []*fleetMember) error {
	var failed, notStarted []string
	codes := map[int]bool{}
	for _, m := range members {
		if !m.finished {
			notStarted = append(notStarted, m.context)
			continue
		}
		if code := ExitCode(m.err); code != ExitOK {
			codes[code] = true
			failed = append(failed, fmt.Sprintf("%s (exit %d)", m.context, code))
		}
	}
	if len(notStarted) > 0 || codes[ExitInterrupted] {
		msg := "interrupted"
		if len(notStarted) > 0 {
			msg += "; contexts not started: " + strings.Join(notStarted, ", ")
		}
		return &ExitError{Code: ExitInterrupted, Err: errors.New(msg + "; run the same command again to finish the rest")}
	}
	if len(failed) == 0 {
		return nil
	}
	code := ExitFailed
	if len(codes) == 1 && codes[ExitTimeout] {
		code = ExitTimeout
	}
	return &ExitError{Code: code, Err: fmt.Errorf("%d of %d contexts failed: %s", len(failed), len(members), strings.Join(failed, ", "))}
}

// printFleetTable prints the clusters' tables as one, with a CONTEXT
// column first.
func (f *Factory) printFleetTable(members []*fleetMember) error {
	var t *render.Table
	for _, m := range members {
		if m.table == nil {
			continue
		}
		if t == nil {
			t = render.NewTable(append([]string{"CONTEXT"}, m.table.Header()...)...)
			t.NoHeaders = m.table.NoHeaders
		}
		for _, row := range m.table.Rows() {
			t.Append(append([]string{m.context}, row...)...)
		}
	}
	if t == nil {
		return nil
	}
	return t.Render(f.IO.Out)
}

// printFleetObjects merges what the clusters printed as JSON into one
// document: for bulk commands one report whose records carry their context,
// with a summary per context and in total; for status the rows with their
// context; for the others each cluster's document under its context. A
// cluster whose output is not the document it should be is named in the
// returned error (and, for bulk commands, in its summary): it is never
// left out silently.
func (f *Factory) printFleetObjects(name, output string, members []*fleetMember) error {
	var unread []string
	// read reads a cluster's document into into; false when there is none
	// (the cluster failed before printing: m.err says why) or it is not one.
	read := func(m *fleetMember, into any) (ok, bad bool) {
		if m.out.Len() == 0 {
			return false, false
		}
		if err := json.Unmarshal(m.out.Bytes(), into); err != nil {
			unread = append(unread, fmt.Sprintf("%s (%v)", m.context, err))
			return false, true
		}
		return true, false
	}
	var err error
	switch {
	case bulkCommands[name]:
		var records []bulk.Record
		var sums []bulk.ContextSummary
		dryRun := ""
		for _, m := range members {
			sum := bulk.ContextSummary{Context: m.context, Summary: bulk.NewReport(nil).Summary}
			var r bulk.Report
			ok, bad := read(m, &r)
			if ok {
				for i := range r.Records {
					r.Records[i].Context = m.context
				}
				records = append(records, r.Records...)
				sum.Summary = r.Summary
				dryRun = r.DryRun
			}
			switch {
			case m.err != nil:
				sum.Error = m.err.Error()
			case bad:
				sum.Error = "its report could not be read"
			}
			sums = append(sums, sum)
		}
		report := bulk.NewReport(records)
		report.DryRun, report.Contexts = dryRun, sums
		err = render.Object(f.IO.Out, output, report)
	case name == "status":
		rows := []WaypointStatus{}
		for _, m := range members {
			var got []WaypointStatus
			if ok, _ := read(m, &got); !ok {
				continue
			}
			for _, r := range got {
				r.Context = m.context
				rows = append(rows, r)
			}
		}
		err = render.Object(f.IO.Out, output, rows)
	default:
		docs := map[string]any{}
		for _, m := range members {
			var doc any
			if ok, _ := read(m, &doc); ok {
				docs[m.context] = doc
			}
		}
		err = render.Object(f.IO.Out, output, map[string]any{"contexts": docs})
	}
	if err != nil || len(unread) == 0 {
		return err
	}
	return &ExitError{Code: ExitFailed, Err: fmt.Errorf("the output of %s could not be read, so it is not in the document above", strings.Join(unread, ", "))}
}

// prefixWriter writes whole lines to w, each prefixed with the context,
// under a lock shared by every cluster writing to w.
type prefixWriter struct {
	w      io.Writer
	mu     *sync.Mutex
	prefix []byte
	buf    []byte
}

func newPrefixWriter(w io.Writer, mu *sync.Mutex, context string) *prefixWriter {
	return &prefixWriter{w: w, mu: mu, prefix: []byte("[" + context + "] ")}
}

func (p *prefixWriter) Write(b []byte) (int, error) {
	p.buf = append(p.buf, b...)
	for {
		i := bytes.IndexByte(p.buf, '\n')
		if i < 0 {
			return len(b), nil
		}
		p.writeLine(p.buf[:i+1])
		p.buf = p.buf[i+1:]
	}
}

func (p *prefixWriter) writeLine(line []byte) {
	p.mu.Lock()
	defer p.mu.Unlock()
	_, _ = p.w.Write(append(slices.Clip(p.prefix), line...))
}

// flush writes what is left of an unfinished line.
func (p *prefixWriter) flush() {
	if len(p.buf) > 0 {
		p.writeLine(append(p.buf, '\n'))
		p.buf = nil
	}
}
