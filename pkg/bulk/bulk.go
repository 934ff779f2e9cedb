// Package bulk is the engine of bulk work: it runs one operation over many
// objects with bounded concurrency, stops starting new work when the user
// interrupts, and reports, object by object, what it did. Every bulk
// command (apply, delete, enroll, unenroll) ends in one Report, whose
// Outcome decides the exit code, so the report and the code cannot disagree.
// It does not talk to the API server and prints nothing.
package bulk

import (
	"context"
	"fmt"
	"sort"
	"strings"
	"sync"

	"github.com/kubectl-waypoint/kubectl-waypoint/internal/fanout"
	"github.com/kubectl-waypoint/kubectl-waypoint/pkg/kube"
)

// Action is what happened to one object.
type Action string

// The actions a record can report.
const (
	Created    Action = "created"
	Configured Action = "configured"
	Unchanged  Action = "unchanged"
	Deleted    Action = "deleted"
	Enrolled   Action = "enrolled"
	Unenrolled Action = "unenrolled"
	Skipped    Action = "skipped"
	Failed     Action = "failed"
	// NotStarted is work an interrupt stopped before it began.
	NotStarted Action = "not started"
)

// Record is the outcome for one object, as printed by -o json|yaml.
type Record struct {
	// Context is the kubeconfig context of the cluster, when one call
	// worked on several; empty otherwise.
	Context string `json:"context,omitempty"`
	// Ref is the object: kind (as the API spells it), namespace, name.
	kube.Ref
	Action Action `json:"action"`
	// Before and After are the enrollment labels, for enroll and unenroll.
	Before map[string]string `json:"before,omitzero"`
	After  map[string]string `json:"after,omitzero"`
	Error  string            `json:"error,omitempty"`
	// Refused marks a skipped object whose change was refused because it
	// would switch off what protects it (L7 policies); Error says why.
	Refused bool `json:"refused,omitempty"`
	// Err is the error itself, for callers that tell kinds of failure apart.
	Err error `json:"-"`
}

// Summary counts the records by action.
type Summary struct {
	Total  int            `json:"total"`
	Counts map[Action]int `json:"counts"`
	Failed int            `json:"failed"`
	// Refused counts the records refused (skipped, Refused).
	Refused int `json:"refused,omitempty"`
	// Interrupted says the user stopped the work; NotStarted records say
	// what is left for a re-run.
	Interrupted bool `json:"interrupted,omitempty"`
}

// Report is every record of a command and their summary.
type Report struct {
	Records []Record `json:"records"`
	Summary Summary  `json:"summary"`
	DryRun  string   `json:"dryRun,omitempty"`
	// Contexts are the summaries of each cluster, when one call worked on
	// several; Summary is then their total.
	Contexts []ContextSummary `json:"contexts,omitempty"`
}

// ContextSummary is the summary of one cluster of a call that worked on
// several, and the error that ended its work early, if any.
type ContextSummary struct {
	Context string  `json:"context"`
	Summary Summary `json:"summary"`
	Error   string  `json:"error,omitempty"`
}

// Sort orders records by context, kind, namespace and name: the order of
// a report, and of the lines that tell of it.
func Sort(records []Record) {
	sort.SliceStable(records, func(i, j int) bool {
		a, b := records[i], records[j]
		if a.Context != b.Context {
			return a.Context < b.Context
		}
		if a.Kind != b.Kind {
			return a.Kind < b.Kind
		}
		if a.Namespace != b.Namespace {
			return a.Namespace < b.Namespace
		}
		return a.Name < b.Name
	})
}

// NewReport sorts the records (Sort) and sums them up.
func NewReport(records []Record) *Report {
	Sort(records)
	s := Summary{Total: len(records), Counts: map[Action]int{}}
	for _, r := range records {
		s.Counts[r.Action]++
		switch r.Action {
		case Failed:
			s.Failed++
		case NotStarted:
			s.Interrupted = true
		}
		if r.Refused {
			s.Refused++
		}
	}
	if records == nil {
		records = []Record{}
	}
	return &Report{Records: records, Summary: s}
}

// ErrInterrupted says the user interrupted the work; the report says what
// was done and what was not started.
var ErrInterrupted = fanout.ErrInterrupted

// FailedError says how many objects of a report failed.
type FailedError struct{ Failed, Total int }

func (e *FailedError) Error() string {
	return fmt.Sprintf("%d of %d objects failed", e.Failed, e.Total)
}

// Outcome is the report's verdict: ErrInterrupted when the user stopped
// the work, a *FailedError when any object failed, a *RefusedError when
// any was refused, else nil. Commands take
// their exit code from it alone.
func (r *Report) Outcome() error {
	switch {
	case r.Summary.Interrupted:
		return ErrInterrupted
	case r.Summary.Failed > 0:
		return &FailedError{Failed: r.Summary.Failed, Total: r.Summary.Total}
	case r.Summary.Refused > 0:
		e := &RefusedError{Refused: r.Summary.Refused, Total: r.Summary.Total}
		for _, rec := range r.Records {
			switch rec.Action {
			case Created, Configured, Deleted, Enrolled, Unenrolled:
				e.Changed = true
			}
		}
		return e
	}
	return nil
}

