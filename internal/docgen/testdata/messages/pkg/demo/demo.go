// Package demo holds one of each way a message is made, for
// TestScanFindsMessages.
package demo

import (
	"errors"
	"fmt"
	"os"
	"strings"
)

const hint = "run it again with --force"

// ErrPlain is a sentinel.
var ErrPlain = errors.New("a plain sentinel error")

// TimeoutError is an error type.
type TimeoutError struct {
	Name  string
	Total int
}

func (e *TimeoutError) Error() string {
	if e.Total == 1 {
		return fmt.Sprintf("timed out waiting for waypoint %s to be ready", e.Name)
	}
	return fmt.Sprintf("timed out: %d waypoints not ready; %s", e.Total, hint)
}

// Streams prints.
type Streams struct{}

// Warnf prints a warning.
func (Streams) Warnf(format string, args ...any) {
	fmt.Fprintln(os.Stderr, "Warning: "+fmt.Sprintf(format, args...))
}

// Record is a line of a report.
type Record struct{ Error string }

func composed(io Streams, names []string, near string) error {
	msg := "unknown waypoint " + strings.Join(names, ", ")
	if near != "" {
		msg += "; did you mean " + near + "?"
	}
	io.Warnf("namespace %s is not in ambient mode; %s", names[0], hint)
	rec := Record{Error: "skipped because the waypoint " + verb() + " elsewhere"}
	io.Warnf("%s", rec.Error)
	fmt.Fprintf(os.Stderr, "interrupted: finishing the requests in flight\n")
	return fmt.Errorf("%s: %w", msg, ErrPlain)
}

func verb() string { return "is used" }
