package waypoint

import (
	"context"
	"fmt"
	"sort"
	"strings"

	apierrors "k8s.io/apimachinery/pkg/api/errors"
	gatewayv1 "sigs.k8s.io/gateway-api/apis/v1"

	"github.com/kubectl-waypoint/kubectl-waypoint/pkg/bulk"
	"github.com/kubectl-waypoint/kubectl-waypoint/pkg/enroll"
	"github.com/kubectl-waypoint/kubectl-waypoint/pkg/kube"
	"github.com/kubectl-waypoint/kubectl-waypoint/pkg/mesh"
	"github.com/kubectl-waypoint/kubectl-waypoint/pkg/policy"
)

// UsersVerdict is what the guard of apply found: the users of the existing
// waypoints that applying the rendered ones would unbind, and the L7
// policies they (or the waypoints) would lose.
type UsersVerdict struct {
	// Lost are one line per user cut off, then one per policy lost, sorted.
	Lost []string
	// Gaps are the lists RBAC kept the guard from making, per waypoint.
	Gaps []WaypointGaps
	// Classes are the GatewayClasses read (some perhaps unread); nil when
	// no waypoint existed.
	Classes *mesh.Classes
	// Policies is the L7 policy guard's verdict on those users.
	Policies policy.Verdict
	// Foreign are the Gateways of another class that have the waypoint's
	// name, their class by namespace: apply never changes them.
	Foreign map[string]string
	// Existing are the waypoints of the name as they are, by namespace
	// (nil when they could not be read).
	Existing map[string]*gatewayv1.Gateway
}

// OtherClassError refuses to apply over a Gateway of another class that
// has the waypoint's name: apply never changes one, whatever the flags.
type OtherClassError struct {
	Namespace, Name, Class string
}

func (e *OtherClassError) Error() string {
	return fmt.Sprintf("gateway %s/%s is of class %q, not a waypoint: apply never changes a Gateway of another class; choose another --name for the waypoint", e.Namespace, e.Name, e.Class)
}

// WaypointGaps are the lists not made while looking for the users of the
// waypoint Key.
type WaypointGaps struct {
	Key  string
	Gaps []enroll.ListGap
}

// InUseError refuses to apply waypoints that are in use when the rendered
// Gateways would unbind some of their users; nothing was written.
type InUseError struct {
	// Lost are the lines of UsersVerdict.Lost.
	Lost []string
}

func (e *InUseError) Error() string {
	return strings.Join(e.Lost, "\n") + "\nthe waypoint is in use: keep the flags that admit them (explain waypoint shows its users), or add --force to apply anyway"
}

// GuardUsers is the guard of apply: the check of enroll, from the
// waypoint's side, by the same rules. One list finds the existing
// waypoints among gws; only those whose binding changes have their users
// read, and the L7 policies those users would lose (on them, or on the
// waypoint) are named too. Unless force, users cut off refuse the whole
// apply with an *InUseError.
func GuardUsers(ctx context.Context, c *kube.Clients, gws []*gatewayv1.Gateway, namespaces []string, force bool) (UsersVerdict, error) {
	var v UsersVerdict
	ch, err := cutOff(ctx, c, gws, namespaces, &v)
	switch {
	case err != nil && force:
		return v, nil
	case err != nil:
		// A read that failed after its retries: who would be cut off
		// cannot be known, so nothing is written.
		return v, bulk.Unchecked(fmt.Errorf("cannot check who uses the waypoints whose binding changes: %w; nothing was changed; add --force to apply without the check", err), apierrors.IsForbidden(err))
	}
	if err := unsearched(v.Gaps); err != nil && !force {
		return v, err
	}
	if len(v.Lost) == 0 {
		return v, nil
	}
	v.Policies, err = policy.Guard{Clients: c, Force: force, Verb: "apply", Scope: namespaces}.Check(ctx, ch)
	if err != nil && !force {
		return v, err
	}
	var named []string
	for _, losses := range v.Policies.Refused {
		named = append(named, policy.Lines(losses)...)
	}
	sort.Strings(named)
	v.Lost = append(v.Lost, named...)
	if force {
		return v, nil
	}
	return v, &InUseError{Lost: v.Lost}
}

