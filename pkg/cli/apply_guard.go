package cli

import (
	"context"
	"fmt"
	"sort"
	"strings"

	gatewayv1 "sigs.k8s.io/gateway-api/apis/v1"

	"github.com/kubectl-waypoint/kubectl-waypoint/pkg/enroll"
	"github.com/kubectl-waypoint/kubectl-waypoint/pkg/kube"
	"github.com/kubectl-waypoint/kubectl-waypoint/pkg/mesh"
	"github.com/kubectl-waypoint/kubectl-waypoint/pkg/policy"
	"github.com/kubectl-waypoint/kubectl-waypoint/pkg/waypoint"
)

// guardUsers refuses to apply waypoints that are in use when the rendered
// Gateway would unbind some of their users: the check of enroll, from the
// waypoint's side, by the same rules. One list finds the existing
// waypoints; only those whose binding changes have their users read. The
// L7 policies those users would lose (on them, or on the waypoint) are
// named too.
func (o *ApplyOptions) guardUsers(ctx context.Context, gws []*gatewayv1.Gateway) error {
	lines, ch, err := o.cutOff(ctx, gws)
	if err != nil || len(lines) == 0 {
		return err
	}
	losses, err := policyGuard{io: o.IO, clients: o.clients, force: o.Force, verb: "apply", scope: o.namespaces}.check(ctx, ch)
	if err != nil && !o.Force {
		return err
	}
	var named []string
	for _, ls := range losses {
		for _, l := range ls {
			named = append(named, l.String())
		}
	}
	sort.Strings(named)
	lines = append(lines, named...)
	if o.Force {
		for _, l := range lines {
			o.IO.Warnf("%s (--force: applying anyway)", l)
		}
		return nil
	}
	return usageErrorf("%s\nthe waypoint is in use: keep the flags that admit them (explain waypoint shows its users), or add --force to apply anyway", strings.Join(lines, "\n"))
}

// cutOff finds the users that applying gws would unbind, one line each,
// and the change for the policy check: the waypoints as they would be,
// and those users.
func (o *ApplyOptions) cutOff(ctx context.Context, gws []*gatewayv1.Gateway) ([]string, policy.Change, error) {
	ch := policy.Change{Waypoints: map[string]*mesh.Waypoint{}, Causes: map[policy.Object]string{}}
	if o.clients == nil || len(gws) == 0 {
		return nil, ch, nil
	}
	existing, err := waypoint.Existing(ctx, o.clients.Gateway, o.namespaces, gws[0].Name)
	if kube.IsMissingType(err) {
		return nil, ch, nil // apply itself says what is missing
	}
	if err != nil {
		return nil, ch, kube.Describe("read the waypoints to apply", err)
	}
	if len(existing) == 0 {
		return nil, ch, nil
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
			return nil, ch, err
		}
		for _, r := range cut {
			lines = append(lines, fmt.Sprintf("%s would lose waypoint %s: %s (%s)", subjectOf(r), now.Key(), strings.TrimPrefix(r.Message, "uses no waypoint: "), r.Reason))
			if kind := policy.ChangeOf(r.Kind); kind == "Service" || kind == "ServiceEntry" {
				ch.Users = append(ch.Users, policy.Object{Kind: kind, Namespace: r.Namespace, Name: r.Name})
			}
		}
		if len(cut) > 0 {
			ch.Waypoints[now.Key()] = &next
			ch.Causes[policy.WaypointObject(now.Key())] = applyCause(now, next)
		}
	}
	return lines, ch, nil
}

// applyCause says what applying next over now changes for its users.
func applyCause(now, next mesh.Waypoint) string {
	if now.TrafficType != next.TrafficType {
		return fmt.Sprintf("waypoint %s would serve %s traffic", now.Key(), next.TrafficType.Display())
	}
	return fmt.Sprintf("waypoint %s would admit %s", now.Key(), next.AllowedFrom)
}
