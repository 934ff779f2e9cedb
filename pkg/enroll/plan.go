package enroll

import (
	"context"
	"fmt"
	"slices"
	"sort"
	"sync"

	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	gatewayv1 "sigs.k8s.io/gateway-api/apis/v1"

	"github.com/kubectl-waypoint/kubectl-waypoint/pkg/bulk"
	"github.com/kubectl-waypoint/kubectl-waypoint/pkg/kube"
	"github.com/kubectl-waypoint/kubectl-waypoint/pkg/mesh"
)

// Missing is a named object that does not exist; Namespace is empty for
// namespaces.
type Missing struct{ Namespace, Name string }

// Selection is what SelectIn read: the objects, the named ones that do not
// exist, the labels of the namespaces the objects live in, and the reads
// that failed.
type Selection struct {
	Targets         []Target
	Missing         []Missing
	NamespaceLabels map[string]map[string]string
	// Failed are the objects (or, for a selector, the namespaces) that could
	// not be read; each stands for a failed record.
	Failed []ReadFailure
}

// ReadFailure is an object that could not be read (Name empty when a whole
// namespace's selection failed).
type ReadFailure struct {
	Namespace, Name string
	Err             error
}

// SelectIn reads the objects of kind to change: for namespaces, those named
// (or selected, or else namespaces themselves); for the other kinds, those
// named or selected in each namespace, concurrency namespaces at a time,
// with the labels of that namespace. Every read is retried like a write; a
// read that fails fails only the objects it was for.
func SelectIn(ctx context.Context, c *kube.Clients, kind Kind, namespaces, names []string, selector string, concurrency int) *Selection {
	sel := &Selection{NamespaceLabels: map[string]map[string]string{}}
	if !kind.Namespaced() {
		if len(names) == 0 && selector == "" {
			names = namespaces
		}
		found, gone, failed := selectIn(ctx, c, kind, "", names, selector, concurrency)
		for _, n := range gone {
			sel.Missing = append(sel.Missing, Missing{Name: n})
		}
		sel.Targets, sel.Failed = found, failed
		return sel
	}
	// The list of namespaces runs alongside the first selections: with a
	// slow server, one round trip less.
	listed := make(chan map[string]map[string]string, 1)
	go func() { listed <- namespaceLabels(ctx, c, namespaces) }()
	var nsLabels map[string]map[string]string
	var listOnce sync.Once
	var mu sync.Mutex
	started := bulk.ForEach(ctx, len(namespaces), concurrency, func(ctx context.Context, i int) {
		ns := namespaces[i]
		found, gone, failed := selectIn(ctx, c, kind, ns, names, selector, concurrency)
		listOnce.Do(func() { nsLabels = <-listed })
		labels, ok := nsLabels[ns]
		var err error
		switch {
		case ok:
		case nsLabels != nil:
			err = errNamespaceNotFound(ns)
		default:
			// No list of namespaces (one namespace, no right, or the list
			// failed): read this one.
			labels, err = namespaceLabelsOf(ctx, c, ns)
		}
		if err != nil {
			found, gone, failed = nil, nil, failAll(ns, names, err)
		}
		mu.Lock()
		defer mu.Unlock()
		if err == nil {
			sel.NamespaceLabels[ns] = labels
		}
		sel.Targets = append(sel.Targets, found...)
		for _, n := range gone {
			sel.Missing = append(sel.Missing, Missing{Namespace: ns, Name: n})
		}
		sel.Failed = append(sel.Failed, failed...)
	}, nil)
	for _, ns := range namespaces[started:] {
		sel.Failed = append(sel.Failed, failAll(ns, names, bulk.ErrInterrupted)...)
	}
	sort.Slice(sel.Targets, func(i, j int) bool {
		a, b := sel.Targets[i], sel.Targets[j]
		if a.Namespace != b.Namespace {
			return a.Namespace < b.Namespace
		}
		return a.Name < b.Name
	})
	return sel
}

