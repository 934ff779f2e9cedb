package waypoint

import (
	"context"
	"fmt"
	"maps"
	"sort"
	"strings"

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/labels"

	"github.com/kubectl-waypoint/kubectl-waypoint/pkg/bulk"
	"github.com/kubectl-waypoint/kubectl-waypoint/pkg/kube"
	"github.com/kubectl-waypoint/kubectl-waypoint/pkg/render"
)

// LabelDefaultsForClass on a ConfigMap of istiod's namespace makes its
// overlays the defaults of every Gateway of the class it names. istiod
// applies them before the Gateway's own parameters, and of several such
// ConfigMaps uses the oldest only (render in
// pilot/pkg/config/kube/gatewaycommon/deploymentcontroller.go).
const LabelDefaultsForClass = "gateway.istio.io/defaults-for-class"

// DefaultsName is the name of the class defaults ConfigMap the tool
// writes for class.
func DefaultsName(class string) string { return "kubectl-waypoint-defaults-" + class }

// Defaults is what a class's defaults are now.
type Defaults struct {
	Class, Namespace string
	// InEffect is the ConfigMap istiod uses (the oldest of those labelled
	// for the class), nil when none is.
	InEffect *corev1.ConfigMap
	// Others are the other ConfigMaps labelled for the class, which istiod
	// ignores.
	Others []*corev1.ConfigMap
	// Waypoints are the Gateways of the class, "namespace/name", sorted.
	Waypoints []string
	// WaypointsUnknown says why Waypoints could not be listed.
	WaypointsUnknown error
}

// Ours says the ConfigMap in effect was written by the tool.
func (d *Defaults) Ours() bool { return d.InEffect != nil && ours(d.InEffect) }

// ReadDefaults reads the defaults of class in istiod's namespace ns and the
// waypoints they apply to: one list of ConfigMaps, one of Gateways across
// the cluster (a failure of the latter is kept in WaypointsUnknown).
func ReadDefaults(ctx context.Context, c *kube.Clients, ns, class string) (*Defaults, error) {
	d, err := readDefaultsConfigMaps(ctx, c, ns, class)
	if err != nil {
		return nil, err
	}
	err = kube.Retry(ctx, func() error {
		gws, err := c.Gateway.GatewayV1().Gateways("").List(ctx, metav1.ListOptions{})
		if err != nil {
			return err
		}
		for _, gw := range gws.Items {
			if string(gw.Spec.GatewayClassName) == class {
				d.Waypoints = append(d.Waypoints, gw.Namespace+"/"+gw.Name)
			}
		}
		return nil
	})
	if err != nil {
		d.WaypointsUnknown = kube.Describe("list the waypoints of class "+class, err)
	}
	sort.Strings(d.Waypoints)
	return d, nil
}

// readDefaultsConfigMaps reads the ConfigMaps labelled for class: the one
// istiod uses and the others.
func readDefaultsConfigMaps(ctx context.Context, c *kube.Clients, ns, class string) (*Defaults, error) {
	d := &Defaults{Class: class, Namespace: ns}
	var list *corev1.ConfigMapList
	err := kube.Retry(ctx, func() (err error) {
		list, err = c.Kube.CoreV1().ConfigMaps(ns).List(ctx, metav1.ListOptions{
			LabelSelector: labels.SelectorFromSet(labels.Set{LabelDefaultsForClass: class}).String(),
		})
		return err
	})
	if err != nil {
		return nil, kube.Describe("list the defaults of class "+class+" in namespace "+ns, err)
	}
	items := list.Items
	sort.SliceStable(items, func(i, j int) bool {
		a, b := items[i].CreationTimestamp, items[j].CreationTimestamp
		if !a.Equal(&b) {
			return a.Before(&b)
		}
		return items[i].Name < items[j].Name
	})
	for i := range items {
		if i == 0 {
			d.InEffect = &items[i]
			continue
		}
		d.Others = append(d.Others, &items[i])
	}
	return d, nil
}

// ForeignDefaultsError refuses to write the defaults of a class whose
// defaults istiod takes from a ConfigMap the tool did not make: a new one
// would be ignored (istiod uses the oldest), and the user's is not ours to
// change. Nothing was written.
type ForeignDefaultsError struct {
	Class, Namespace, Name string
}

func (e *ForeignDefaultsError) Error() string {
	return fmt.Sprintf("the defaults of class %s are in configmap %s/%s, which kubectl-waypoint did not make (istiod uses the oldest ConfigMap labelled %s=%s, so another would be ignored): change that one, or delete it and run this again",
		e.Class, e.Namespace, e.Name, LabelDefaultsForClass, e.Class)
}

// SetDefaults server-side applies the defaults ConfigMap of class with the
// overlays data, or, with data nil, deletes it. It refuses when istiod
// takes the class's defaults from a ConfigMap that is not ours. The
// action says what happened: created, configured, unchanged, deleted;
// unchanged too for a delete of defaults that do not exist.
func SetDefaults(ctx context.Context, c *kube.Clients, d *Defaults, data map[string]string, force bool, dryRun kube.DryRun) (*corev1.ConfigMap, bulk.Action, error) {
	if d.InEffect != nil && !ours(d.InEffect) {
		return nil, "", &ForeignDefaultsError{Class: d.Class, Namespace: d.Namespace, Name: d.InEffect.Name}
	}
	name := DefaultsName(d.Class)
	cur := d.InEffect
	if data == nil {
		if cur == nil {
			return nil, bulk.Unchanged, nil
		}
		deleted, err := removeParameters(ctx, c, d.Namespace, cur.Name, cur, dryRun)
		if err != nil {
			return nil, "", err
		}
		if deleted == nil {
			return nil, bulk.Unchanged, nil
		}
		return deleted, bulk.Deleted, nil
	}
	if cur != nil && cur.Name != name {
		name = cur.Name // ours, under an older name: keep it
	}
	cm := &corev1.ConfigMap{
		TypeMeta: metav1.TypeMeta{APIVersion: "v1", Kind: "ConfigMap"},
		ObjectMeta: metav1.ObjectMeta{
			Name: name, Namespace: d.Namespace,
			Labels: map[string]string{render.LabelManagedBy: render.ManagedByValue, LabelDefaultsForClass: d.Class},
		},
		Data: data,
	}
	if dryRun == kube.DryRunClient {
		action := bulk.Created
		if cur != nil {
			action = bulk.Configured
			if maps.Equal(cur.Data, data) {
				action = bulk.Unchanged
			}
		}
		return cm, action, nil
	}
	out, created, err := writeParameters(ctx, c, cm, "", "", force, dryRun)
	if apierrors.IsNotFound(err) || (err != nil && strings.Contains(err.Error(), "not found; create it first")) {
		return nil, "", fmt.Errorf("cannot write the defaults of class %s: namespace %q not found; is istiod's namespace another? pass it with --istio-namespace", d.Class, d.Namespace)
	}
	if err != nil {
		return nil, "", err
	}
	return out, parametersAction(cur, out, created, dryRun), nil
}