// RefusedError says how many objects of a report were refused, and whether
// the rest changed anything.
type RefusedError struct {
	Refused, Total int
	// Changed is true when other objects were created, configured,
	// deleted, enrolled or unenrolled.
	Changed bool
}

func (e *RefusedError) Error() string {
	return fmt.Sprintf("%d of %d objects refused", e.Refused, e.Total)
}

// actionOrder is the order in which Line names the actions.
var actionOrder = []Action{Created, Configured, Unchanged, Deleted, Enrolled, Unenrolled, Skipped, Failed, NotStarted}

// Line is the one-line summary of bulk work, by kind and action, e.g.
// "200 gateways: 150 created, 50 unchanged; 200 namespaces: 200 enrolled; 0 failed".
func (r *Report) Line() string {
	byKind := map[string]map[Action]int{}
	var kinds []string
	for _, rec := range r.Records {
		if byKind[rec.Kind] == nil {
			byKind[rec.Kind] = map[Action]int{}
			kinds = append(kinds, rec.Kind)
		}
		byKind[rec.Kind][rec.Action]++
	}
	sort.Strings(kinds)
	var parts []string
	for _, k := range kinds {
		var counts []string
		total := 0
		for _, a := range actionOrder {
			if n := byKind[k][a]; n > 0 {
				counts = append(counts, fmt.Sprintf("%d %s", n, a))
				total += n
			}
		}
		name := plural(k)
		if total == 1 {
			name = strings.ToLower(k)
		}
		parts = append(parts, fmt.Sprintf("%d %s: %s", total, name, strings.Join(counts, ", ")))
	}
	parts = append(parts, fmt.Sprintf("%d failed", r.Summary.Failed))
	if r.Summary.Refused > 0 {
		parts = append(parts, fmt.Sprintf("%d refused", r.Summary.Refused))
	}
	if r.Summary.Interrupted {
		parts = append(parts, fmt.Sprintf("interrupted: %d not started; run the command again to finish", r.Summary.Counts[NotStarted]))
	}
	return strings.Join(parts, "; ")
}

// plural is the lower-case plural of a kind: gateways, serviceentries.
func plural(kind string) string {
	k := strings.ToLower(kind)
	// A consonant before the y makes -ies (entries); a vowel keeps it (gateways).
	if n := len(k); n > 1 && k[n-1] == 'y' && !strings.ContainsRune("aeiou", rune(k[n-2])) {
		return k[:n-1] + "ies"
	}
	return k + "s"
}

// DefaultConcurrency is how many operations run at once when not told.
const DefaultConcurrency = fanout.DefaultConcurrency

// ForEach calls fn(ctx, i) for i in [0, n) with at most limit calls in
// flight, and returns how many it started before ctx was Stopped; see
// fanout.ForEach.
func ForEach(ctx context.Context, n, limit int, fn func(ctx context.Context, i int), progress func(done, total int)) (started int) {
	return fanout.ForEach(ctx, n, limit, fn, progress)
}

// Recorder collects the records of bulk work from many goroutines.
type Recorder struct {
	mu      sync.Mutex
	records []Record
}

// Add records rec.
func (r *Recorder) Add(rec Record) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.records = append(r.records, rec)
}

// Fail records rec as failed with err.
func (r *Recorder) Fail(rec Record, err error) {
	rec.Action, rec.Error, rec.Err = Failed, err.Error(), err
	r.Add(rec)
}

// Records are what was recorded so far.
func (r *Recorder) Records() []Record {
	r.mu.Lock()
	defer r.mu.Unlock()
	return append([]Record(nil), r.records...)
}

// WithStop returns a context whose bulk work stops starting new objects
// once stop is closed (the first interrupt). Requests in flight keep ctx
// itself, so they finish. pkg/kube's reads across namespaces stop with it
// too.
func WithStop(ctx context.Context, stop <-chan struct{}) context.Context {
	return fanout.WithStop(ctx, stop)
}

// Stopped reports whether the work of ctx was asked to stop.
func Stopped(ctx context.Context) bool { return fanout.Stopped(ctx) }

// UntilStopped is ctx, cancelled also when the work is asked to stop: for
// waits, which hold no request that must finish.
func UntilStopped(ctx context.Context) (context.Context, context.CancelFunc) {
	return fanout.UntilStopped(ctx)
}

// UncheckedError says that a check guarding the writes of a command could
// not be made, so nothing was written. Forbidden says the user may not make
// the reads of the check: a refusal, not a failure of the server.
type UncheckedError struct {
	Err       error
	Forbidden bool
}

// Unchecked wraps err, the failed read of a check that guards writes.
func Unchecked(err error, forbidden bool) error {
	return &UncheckedError{Err: err, Forbidden: forbidden}
}

func (e *UncheckedError) Error() string { return e.Err.Error() }
func (e *UncheckedError) Unwrap() error { return e.Err }