// failAll fails every named object of namespace ns, or the namespace's
// selection when none is named.
func failAll(ns string, names []string, err error) []ReadFailure {
	if len(names) == 0 {
		return []ReadFailure{{Namespace: ns, Err: err}}
	}
	out := make([]ReadFailure, len(names))
	for i, n := range names {
		out[i] = ReadFailure{Namespace: ns, Name: n, Err: err}
	}
	return out
}

func errNamespaceNotFound(ns string) error {
	return fmt.Errorf("namespace %q not found; pick another with -n", ns)
}

// namespaceLabels lists the namespaces once, when there are several and the
// user may; nil otherwise (each is then read on its own).
func namespaceLabels(ctx context.Context, c *kube.Clients, namespaces []string) map[string]map[string]string {
	if len(namespaces) < 2 {
		return nil
	}
	out := map[string]map[string]string{}
	err := kube.Retry(ctx, func() error {
		return eachMetadata(ctx, c, KindNamespace, "", "", func(m *metav1.PartialObjectMetadata) {
			if slices.Contains(namespaces, m.Name) {
				out[m.Name] = m.Labels
			}
		})
	})
	if err != nil {
		return nil
	}
	return out
}

// namespaceLabelsOf reads one namespace's labels.
func namespaceLabelsOf(ctx context.Context, c *kube.Clients, ns string) (map[string]string, error) {
	var m *metav1.PartialObjectMetadata
	err := kube.Retry(ctx, func() (err error) {
		m, err = c.Metadata.Resource(KindNamespace.GVR()).Get(ctx, ns, metav1.GetOptions{})
		return err
	})
	if apierrors.IsNotFound(err) {
		return nil, errNamespaceNotFound(ns)
	}
	if err != nil {
		return nil, kube.Describe("read namespace "+ns, err)
	}
	return m.Labels, nil
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
	// Err says reading the waypoint failed for another reason: the targets
	// that would use it must not be written unchecked.
	Err error
}

// CheckWaypoints reads, once each, the waypoints that targets would use
// (the one named, in the targets' own namespace unless wpNamespace is set)
// and checks each against the kind and the namespaces that would use it.
// The waypoints are read concurrency at a time, each read retried; a fault
// other than a missing or forbidden waypoint is in its check's Err.
func CheckWaypoints(ctx context.Context, c *kube.Clients, classes *mesh.Classes, kind Kind, name, wpNamespace string, targets []Target, nsLabels map[string]map[string]string, concurrency int) []WaypointCheck {
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
	var parse sync.Mutex
	list := make([]*WaypointCheck, 0, len(groups))
	for _, g := range groups {
		list = append(list, g)
	}
	bulk.ForEach(ctx, len(list), concurrency, func(ctx context.Context, i int) {
		g := list[i]
		var gw *gatewayv1.Gateway
		err := kube.Retry(ctx, func() (err error) {
			gw, err = c.Gateway.GatewayV1().Gateways(g.Namespace).Get(ctx, g.Name, metav1.GetOptions{})
			return err
		})
		switch {
		case kube.IsMissingType(err):
			// No Gateway API: nothing could ever serve the enrollment.
			g.Err = kube.Describe("read waypoint "+g.Key, err)
			return
		case apierrors.IsNotFound(err):
			gw = nil
		case apierrors.IsForbidden(err):
			g.ReadErr = kube.Describe("read waypoint "+g.Key, err)
			return
		case err != nil:
			g.Err = kube.Describe("read waypoint "+g.Key+" to check it", err)
			return
		}
		in := CheckInput{Kind: kind, Namespaces: g.Namespaces}
		if gw != nil {
			parse.Lock() // Classes caches what it reads, unguarded
			w := classes.Parse(ctx, gw)
			parse.Unlock()
			in.Waypoint = &w
		}
		g.Result = Check(in)
	}, nil)
	out := make([]WaypointCheck, 0, len(list))
	for _, g := range list {
		out = append(out, *g)
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Key < out[j].Key })
	return out
}
