// Package bulk runs one operation over many objects with bounded
// concurrency and reports, object by object, what it did.
package bulk

import (
	"context"
	"fmt"
	"sort"
	"strings"
	"sync"
	"sync/atomic"
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
)

// Record is the outcome for one object, as printed by -o json|yaml.
type Record struct {
	Kind      string `json:"kind"`
	Namespace string `json:"namespace,omitempty"`
	Name      string `json:"name"`
	Action    Action `json:"action"`
	// Before and After are the enrollment labels, for enroll and unenroll.
	Before map[string]string `json:"before,omitzero"`
	After  map[string]string `json:"after,omitzero"`
	Error  string            `json:"error,omitempty"`
	// Err is the error itself, for callers that tell kinds of failure apart.
	Err error `json:"-"`
}

// Summary counts the records by action.
type Summary struct {
	Total  int            `json:"total"`
	Counts map[Action]int `json:"counts"`
	Failed int            `json:"failed"`
}

// Report is every record of a command and their summary.
type Report struct {
	Records []Record `json:"records"`
	Summary Summary  `json:"summary"`
	DryRun  string   `json:"dryRun,omitempty"`
}

// NewReport sorts the records by kind, namespace and name and sums them up.
func NewReport(records []Record) *Report {
	sort.SliceStable(records, func(i, j int) bool {
		a, b := records[i], records[j]
		if a.Kind != b.Kind {
			return a.Kind < b.Kind
		}
		if a.Namespace != b.Namespace {
			return a.Namespace < b.Namespace
		}
		return a.Name < b.Name
	})
	s := Summary{Total: len(records), Counts: map[Action]int{}}
	for _, r := range records {
		s.Counts[r.Action]++
		if r.Action == Failed {
			s.Failed++
		}
	}
	return &Report{Records: records, Summary: s}
}

// actionOrder is the order in which Line names the actions.
var actionOrder = []Action{Created, Configured, Unchanged, Deleted, Enrolled, Unenrolled, Skipped, Failed}

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
		parts = append(parts, fmt.Sprintf("%d %s: %s", total, plural(k), strings.Join(counts, ", ")))
	}
	return strings.Join(append(parts, fmt.Sprintf("%d failed", r.Summary.Failed)), "; ")
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
const DefaultConcurrency = 16

// ForEach calls fn(ctx, i) for i in [0, n) with at most limit calls in
// flight (DefaultConcurrency when limit <= 0). progress, when not nil, is
// called after each call with the number done so far.
func ForEach(ctx context.Context, n, limit int, fn func(ctx context.Context, i int), progress func(done, total int)) {
	if limit <= 0 {
		limit = DefaultConcurrency
	}
	sem := make(chan struct{}, limit)
	var wg sync.WaitGroup
	var done atomic.Int64
	for i := 0; i < n; i++ {
		wg.Add(1)
		sem <- struct{}{}
		go func() {
			defer wg.Done()
			defer func() { <-sem }()
			fn(ctx, i)
			d := done.Add(1)
			if progress != nil {
				progress(int(d), n)
			}
		}()
	}
	wg.Wait()
}
