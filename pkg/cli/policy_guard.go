package cli

import (
	"context"
	"fmt"
	"strings"

	apierrors "k8s.io/apimachinery/pkg/api/errors"

	"github.com/kubectl-waypoint/kubectl-waypoint/pkg/bulk"
	"github.com/kubectl-waypoint/kubectl-waypoint/pkg/kube"
	"github.com/kubectl-waypoint/kubectl-waypoint/pkg/policy"
)

// policyGuard refuses, before anything is written, the changes that would
// stop istiod enforcing L7 policies (docs/policies.md): delete, unenroll,
// enroll --waypoint none, enroll into a waypoint that does not serve the
// traffic, apply changing --for or allowedRoutes. It predicts the policies
// before and after the change with pkg/policy, listing each policy kind once
// for the whole command. With --force the losses are warnings.
type policyGuard struct {
	io      *IOStreams
	clients *kube.Clients
	force   bool
	// verb is the command's verb ("delete"), for the messages.
	verb string
	// scope are the namespaces to read when the user may not list policies
	// across the cluster.
	scope []string
}

// check predicts what the change would switch off and returns the losses
// by the object that causes them; none with --force, which warns instead.
// A check that cannot be made refuses the change, unless --force.
func (g policyGuard) check(ctx context.Context, ch policy.Change) (map[policy.Object][]policy.Loss, error) {
	im, err := policy.NewReader(g.clients).Impact(ctx, nil, ch)
	if apierrors.IsForbidden(err) && len(g.scope) > 0 {
		im, err = policy.NewReader(g.clients).Impact(ctx, g.scope, ch)
	}
	if err != nil {
		// May not read the policies at all: RBAC keeps them from this
		// user, and the change goes ahead with a warning.
		if g.force || apierrors.IsForbidden(err) {
			g.io.Warnf("cannot check which L7 policies would no longer be enforced (%v); %s without the check", err, gerund(g.verb))
			return nil, nil
		}
		return nil, fmt.Errorf("cannot check which L7 policies would no longer be enforced: %w; add --force to %s without the check", err, g.verb)
	}
	if g.force {
		for _, l := range im.Losses {
			g.io.Warnf("%s (--force: %s anyway)", l, gerund(g.verb))
		}
		return nil, nil
	}
	return im.By(), nil
}

// refuse prints, on a terminal or pipe, why the change of one object is
// refused: one line per policy it would switch off.
func (g policyGuard) refuse(what string, losses []policy.Loss) {
	lines := make([]string, len(losses))
	for i, l := range losses {
		lines[i] = l.String()
	}
	g.io.Errorf("refusing to %s %s:\n  %s", g.verb, what, strings.Join(lines, "\n  "))
}

// refusedRecord is the record of an object whose change was refused.
func refusedRecord(rec bulk.Record, losses []policy.Loss) bulk.Record {
	lines := make([]string, len(losses))
	for i, l := range losses {
		lines[i] = l.String()
	}
	rec.Action, rec.Refused = bulk.Skipped, true
	rec.Error = "refused: " + strings.Join(lines, "; ")
	return rec
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
