package cli

import (
	"context"
	"fmt"
	"sort"
	"strconv"
	"strings"

	"github.com/kubectl-waypoint/kubectl-waypoint/pkg/enroll"
	"github.com/kubectl-waypoint/kubectl-waypoint/pkg/kube"
	"github.com/kubectl-waypoint/kubectl-waypoint/pkg/mesh"
	"github.com/kubectl-waypoint/kubectl-waypoint/pkg/render"
	"github.com/kubectl-waypoint/kubectl-waypoint/pkg/waypoint"
)

// What runs for the waypoints, as status and list -o wide show it: the
// columns REPLICAS, AUTOSCALE and BUDGET, the warnings about the lists
// that failed, and status's warning about waypoints a node drain would
// cut off.

// defaultCPUPercent is the target the API server sets on an autoscaling/v2
// HorizontalPodAutoscaler that has no metrics.
const defaultCPUPercent = 80

// deployedHeader are the columns of what runs.
var deployedHeader = []string{"REPLICAS", "AUTOSCALE", "BUDGET"}

// readDeployed reads what runs for wps (three lists whatever their
// number) and warns, one line per resource, about the lists that failed.
func readDeployed(ctx context.Context, io *IOStreams, c *kube.Clients, wps []mesh.Waypoint) waypoint.DeployedRead {
	read := waypoint.ReadDeployed(ctx, c, wps)
	warnUnreadDeployed(io, read.Unread)
	return read
}

// warnUnreadDeployed says, one line per resource, which lists of what runs
// failed: their columns show <unknown>.
func warnUnreadDeployed(io *IOStreams, unread []waypoint.UnreadList) {
	var order []string
	byResource := map[string][]waypoint.UnreadList{}
	for _, u := range unread {
		if byResource[u.Resource] == nil {
			order = append(order, u.Resource)
		}
		byResource[u.Resource] = append(byResource[u.Resource], u)
	}
	for _, res := range order {
		us := byResource[res]
		var where []string
		for _, u := range us {
			if u.Namespace == "" {
				where = nil
				break
			}
			where = append(where, u.Namespace)
		}
		sort.Strings(where)
		what := "list the " + res + " of the waypoints"
		switch len(where) {
		case 0:
		case 1:
			what += " in namespace " + where[0]
		default:
			what += " in namespaces " + strings.Join(where, ", ")
		}
		io.Warnf("%v", kube.Describe(what, us[0].Err))
	}
}

// replicasCell is ready/desired, as kubectl get deployment shows READY.
func replicasCell(d waypoint.Deployed) string {
	switch {
	case !d.Knows(waypoint.ObjectDeployment):
		return "<unknown>"
	case d.Replicas == nil:
		return "<none>"
	}
	return fmt.Sprintf("%d/%d", d.Replicas.Ready, d.Replicas.Desired)
}

// autoscaleCell is min-max, and the current replicas in parentheses once
// the autoscaler has run.
func autoscaleCell(d waypoint.Deployed) string {
	a := d.Autoscaler
	switch {
	case !d.Knows(waypoint.ObjectAutoscaler):
		return "<unknown>"
	case a == nil:
		return "<none>"
	}
	cell := fmt.Sprintf("%d-%d", a.Min, a.Max)
	if a.Current != nil {
		cell += fmt.Sprintf(" (%d)", *a.Current)
	}
	return cell
}

// budgetCell is the budget's field as the object holds it.
func budgetCell(d waypoint.Deployed) string {
	b := d.Budget
	switch {
	case !d.Knows(waypoint.ObjectBudget):
		return "<unknown>"
	case b == nil:
		return "<none>"
	case b.MinAvailable != "":
		return "minAvailable=" + b.MinAvailable
	case b.MaxUnavailable != "":
		return "maxUnavailable=" + b.MaxUnavailable
	}
	return "<empty>"
}

// deployedCells are the three cells of what runs.
func deployedCells(d waypoint.Deployed) []string {
	return []string{replicasCell(d), autoscaleCell(d), budgetCell(d)}
}

