package cli

import (
	"context"
	"fmt"
	"strings"

	gatewayv1 "sigs.k8s.io/gateway-api/apis/v1"

	"github.com/kubectl-waypoint/kubectl-waypoint/pkg/enroll"
	"github.com/kubectl-waypoint/kubectl-waypoint/pkg/kube"
	"github.com/kubectl-waypoint/kubectl-waypoint/pkg/waypoint"
)

// guardUsers refuses to apply waypoints that are in use when the rendered
// Gateway would unbind some of their users: the check of enroll, from the
// waypoint's side, by the same rules. One list finds the existing
// waypoints; only those whose binding changes have their users read.
func (o *ApplyOptions) guardUsers(ctx context.Context, gws []*gatewayv1.Gateway) error {
	if o.clients == nil || len(gws) == 0 {
		return nil
	}
	existing, err := waypoint.Existing(ctx, o.clients.Gateway, o.namespaces, gws[0].Name)
	if kube.IsMissingType(err) {
		return nil // apply itself says what is missing
	}
	if err != nil {
		return kube.Describe("read the waypoints to apply", err)
	}
	if len(existing) == 0 {
		return nil
	}
	reader := enroll.NewReader(o.clients)
	defer warnUnreadClasses(o.IO, reader.Classes)
	var lines []string
	for _, gw := range gws {
		cur := existing[gw.Namespace]
		if cur == nil {
			continue
		}
		now := reader.Classes.Parse(ctx, cur)
		reader.Know(&now)
		next := reader.Classes.Parse(ctx, waypoint.AfterApply(cur, gw))
		if now.SameBinding(next) {
			continue
		}
		reader.Gaps = nil
		cut, err := reader.CutOff(ctx, now.Key(), &next)
		warnListGaps(o.IO, reader.Gaps, now.Key())
		if err != nil {
			return err
		}
		for _, r := range cut {
			lines = append(lines, fmt.Sprintf("%s would lose waypoint %s: %s (%s)", subjectOf(r), now.Key(), strings.TrimPrefix(r.Message, "uses no waypoint: "), r.Reason))
		}
	}
	if len(lines) == 0 {
		return nil
	}
	if o.Force {
		for _, l := range lines {
			o.IO.Warnf("%s (--force: applying anyway)", l)
		}
		return nil
	}
	return usageErrorf("%s\nthe waypoint is in use: keep the flags that admit them (explain waypoint shows its users), or add --force to apply anyway", strings.Join(lines, "\n"))
}
