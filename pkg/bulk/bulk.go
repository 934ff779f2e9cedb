// Package bulk runs one operation over many objects with bounded
// concurrency and reports, object by object, what it did.
package bulk

import (
	"context"
	"sort"
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
