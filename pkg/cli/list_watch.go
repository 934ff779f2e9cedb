package cli

import (
	"context"
	"fmt"
	"slices"

	"k8s.io/apimachinery/pkg/watch"
	gatewayv1 "sigs.k8s.io/gateway-api/apis/v1"

	"github.com/kubectl-waypoint/kubectl-waypoint/pkg/kube"
	"github.com/kubectl-waypoint/kubectl-waypoint/pkg/mesh"
	"github.com/kubectl-waypoint/kubectl-waypoint/pkg/render"
	"github.com/kubectl-waypoint/kubectl-waypoint/pkg/waypoint"
)

// validateWatch checks what --watch can print: the table, or names.
func (o *ListOptions) validateWatch() error {
	if !o.Watch {
		return nil
	}
	if o.Output != "" && o.Output != "name" {
		return usageErrorf("--watch prints the table or -o name, not -o %s", o.Output)
	}
	if o.SortBy != "" {
		return usageErrorf("--sort-by makes no sense with --watch: changes are printed as they happen")
	}
	return nil
}

// runWatch prints the waypoints as list does, then one line per change as
// it happens, from one watch that starts where the list ended, until ctx
// ends (the user interrupts). A watch the server closes is opened again
// from the last change seen.
func (o *ListOptions) runWatch(ctx context.Context) error {
	classes := mesh.NewClasses(o.clients.Gateway)
	wps, rv, err := waypoint.List(ctx, o.clients.Gateway, waypoint.ListOptions{
		Namespace: o.namespace, LabelSelector: o.Selector, PageSize: o.PageSize, Classes: classes,
	})
	if err != nil {
		return kube.Describe("list waypoints", err)
	}
	warnUnreadClasses(o.IO, classes)
	wps = slices.DeleteFunc(wps, func(w mesh.Waypoint) bool { return !o.named(w.Name) })
	if err := o.printWatchRows(wps, !o.NoHeaders); err != nil {
		return err
	}
	var printErr error
	err = waypoint.Watch(ctx, o.clients.Gateway, waypoint.WatchScope{Namespace: o.namespace, LabelSelector: o.Selector, ResourceVersion: rv},
		func(_ watch.EventType, gw *gatewayv1.Gateway) (bool, error) {
			if !mesh.IsWaypointGateway(gw) || !o.named(gw.Name) {
				return false, nil
			}
			printErr = o.printWatchRows([]mesh.Waypoint{classes.Parse(ctx, gw)}, false)
			return false, printErr
		})
	switch {
	case printErr != nil:
		return printErr
	case ctx.Err() != nil:
		return nil // the user interrupted
	}
	return kube.Describe("watch waypoints", err)
}

// named says whether --name (or the names given) lets name through.
func (o *ListOptions) named(name string) bool {
	return len(o.Names) == 0 || slices.Contains(o.Names, name)
}

// printWatchRows prints waypoints as names or as table rows (the columns of
// list without -o wide), with the header when asked.
func (o *ListOptions) printWatchRows(wps []mesh.Waypoint, header bool) error {
	if o.Output == "name" {
		for _, w := range wps {
			fmt.Fprintf(o.IO.Out, "gateway.gateway.networking.k8s.io/%s\n", w.Name)
		}
		return nil
	}
	if len(wps) == 0 && !header {
		return nil
	}
	cols := []string{"NAME", "REVISION", "TRAFFIC TYPE", "PROGRAMMED"}
	if o.AllNamespaces {
		cols = append([]string{"NAMESPACE"}, cols...)
	}
	t := render.NewTable(cols...)
	t.NoHeaders = !header
	for _, w := range wps {
		row := []string{w.Name, orDefault(w.Revision, "default"), trafficCell(w.TrafficType), w.ProgrammedText()}
		if o.AllNamespaces {
			row = append([]string{w.Namespace}, row...)
		}
		t.Append(row...)
	}
	return t.Render(o.IO.Out)
}
