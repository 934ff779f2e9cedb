package bulk

import (
	"context"
	"errors"
	"sync"
	"sync/atomic"
	"testing"
)

func TestForEachBoundsConcurrency(t *testing.T) {
	var inFlight, peak atomic.Int64
	var mu sync.Mutex
	seen := map[int]bool{}
	var last int
	ForEach(context.Background(), 100, 4, func(_ context.Context, i int) {
		n := inFlight.Add(1)
		for {
			p := peak.Load()
			if n <= p || peak.CompareAndSwap(p, n) {
				break
			}
		}
		mu.Lock()
		seen[i] = true
		mu.Unlock()
		inFlight.Add(-1)
	}, func(done, total int) {
		mu.Lock()
		if done > last {
			last = done
		}
		mu.Unlock()
		if total != 100 {
			t.Errorf("total %d", total)
		}
	})
	if len(seen) != 100 || last != 100 {
		t.Errorf("ran %d, progress reached %d", len(seen), last)
	}
	if peak.Load() > 4 {
		t.Errorf("%d calls in flight, limit 4", peak.Load())
	}
}

func TestNewReport(t *testing.T) {
	r := NewReport([]Record{
		{Kind: "Gateway", Namespace: "b", Name: "w", Action: Created},
		{Kind: "Gateway", Namespace: "a", Name: "w", Action: Failed, Error: "boom"},
		{Kind: "Namespace", Name: "a", Action: Enrolled},
	})
	if r.Records[0].Namespace != "a" || r.Records[2].Kind != "Namespace" {
		t.Errorf("not sorted: %+v", r.Records)
	}
	if r.Summary.Total != 3 || r.Summary.Failed != 1 || r.Summary.Counts[Created] != 1 {
		t.Errorf("summary %+v", r.Summary)
	}
}

func TestReportLine(t *testing.T) {
	r := NewReport([]Record{
		{Kind: "Gateway", Namespace: "a", Name: "w", Action: Created},
		{Kind: "Gateway", Namespace: "b", Name: "w", Action: Unchanged},
		{Kind: "ServiceEntry", Namespace: "a", Name: "se", Action: Failed, Error: "boom"},
		{Kind: "Namespace", Name: "a", Action: Enrolled},
	})
	want := "2 gateways: 1 created, 1 unchanged; 1 namespace: 1 enrolled; 1 serviceentry: 1 failed; 1 failed"
	if got := r.Line(); got != want {
		t.Errorf("got  %q\nwant %q", got, want)
	}
	if got := NewReport(nil).Line(); got != "0 failed" {
		t.Errorf("empty report: %q", got)
	}
}

// TestForEachStops: once stopped, no new call starts, the calls in flight
// finish, and ForEach says how many it started.
func TestForEachStops(t *testing.T) {
	stop := make(chan struct{})
	ctx := WithStop(context.Background(), stop)
	var ran atomic.Int64
	release := make(chan struct{})
	var once sync.Once
	started := ForEach(ctx, 100, 4, func(_ context.Context, i int) {
		if i == 5 {
			once.Do(func() { close(stop) })
		}
		if i >= 4 {
			<-release
		}
		ran.Add(1)
	}, func(done, _ int) {
		if done == 1 {
			go func() { <-stop; close(release) }()
		}
	})
	if started < 6 || started > 9 || int(ran.Load()) != started {
		t.Errorf("started %d, ran %d: want the 6-9 started before the stop, all finished", started, ran.Load())
	}
	if !Stopped(ctx) || Stopped(context.Background()) {
		t.Error("Stopped is wrong")
	}
	wctx, cancel := UntilStopped(ctx)
	defer cancel()
	<-wctx.Done()
}

func TestReportOutcome(t *testing.T) {
	r := NewReport([]Record{{Kind: "Gateway", Name: "a", Action: Created}, {Kind: "Gateway", Name: "b", Action: NotStarted}})
	if r.Outcome() != ErrInterrupted || !r.Summary.Interrupted {
		t.Errorf("outcome %v", r.Outcome())
	}
	if got := r.Line(); got != "2 gateways: 1 created, 1 not started; 0 failed; interrupted: 1 not started; run the command again to finish" {
		t.Errorf("line %q", got)
	}
	r = NewReport([]Record{{Kind: "Service", Name: "a", Action: Failed}})
	var fe *FailedError
	if !errors.As(r.Outcome(), &fe) || fe.Failed != 1 {
		t.Errorf("outcome %v", r.Outcome())
	}
	if NewReport(nil).Outcome() != nil || NewReport(nil).Records == nil {
		t.Error("an empty report is a success with [] records")
	}
}
