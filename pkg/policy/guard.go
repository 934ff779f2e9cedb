package policy

import (
	"context"
	"fmt"
	"strings"

	apierrors "k8s.io/apimachinery/pkg/api/errors"

	"github.com/kubectl-waypoint/kubectl-waypoint/pkg/bulk"
	"github.com/kubectl-waypoint/kubectl-waypoint/pkg/kube"
)

// Guard is the one check that every writing command (apply, delete,
// enroll, unenroll) makes before it writes: the changes that would stop
// istiod enforcing L7 policies (docs/policies.md) are refused, or with
// Force let through and named. Each policy kind is listed once for the
// whole command.
type Guard struct {
	Clients *kube.Clients
	// Force lets every change through; the losses are then only named.
	Force bool
	// Verb is the command's verb ("delete"), for the messages.
	Verb string
	// Scope are the namespaces to read when the user may not list policies
	// across the cluster.
	Scope []string
}

// Verdict is what the guard decided about a change.
type Verdict struct {
	// Refused are the losses by the object of the change that causes them:
	// those objects must be left as they are. Empty with Force.
	Refused map[Object][]Loss
	// Forced are the losses that Force let through, to be named.
	Forced []Loss
	// Unchecked says why the check could not be made, when Force lets the
	// change go ahead without it.
	Unchecked error
}

// Check predicts what the change would switch off. A check that cannot be
// made refuses the whole change with a *bulk.UncheckedError, unless Force
// (then Unchecked says why). A user who may not list a kind across the
// cluster is checked in Scope instead.
func (g Guard) Check(ctx context.Context, ch Change) (Verdict, error) {
	if len(ch.Waypoints) == 0 && len(ch.Labels) == 0 && len(ch.Users) == 0 {
		return Verdict{}, nil
	}
	im, err := NewReader(g.Clients).Impact(ctx, nil, ch)
	if apierrors.IsForbidden(err) && len(g.Scope) > 0 {
		im, err = NewReader(g.Clients).Impact(ctx, g.Scope, ch)
	}
	if err != nil {
		if g.Force {
			return Verdict{Unchecked: err}, nil
		}
		// A check that cannot be made refuses the writes it guards, never
		// lets them through unchecked: the user may not read the policies
		// (a refusal), or the server failed.
		return Verdict{}, bulk.Unchecked(fmt.Errorf("cannot check which L7 policies would no longer be enforced: %w; nothing was changed; add --force to %s without the check", err, g.Verb), apierrors.IsForbidden(err))
	}
	if g.Force {
		return Verdict{Forced: im.Losses}, nil
	}
	return Verdict{Refused: im.By()}, nil
}

// Lines are the losses as one line each.
func Lines(losses []Loss) []string {
	lines := make([]string, len(losses))
	for i, l := range losses {
		lines[i] = l.String()
	}
	return lines
}

// Refuse marks rec as the record of an object whose change was refused
// because of losses: skipped, refused, and the policies in its error.
func Refuse(rec bulk.Record, losses []Loss) bulk.Record {
	rec.Action, rec.Refused = bulk.Skipped, true
	rec.Error = "refused: " + strings.Join(Lines(losses), "; ")
	return rec
}
