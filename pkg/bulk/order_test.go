package bulk

import (
	"context"
	"sync"
	"sync/atomic"
	"testing"
	"time"
)

// TestNewReportOrder: by kind, then namespace, then name; equal ones keep
// the order they came in.
func TestNewReportOrder(t *testing.T) {
	r := NewReport([]Record{
		{Kind: "Service", Namespace: "b", Name: "y", Action: Created},
		{Kind: "Service", Namespace: "b", Name: "x", Action: Created},
		{Kind: "Service", Namespace: "a", Name: "z", Action: Failed},
		{Kind: "Gateway", Namespace: "c", Name: "w", Action: Created},
		{Kind: "Service", Namespace: "b", Name: "x", Action: Failed},
	})
	want := []string{"Gateway/c/w/created", "Service/a/z/failed", "Service/b/x/created", "Service/b/x/failed", "Service/b/y/created"}
	for i, rec := range r.Records {
		if got := rec.Kind + "/" + rec.Namespace + "/" + rec.Name + "/" + string(rec.Action); got != want[i] {
			t.Errorf("record %d = %s, want %s", i, got, want[i])
		}
	}
	if r.Summary.Total != 5 || r.Summary.Failed != 2 || r.Summary.Counts[Created] != 3 {
		t.Errorf("summary = %+v", r.Summary)
	}
}

func TestPluralShortWords(t *testing.T) {
	for in, want := range map[string]string{"y": "ys", "Y": "ys", "ServiceEntry": "serviceentries", "Gateway": "gateways", "Pod": "pods"} {
		if got := plural(in); got != want {
			t.Errorf("plural(%q) = %q, want %q", in, got, want)
		}
	}
}

// TestForEachLimit: at most limit calls at once; limit 0 means the default,
// not a pool of none.
func TestForEachLimit(t *testing.T) {
	var inFlight, peak atomic.Int64
	var mu sync.Mutex
	called := map[int]bool{}
	ForEach(context.Background(), 8, 2, func(_ context.Context, i int) {
		n := inFlight.Add(1)
		for {
			p := peak.Load()
			if n <= p || peak.CompareAndSwap(p, n) {
				break
			}
		}
		time.Sleep(10 * time.Millisecond)
		inFlight.Add(-1)
		mu.Lock()
		called[i] = true
		mu.Unlock()
	}, nil)
	if peak.Load() != 2 || len(called) != 8 {
		t.Errorf("peak %d in flight, %d of 8 called; want 2 and 8", peak.Load(), len(called))
	}

	done := make(chan struct{})
	var count atomic.Int64
	go func() {
		ForEach(context.Background(), 3, 0, func(context.Context, int) { count.Add(1) }, nil)
		close(done)
	}()
	select {
	case <-done:
	case <-time.After(10 * time.Second):
		t.Fatal("ForEach with limit 0 did not finish")
	}
	if count.Load() != 3 {
		t.Errorf("%d calls, want 3", count.Load())
	}
}