// unsearched refuses the apply when RBAC kept the guard from searching a
// namespace for a kind of user of a waypoint whose binding changes: who
// would be cut off there cannot be known.
func unsearched(gaps []WaypointGaps) error {
	for _, w := range gaps {
		for _, g := range w.Gaps {
			if g.Namespace != "" {
				return bulk.Unchecked(fmt.Errorf("cannot check who uses waypoint %s: you may not list %s in namespace %s; nothing was changed; add --force to apply without the check", w.Key, g.Kind.Plural(), g.Namespace), true)
			}
		}
	}
	return nil
}

// ApplyChange is the change applying gws makes, for the L7 policy guard:
// the existing waypoints as they would be, and the users they would cut off.
func ApplyChange(ctx context.Context, c *kube.Clients, gws []*gatewayv1.Gateway, namespaces []string) (policy.Change, error) {
	return cutOff(ctx, c, gws, namespaces, &UsersVerdict{})
}

// cutOff finds the users that applying gws would unbind, one line each in
// v.Lost, and the change for the policy guard: the waypoints as they
// would be, and those users.
func cutOff(ctx context.Context, c *kube.Clients, gws []*gatewayv1.Gateway, namespaces []string, v *UsersVerdict) (policy.Change, error) {
	ch := policy.Change{Waypoints: map[string]*mesh.Waypoint{}, Causes: map[policy.Object]string{}}
	if c == nil || len(gws) == 0 {
		return ch, nil
	}
	existing, err := Existing(ctx, c.Gateway, namespaces, gws[0].Name)
	if kube.IsMissingType(err) {
		return ch, nil // apply itself says what is missing
	}
	if err != nil {
		return ch, kube.Describe("read the waypoints to apply", err)
	}
	for ns, cur := range existing {
		if !mesh.IsWaypointGateway(cur) {
			if v.Foreign == nil {
				v.Foreign = map[string]string{}
			}
			v.Foreign[ns] = string(cur.Spec.GatewayClassName)
			delete(existing, ns)
		}
	}
	v.Existing = existing
	if len(existing) == 0 {
		return ch, nil
	}
	reader := enroll.NewReader(c)
	v.Classes = reader.Classes
	for _, gw := range gws {
		cur := existing[gw.Namespace]
		if cur == nil {
			continue
		}
		now := reader.Classes.Parse(ctx, cur)
		reader.Know(&now)
		next := reader.Classes.Parse(ctx, AfterApply(cur, gw))
		if now.SameBinding(next) {
			continue
		}
		reader.Gaps = nil
		cut, err := reader.CutOff(ctx, now.Key(), &next)
		if len(reader.Gaps) > 0 {
			v.Gaps = append(v.Gaps, WaypointGaps{Key: now.Key(), Gaps: reader.Gaps})
		}
		if err != nil {
			return ch, err
		}
		for _, r := range cut {
			v.Lost = append(v.Lost, fmt.Sprintf("%s would lose waypoint %s: %s (%s)", enroll.RefOf(r.Kind, r.Namespace, r.Name).String(), now.Key(), strings.TrimPrefix(r.Message, "uses no waypoint: "), r.Reason))
			if kind := policy.ChangeOf(r.Kind); kind == "Service" || kind == "ServiceEntry" {
				ch.Users = append(ch.Users, policy.Object{Kind: kind, Namespace: r.Namespace, Name: r.Name})
			}
		}
		if len(cut) > 0 {
			ch.Waypoints[now.Key()] = &next
			ch.Causes[policy.WaypointObject(now.Key())] = applyCause(now, next)
		}
	}
	return ch, nil
}

// applyCause says what applying next over now changes for its users.
func applyCause(now, next mesh.Waypoint) string {
	if now.TrafficType != next.TrafficType {
		return fmt.Sprintf("waypoint %s would serve %s traffic", now.Key(), next.TrafficType.Display())
	}
	return fmt.Sprintf("waypoint %s would admit %s", now.Key(), next.AllowedFrom)
}
