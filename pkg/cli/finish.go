package cli

import (
	"errors"

	"github.com/kubectl-waypoint/kubectl-waypoint/pkg/bulk"
	"github.com/kubectl-waypoint/kubectl-waypoint/pkg/kube"
)

// finishBulk ends every bulk command (apply, delete, enroll, unenroll) the
// same way, once its per-object lines are printed: its report, to print
// with -o, else as the summary line when summary is asked for or the work
// was interrupted (ending.print); then the exit code, taken from the
// report alone so that the two cannot disagree.
func finishBulk(output string, dryRun kube.DryRun, records []bulk.Record, summary bool) (ending, error) {
	report := bulk.NewReport(records)
	if dryRun != kube.DryRunNone {
		report.DryRun = string(dryRun)
	}
	return ending{report: report, format: output, summary: summary}, outcomeError(report.Outcome(), output == "")
}

// outcomeError turns a report's outcome into the command's error: exit 130
// when interrupted, 1 when any object failed; for objects refused (see
// refusedError), 2 when nothing else changed, else 1. The failures have had their
// lines (or records) already, so that error is silent.
func outcomeError(err error, human bool) error {
	var failed *bulk.FailedError
	switch {
	case errors.Is(err, bulk.ErrInterrupted):
		return &ExitError{Code: ExitInterrupted, Err: errors.New("interrupted: stopped starting new work and let what was in flight finish; run the same command again to finish the rest")}
	case errors.As(err, &failed):
		return &ExitError{Code: ExitFailed, Err: err, Silent: human}
	}
	var refused *bulk.RefusedError
	if errors.As(err, &refused) {
		return refusedError(refused, human)
	}
	return err
}
