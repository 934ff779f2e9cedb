package fanout

import (
	"context"
	"sync"
	"sync/atomic"
	"testing"
	"time"
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
