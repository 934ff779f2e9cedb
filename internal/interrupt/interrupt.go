// Package interrupt turns the user's interrupts into the tool's two-step
// stop: the first SIGINT or SIGTERM asks bulk work to stop starting new
// objects and to let those in flight finish (the command then reports and
// exits 130); a second exits at once. A command that only reads (ReadOnly)
// exits 130 at the first.
package interrupt

import (
	"context"
	"fmt"
	"io"
	"os"
	"os/signal"
	"sync/atomic"
	"syscall"

	"github.com/kubectl-waypoint/kubectl-waypoint/pkg/bulk"
)

// ExitCode is the exit code of an interrupted run, 128+SIGINT.
const ExitCode = 130

// readOnly says the running command only reads.
var readOnly atomic.Bool

// ReadOnly says the running command only reads: the first interrupt then
// exits at once (128 + the signal's number), as the second does for a
// write.
func ReadOnly() { readOnly.Store(true) }

// Context returns a context for the command that carries the stop of the
// first interrupt, and a function that stops listening.
func Context(stderr io.Writer) (context.Context, func()) {
	sigs := make(chan os.Signal, 2)
	signal.Notify(sigs, os.Interrupt, syscall.SIGTERM)
	stop := make(chan struct{})
	done := make(chan struct{})
	go Watch(sigs, stop, done, stderr, os.Exit)
	return bulk.WithStop(context.Background(), stop), func() {
		signal.Stop(sigs)
		close(done)
	}
}

// Watch closes stop at the first signal on sigs and calls exit(ExitCode) at
// the second, until done is closed. For a read the first exits at once, as
// a shell reports the signal: 130 for SIGINT, 143 for SIGTERM.
func Watch(sigs <-chan os.Signal, stop chan<- struct{}, done <-chan struct{}, stderr io.Writer, exit func(int)) {
	var first os.Signal
	select {
	case first = <-sigs:
	case <-done:
		return
	}
	if readOnly.Load() {
		code := ExitCode
		if s, ok := first.(syscall.Signal); ok {
			code = 128 + int(s)
		}
		exit(code) // nothing in flight needs to finish
		return
	}
	fmt.Fprintln(stderr, "interrupted: finishing the requests in flight, starting no new ones; interrupt again to exit at once")
	close(stop)
	select {
	case <-sigs:
		fmt.Fprintln(stderr, "interrupted again: exiting at once; run the same command again to finish the work")
		exit(ExitCode)
	case <-done:
	}
}
