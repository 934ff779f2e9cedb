package cli

import (
	"bytes"
	"context"
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
// The command's options are checked once; then each cluster runs the same
// operation (clusterCommand.runOn) on a copy of them, at once, with a
// factory, clients, QPS budget and retries of its own, and resolves its
// own namespaces. What the clusters print as they go is prefixed with the
// context; how they end (ending) is put together here: tables with a
// CONTEXT column, one document for -o json|yaml, a summary per cluster and
// in total, and one exit code.

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
func addCompareFlag(cmd *cobra.Command, compare *bool) {
	cmd.Flags().BoolVar(compare, "compare", false, "With several contexts: show where the clusters differ (waypoints, traffic type, revision, allowed namespaces, enrolled namespaces) instead of the status, and exit 1 when they do")
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

// fleetCommand marks, in a command's annotations, a command that works on
// several clusters at once: it runs through runClusters.
const fleetCommand = "kubectl-waypoint/fleet"

// planFleet runs in the root's PersistentPreRunE, once cobra has parsed the
// command line: when it chooses several clusters, their contexts are kept
// for runClusters, after the checks that need no cluster.
func (f *Factory) planFleet(cmd *cobra.Command) error {
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
	if cmd.Annotations[fleetCommand] == "" {
		return usageErrorf("%s works on one cluster: give one --context", cmd.CommandPath())
	}
	if watch, _ := cmd.Flags().GetBool("watch"); watch {
		return usageErrorf("--watch follows one cluster: give one --context")
	}
	if wait, _ := cmd.Flags().GetBool("wait"); wait && compare {
		return usageErrorf("--compare and --wait do not go together: --compare shows where the clusters differ now")
	}
	f.clusters = contexts
	return nil
}

// A clusterCommand is a command that works on one cluster, and so, one
// cluster at a time, on several.
type clusterCommand interface {
	// Validate checks the flags and arguments, once, before any cluster.
	Validate() error
	// runOn does the command on the cluster of f: it prints to f.IO what
	// it prints as it goes, and returns how it ends. It works on a copy of
	// the options, so that clusters run at once.
	runOn(ctx context.Context, f *Factory) (ending, error)
	// document says how a fleet run puts the clusters' documents (-o
	// json|yaml) together, those of clusters that failed included.
	document() fleetDocument
}

// fleetDocument is how a fleet run puts documents together.
type fleetDocument int

const (
	// eachDocument: every cluster's document under its context.
	eachDocument fleetDocument = iota
	// oneReport: the bulk reports as one, records and summaries with
	// their context; a cluster that failed has its error in its summary.
	oneReport
	// oneList: the rows (rowsDoc) as one list, each with its context.
	oneList
)

// An ending is how a command's run on one cluster ends, besides the lines
// it printed as it went: a bulk command's report, a document for -o
// json|yaml, a table, or what the drift gate compares. One cluster prints
// it; a fleet run puts the clusters' endings together.
type ending struct {
	// report is a bulk command's: printed as a document when format is
	// set, else as its summary line when summary is set or it was
	// interrupted.
	report  *bulk.Report
	summary bool
	// format is -o json|yaml, in which report or doc is printed.
	format string
	doc    any
	table  *render.Table
	snap   *fleet.Snapshot
}

// print prints e on one cluster's streams.
func (e ending) print(io *IOStreams) error {
	switch {
	case e.report != nil && e.format != "":
		return render.Object(io.Out, e.format, e.report)
	case e.report != nil:
		if e.summary || e.report.Summary.Interrupted {
			io.Printf("%s\n", e.report.Line())
		}
	case e.doc != nil:
		return render.Object(io.Out, e.format, e.doc)
	case e.table != nil:
		return e.table.Render(io.Out)
	}
	return nil
}

// rowsDoc is a document of rows, such as status's: a fleet run merges the
// clusters' rows into one list, each row with its context, where other
// documents go each under its context.
type rowsDoc interface {
	inContext(context string) []any
}

// runClusters runs a command: on the one cluster of the command line, or,
// when it chose several, on each of them at once.
func (f *Factory) runClusters(cmd *cobra.Command, c clusterCommand) error {
	if err := c.Validate(); err != nil {
		return err
	}
	ctx := cmd.Context()
	if f.clusters == nil {
		e, err := c.runOn(ctx, f)
		if perr := e.print(f.IO); err == nil {
			err = perr
		}
		return err
	}
	output, _ := cmd.Flags().GetString("output")
	compare, _ := cmd.Flags().GetBool("compare")
	return f.runFleet(ctx, c, output, compare)
}

// fleetMember is one cluster of a fleet run, and how its run ended.
type fleetMember struct {
	context  string
	end      ending
	err      error
	finished bool
}

// errValidated ends the check of a fleet run's command line where the
// command would first need a cluster; it is never printed.
var errValidated error = validatedError{}

type validatedError struct{}

func (validatedError) Error() string { return "the command line was checked" }

// runFleet runs the command on each cluster, --cluster-concurrency at a
// time, each with a factory, clients, QPS budget and retries of its own,
// and puts together how they ended.
func (f *Factory) runFleet(ctx context.Context, c clusterCommand, output string, compare bool) error {
	// Bad input is the same for every cluster: say it once.
	if err := f.checkOnce(ctx, c); err != nil {
		return err
	}
	members := make([]*fleetMember, len(f.clusters))
	for i, name := range f.clusters {
		members[i] = &fleetMember{context: name}
	}
	limit := f.fleet.concurrency
	if limit == 0 || limit > len(members) {
		limit = len(members)
	}
	var outLock, errLock sync.Mutex
	bulk.ForEach(ctx, len(members), limit, func(ctx context.Context, i int) {
		m := members[i]
		stdout := newPrefixWriter(f.IO.Out, &outLock, m.context)
		stderr := newPrefixWriter(f.IO.ErrOut, &errLock, m.context)
		streams := &IOStreams{In: &bytes.Buffer{}, Out: stdout, ErrOut: stderr, OutTTY: f.IO.OutTTY, NoColor: f.IO.NoColor}
		sub, err := f.forCluster(m.context, streams)
		if err != nil {
			streams.Errorf("%s", err)
			m.err = err
		} else {
			m.end, err = c.runOn(ctx, sub)
			m.err = sub.sayError(err)
		}
		m.finished = true
		if e := m.end; e.report != nil && e.format == "" {
			e.summary = true // one cluster of many always says its summary
			_ = e.print(streams)
		}
		stdout.flush()
		stderr.flush()
	}, nil)

	switch {
	case compare:
		return f.finishCompare(members, output)
	case output == render.FormatJSON || output == render.FormatYAML:
		if err := f.printFleetObjects(c.document(), output, members); err != nil {
			return err
		}
	default:
		if err := f.printFleetTable(members); err != nil {
			return err
		}
		if c.document() == oneReport {
			var records []bulk.Record
			for _, m := range members {
				if r := m.end.report; r != nil {
					records = append(records, r.Records...)
				}
			}
			f.IO.Printf("total of %d contexts: %s\n", len(members), bulk.NewReport(records).Line())
		}
	}
	return fleetOutcome(members)
}

// checkOnce runs the command for the first cluster with a factory that
// reaches no cluster: a usage error there (bad flags, names, selectors)
// is one for every cluster, printed once, with nothing sent to any.
func (f *Factory) checkOnce(ctx context.Context, c clusterCommand) error {
	streams := &IOStreams{In: &bytes.Buffer{}, Out: io.Discard, ErrOut: io.Discard}
	sub, err := f.forCluster(f.clusters[0], streams)
	if err != nil {
		return err
	}
	sub.offline = true
	if _, err := c.runOn(ctx, sub); ExitCode(err) == ExitUsage {
		return err
	}
	return nil
}

// forCluster is a factory for one cluster of a fleet run: the connection
// flags of f's command line, with the cluster's context, writing to io.
func (f *Factory) forCluster(context string, io *IOStreams) (*Factory, error) {
	sub := NewFactory(io, f.Name)
	sub.NewClients = f.NewClients
	fs := pflag.NewFlagSet(f.Name, pflag.ContinueOnError)
	sub.addFlags(fs)
	var err error
	f.flags.VisitAll(func(fl *pflag.Flag) {
		to := fs.Lookup(fl.Name)
		if err != nil || !fl.Changed || to == nil || fl.Name == "context" {
			return
		}
		if from, ok := fl.Value.(pflag.SliceValue); ok {
			err = to.Value.(pflag.SliceValue).Replace(from.GetSlice())
			to.Changed = true
			return
		}
		err = fs.Set(fl.Name, fl.Value.String())
	})
	if err != nil {
		return nil, err
	}
	sub.context, sub.started = context, true
	return sub, nil
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
		mt := m.end.table
		if mt == nil {
			continue
		}
		if t == nil {
			t = render.NewTable(append([]string{"CONTEXT"}, mt.Header()...)...)
			t.NoHeaders = mt.NoHeaders
		}
		for _, row := range mt.Rows() {
			t.Append(append([]string{m.context}, row...)...)
		}
	}
	if t == nil {
		return nil
	}
	return t.Render(f.IO.Out)
}

// printFleetObjects puts the clusters' documents together as one, as doc
// says. A cluster that failed before its document is in the report's
// summaries with its error; for the others its exit names it.
func (f *Factory) printFleetObjects(doc fleetDocument, output string, members []*fleetMember) error {
	switch doc {
	case oneReport:
		var records []bulk.Record
		var sums []bulk.ContextSummary
		dryRun := ""
		for _, m := range members {
			sum := bulk.ContextSummary{Context: m.context, Summary: bulk.NewReport(nil).Summary}
			if r := m.end.report; r != nil {
				for _, rec := range r.Records {
					rec.Context = m.context
					records = append(records, rec)
				}
				sum.Summary, dryRun = r.Summary, r.DryRun
			}
			if m.err != nil {
				sum.Error = m.err.Error()
			}
			sums = append(sums, sum)
		}
		report := bulk.NewReport(records)
		report.DryRun, report.Contexts = dryRun, sums
		return render.Object(f.IO.Out, output, report)
	case oneList:
		rows := []any{}
		for _, m := range members {
			if r, ok := m.end.doc.(rowsDoc); ok {
				rows = append(rows, r.inContext(m.context)...)
			}
		}
		return render.Object(f.IO.Out, output, rows)
	}
	docs := map[string]any{}
	for _, m := range members {
		if m.end.doc != nil {
			docs[m.context] = m.end.doc
		}
	}
	return render.Object(f.IO.Out, output, map[string]any{"contexts": docs})
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
