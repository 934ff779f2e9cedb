package cli

import (
	"fmt"
	"strings"

	"github.com/kubectl-waypoint/kubectl-waypoint/pkg/bulk"
	"github.com/kubectl-waypoint/kubectl-waypoint/pkg/policy"
)

// policyGuard prints the verdict of the L7 policy guard (policy.Guard),
// which every writing command runs inside its operation before it writes:
// the changes refused, and with --force the losses let through.
type policyGuard struct {
	io *IOStreams
	// verb is the command's verb ("delete"), for the messages.
	verb string
}

// warn prints the warnings of a verdict: a check that could not be made,
// and the losses --force let through.
func (g policyGuard) warn(v policy.Verdict) {
	if v.Unchecked != nil {
		g.io.Warnf("cannot check which L7 policies would no longer be enforced (%v); %s without the check", v.Unchecked, gerund(g.verb))
	}
	for _, l := range v.Forced {
		g.io.Warnf("%s (--force: %s anyway)", l, gerund(g.verb))
	}
}

// refuse prints, on a terminal or pipe, why the change of one object is
// refused: one line per policy it would switch off.
func (g policyGuard) refuse(what string, losses []policy.Loss) {
	g.io.Errorf("refusing to %s %s:\n  %s", g.verb, what, strings.Join(policy.Lines(losses), "\n  "))
}

// refusedError is the error of bulk work with refused objects: exit 2 when
// nothing else changed (the whole command was refused), 1 when the rest was
// done.
func refusedError(e *bulk.RefusedError, human bool) error {
	where := "named above"
	if !human {
		where = "named in the report"
	}
	if !e.Changed {
		return &ExitError{Code: ExitUsage, Err: fmt.Errorf("nothing changed: istiod would stop enforcing the L7 policies %s; move or delete them first, or add --force to go ahead", where)}
	}
	return &ExitError{Code: ExitFailed, Err: fmt.Errorf("%d of %d objects refused and left as they are: istiod would stop enforcing the L7 policies %s; the rest was done; add --force to change them too", e.Refused, e.Total, where)}
}

// gerund is the -ing form of the verbs of the commands that write.
func gerund(verb string) string {
	if strings.HasSuffix(verb, "e") {
		return strings.TrimSuffix(verb, "e") + "ing"
	}
	return verb + "ing"
}
