// Package fanout runs one function over many indices with bounded
// concurrency, and stops starting new calls once the work is asked to stop
// (the first interrupt). It is the lowest layer of the tool: pkg/kube reads
// namespaces with it and pkg/bulk runs its operations with it, and it
// imports neither. pkg/bulk re-exports what commands use.
package fanout

import (
	"context"
	"errors"
	"sync"
	"sync/atomic"
)

// ErrInterrupted says the user interrupted the work: what was started
// finished, the rest was not started.
var ErrInterrupted = errors.New("interrupted")

// DefaultConcurrency is how many calls run at once when not told.
const DefaultConcurrency = 16

// ForEach calls fn(ctx, i) for i in [0, n), in order, with at most limit
// calls in flight (DefaultConcurrency when limit <= 0). Once ctx is Stopped
// it starts no more calls, waits for those in flight, and returns how many
// it started: the indices from there on were not. progress, when not nil,
// is called after each call with the number done so far.
func ForEach(ctx context.Context, n, limit int, fn func(ctx context.Context, i int), progress func(done, total int)) (started int) {
	if limit <= 0 {
		limit = DefaultConcurrency
	}
	sem := make(chan struct{}, limit)
	var wg sync.WaitGroup
	var done atomic.Int64
	stop := stopOf(ctx)
	for started = 0; started < n; started++ {
		acquired := false
		select {
		case sem <- struct{}{}:
			acquired = true
		case <-stop:
		}
		if Stopped(ctx) {
			if acquired {
				<-sem
			}
			break
		}
		wg.Add(1)
		go func(i int) {
			defer wg.Done()
			defer func() { <-sem }()
			fn(ctx, i)
			d := done.Add(1)
			if progress != nil {
				progress(int(d), n)
			}
		}(started)
	}
	wg.Wait()
	return started
}

type stopKey struct{}

// never is a stop channel that never closes.
var never = make(chan struct{})

// WithStop returns a context whose work stops starting new calls once stop
// is closed (the first interrupt). Requests in flight keep ctx itself, so
// they finish.
func WithStop(ctx context.Context, stop <-chan struct{}) context.Context {
	return context.WithValue(ctx, stopKey{}, stop)
}

func stopOf(ctx context.Context) <-chan struct{} {
	if s, ok := ctx.Value(stopKey{}).(<-chan struct{}); ok && s != nil {
		return s
	}
	return never
}

// Stopped reports whether the work of ctx was asked to stop.
func Stopped(ctx context.Context) bool {
	select {
	case <-stopOf(ctx):
		return true
	default:
		return false
	}
}

// UntilStopped is ctx, cancelled also when the work is asked to stop: for
// waits, which hold no request that must finish.
func UntilStopped(ctx context.Context) (context.Context, context.CancelFunc) {
	c, cancel := context.WithCancel(ctx)
	stop := stopOf(ctx)
	go func() {
		select {
		case <-stop:
			cancel()
		case <-c.Done():
		}
	}()
	return c, cancel
}
