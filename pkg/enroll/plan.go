package enroll

import (
	"context"
	"fmt"
	"sort"

	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/kubectl-waypoint/kubectl-waypoint/pkg/kube"
	"github.com/kubectl-waypoint/kubectl-waypoint/pkg/mesh"
)

// Missing is a named object that does not exist; Namespace is empty for
// namespaces.
type Missing struct{ Namespace, Name string }

// Selection is what SelectIn read: the objects, the named ones that do not
// exist, and the labels of the namespaces the objects live in.
type Selection struct {
	Targets         []Target
	Missing         []Missing
	NamespaceLabels map[string]map[string]string
}

// SelectIn reads the objects of kind to change: for namespaces, those named
// (or selected, or else namespaces themselves); for the other kinds, those
// named or selected in each namespace, with the labels of that namespace.
func SelectIn(ctx context.Context, c *kube.Clients, kind Kind, namespaces, names []string, selector string) (*Selection, error) {
	sel := &Selection{NamespaceLabels: map[string]map[string]string{}}
	if !kind.Namespaced() {
		if len(names) == 0 && selector == "" {
			names = namespaces
		}
		found, gone, err := Select(ctx, c, kind, "", names, selector)
		for _, n := range gone {
			sel.Missing = append(sel.Missing, Missing{Name: n})
		}
		sel.Targets = found
		return sel, err
	}
	for _, ns := range namespaces {
		obj, err := c.Kube.CoreV1().Namespaces().Get(ctx, ns, metav1.GetOptions{})
		if apierrors.IsNotFound(err) {
			return nil, fmt.Errorf("namespace %q not found; pick another with -n", ns)
		}
		if err != nil {
			return nil, kube.Describe("read namespace "+ns, err)
		}
		sel.NamespaceLabels[ns] = obj.Labels
		found, gone, err := Select(ctx, c, kind, ns, names, selector)
		if err != nil {
			return nil, err
		}
		sel.Targets = append(sel.Targets, found...)
		for _, n := range gone {
			sel.Missing = append(sel.Missing, Missing{Namespace: ns, Name: n})
		}
	}
	return sel, nil
}

// WaypointCheck is the check of one waypoint that targets are enrolled into.
type WaypointCheck struct {
	// Key is namespace/name of the waypoint.
	Key       string
	Namespace string
	Name      string
	// Namespaces are those of the targets that use it, with their labels.
	Namespaces map[string]map[string]string
	// Result is the check; zero when ReadErr is set.
	Result CheckResult
	// ReadErr says the waypoint could not be read (forbidden): unchecked.
	ReadErr error
}

// CheckWaypoints reads, once each, the waypoints that targets would use
// (the one named, in the targets' own namespace unless wpNamespace is set)
// and checks each against the kind and the namespaces that would use it.
// Only a fault other than a missing or forbidden waypoint is returned.
func CheckWaypoints(ctx context.Context, c *kube.Clients, classes *mesh.Classes, kind Kind, name, wpNamespace string, targets []Target, nsLabels map[string]map[string]string) ([]WaypointCheck, error) {
	groups := map[string]*WaypointCheck{}
	for _, t := range targets {
		ns := wpNamespace
		if ns == "" {
			ns = t.Own()
		}
		key := ns + "/" + name
		g := groups[key]
		if g == nil {
			g = &WaypointCheck{Key: key, Namespace: ns, Name: name, Namespaces: map[string]map[string]string{}}
			groups[key] = g
		}
		if t.Kind == KindNamespace {
			g.Namespaces[t.Name] = t.Labels
		} else {
			g.Namespaces[t.Namespace] = nsLabels[t.Namespace]
		}
	}
	out := make([]WaypointCheck, 0, len(groups))
	for _, g := range groups {
		gw, err := c.Gateway.GatewayV1().Gateways(g.Namespace).Get(ctx, g.Name, metav1.GetOptions{})
		switch {
		case apierrors.IsNotFound(err) || kube.IsMissingType(err):
			gw = nil
		case apierrors.IsForbidden(err):
			g.ReadErr = kube.Describe("read waypoint "+g.Key, err)
			out = append(out, *g)
			continue
		case err != nil:
			return nil, kube.Describe("read waypoint "+g.Key, err)
		}
		in := CheckInput{Kind: kind, Namespaces: g.Namespaces}
		if gw != nil {
			w := classes.Parse(ctx, gw)
			in.Waypoint = &w
		}
		g.Result = Check(in)
		out = append(out, *g)
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Key < out[j].Key })
	return out, nil
}
