package cli

import (
	"errors"
	"fmt"

	"github.com/kubectl-waypoint/kubectl-waypoint/pkg/bulk"
)

// Exit codes of the tool.
const (
	// ExitOK means everything asked for was done.
	ExitOK = 0
	// ExitFailed means the work failed, or for bulk work that any object failed.
	ExitFailed = 1
	// ExitUsage means invalid usage or input; nothing was sent to the cluster.
	ExitUsage = 2
	// ExitTimeout means a wait timed out.
	ExitTimeout = 3
	// ExitInterrupted means the user interrupted the work (SIGINT or
	// SIGTERM) and the command stopped cleanly, as 128+SIGINT.
	ExitInterrupted = 130
)

// ExitError carries the exit code an error should end the process with.
type ExitError struct {
	Code int
	Err  error
	// Silent means the error was already reported and needs no "error:" line.
	Silent bool
}

func (e *ExitError) Error() string { return e.Err.Error() }
func (e *ExitError) Unwrap() error { return e.Err }

// usageErrorf reports invalid usage or input: exit 2.
func usageErrorf(format string, args ...any) error {
	return &ExitError{Code: ExitUsage, Err: fmt.Errorf(format, args...)}
}

// usageError marks err as invalid usage or input: exit 2.
func usageError(err error) error {
	if err == nil {
		return nil
	}
	return &ExitError{Code: ExitUsage, Err: err}
}

// timeoutError marks err as a timed-out wait: exit 3.
func timeoutError(err error) error {
	return &ExitError{Code: ExitTimeout, Err: err}
}

// ExitCode is the exit code for err: 0 for nil, the code of an ExitError, and
// ExitFailed for anything else.
func ExitCode(err error) int {
	if err == nil {
		return ExitOK
	}
	var ee *ExitError
	if errors.As(err, &ee) {
		return ee.Code
	}
	// A check guarding writes that the user may not make refuses them.
	var ue *bulk.UncheckedError
	if errors.As(err, &ue) && ue.Forbidden {
		return ExitUsage
	}
	return ExitFailed
}