// warnExposed warns, one line per waypoint, about those whose users a node
// drain would cut off (waypoint.FindExposed), with what fixes it.
func warnExposed(ctx context.Context, io *IOStreams, c *kube.Clients, tool string, wps []mesh.Waypoint, read waypoint.DeployedRead, scope []string) {
	exposed, err := waypoint.FindExposed(ctx, c, wps, read, scope)
	if err != nil {
		io.Warnf("%v; whether the waypoints that run a single replica without a disruption budget have users was not checked", err)
		return
	}
	for _, e := range exposed {
		io.Warnf("%s", exposedLine(tool, e))
	}
}

// exposedLine says what a drain of its node does to the users of an
// exposed waypoint, and how to fix it.
func exposedLine(tool string, e waypoint.Exposed) string {
	runs := "runs one replica"
	if a := e.Deployed.Autoscaler; a != nil {
		runs = fmt.Sprintf("autoscales from %d replica", a.Min)
	}
	return fmt.Sprintf("waypoint %s %s and has no disruption budget, and %s: draining its node cuts their traffic; %s",
		e.Waypoint.Key(), runs, usersText(e.Users), exposedFix(tool, e))
}

// usersText names the users, the first three of them.
func usersText(users []enroll.Resolution) string {
	names := make([]string, 0, 3)
	for _, u := range users[:min(3, len(users))] {
		names = append(names, enroll.RefOf(u.Kind, u.Namespace, u.Name).String())
	}
	if len(users) == 1 {
		return names[0] + " uses it"
	}
	list := strings.Join(names, ", ")
	if more := len(users) - len(names); more > 0 {
		list += fmt.Sprintf(" and %d more", more)
	}
	return fmt.Sprintf("%d resources use it (%s)", len(users), list)
}

// exposedFix is the fix of an exposed waypoint: two replicas (or an
// autoscaler from two) and a budget that lets one go at a time, with the
// apply command that renders the waypoint as it is plus those flags.
func exposedFix(tool string, e waypoint.Exposed) string {
	w := e.Waypoint
	sizing := []string{"--replicas", "2"}
	if a := e.Deployed.Autoscaler; a != nil {
		sizing = []string{"--min-replicas", "2", "--max-replicas", strconv.Itoa(int(max(a.Max, 2)))}
		// 80 is what the API server gives an autoscaler without a
		// target, as an apply without --cpu-percent renders it.
		if a.CPUPercent != nil && *a.CPUPercent != defaultCPUPercent {
			sizing = append(sizing, "--cpu-percent", strconv.Itoa(int(*a.CPUPercent)))
		}
	}
	sizing = append(sizing, "--max-unavailable", "1")
	var params string
	var infraLabels, infraAnnotations []string
	if w.Gateway != nil {
		if in := w.Gateway.Spec.Infrastructure; in != nil {
			if in.ParametersRef != nil {
				params = in.ParametersRef.Name
			}
			for k, v := range in.Labels {
				infraLabels = append(infraLabels, string(k)+"="+string(v))
			}
			for k, v := range in.Annotations {
				infraAnnotations = append(infraAnnotations, string(k)+"="+string(v))
			}
		}
	}
	if params != "" && params != render.ParametersName(w.Name) {
		return fmt.Sprintf("its parameters are your configmap %s/%s: give its deployment overlay 2 replicas (or its horizontalPodAutoscaler overlay minReplicas: 2) and add a podDisruptionBudget overlay with maxUnavailable: 1", w.Namespace, params)
	}
	sort.Strings(infraLabels)
	sort.Strings(infraAnnotations)
	cmd, ok := applyCommand(tool, &w, func(a *applyArgs) {
		for _, l := range infraLabels {
			a.extra = append(a.extra, "--infra-label", shellQuote(l))
		}
		for _, an := range infraAnnotations {
			a.extra = append(a.extra, "--infra-annotation", shellQuote(an))
		}
		a.extra = append(a.extra, sizing...)
	})
	switch {
	case !ok:
		return fmt.Sprintf("give it 2 replicas and a budget of maxUnavailable: 1 through its parameters (apply renders no Gateway of class %s)", w.Class)
	case params != "":
		return "add the other sizing flags it was applied with (an apply without them drops them) to: " + cmd
	}
	return "run: " + cmd
}
