package testenv

import (
	"context"
	"fmt"
	"maps"
	"sync"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/apimachinery/pkg/util/intstr"
	"k8s.io/client-go/discovery"
	"k8s.io/client-go/rest"
	"k8s.io/client-go/util/retry"
	gwv1 "sigs.k8s.io/gateway-api/apis/v1"
)

// ServiceEntryResource is Istio's ServiceEntry, reached through Env.Dynamic.
var ServiceEntryResource = schema.GroupVersionResource{Group: "networking.istio.io", Version: "v1", Resource: "serviceentries"}

// Names istiod knows waypoints and the ambient mesh by.
const (
	WaypointClass        = "istio-waypoint"           // GatewayClass of waypoints
	WaypointListener     = "mesh"                     // name of the waypoint's listener
	WaypointPort         = 15008                      // port of the waypoint's listener
	WaypointProtocol     = "HBONE"                    // protocol of the waypoint's listener
	MeshControllerName   = "istio.io/mesh-controller" // controller of the istio-waypoint class
	DataplaneModeLabel   = "istio.io/dataplane-mode"  // namespace label that puts it in the mesh
	DataplaneModeAmbient = "ambient"                  // value of DataplaneModeLabel for ambient
)

const (
	cleanupTimeout        = 30 * time.Second
	namespaceGenerateName = "test-"
)

// AmbientLabels are the labels of a namespace in the ambient mesh.
func AmbientLabels() map[string]string {
	return map[string]string{DataplaneModeLabel: DataplaneModeAmbient}
}

// Namespace creates a namespace with a unique name ("test-" and a random
// suffix) and the given labels, and deletes it with everything in it when the
// test ends. It returns the name.
//
// No namespace controller runs in the test control plane, so the cleanup
// empties the namespace and finalizes it itself: a test listing across all
// namespaces does not see what earlier tests left.
func (e *Env) Namespace(t testing.TB, labels map[string]string) string {
	t.Helper()
	return e.createNamespace(t, metav1.ObjectMeta{GenerateName: namespaceGenerateName, Labels: maps.Clone(labels)})
}

// NamedNamespace is Namespace with a fixed name, for tests that follow a
// document using that name. The namespace must not exist yet.
func (e *Env) NamedNamespace(t testing.TB, name string, labels map[string]string) string {
	t.Helper()
	return e.createNamespace(t, metav1.ObjectMeta{Name: name, Labels: maps.Clone(labels)})
}

func (e *Env) createNamespace(t testing.TB, meta metav1.ObjectMeta) string {
	t.Helper()
	ns := &corev1.Namespace{ObjectMeta: meta}
	created, err := e.Kube.CoreV1().Namespaces().Create(ctx(t), ns, metav1.CreateOptions{})
	if err != nil {
		t.Fatalf("creating a namespace: %v", err)
	}
	t.Cleanup(func() {
		if err := e.DeleteNamespace(created.Name); err != nil {
			t.Errorf("deleting namespace %s: %v", created.Name, err)
		}
	})
	return created.Name
}

// DeleteNamespace deletes a namespace the way the namespace controller would:
// it deletes every namespaced object in it, then the namespace, and finalizes
// it so that it is gone rather than left Terminating. A namespace that does
// not exist is not an error.
func (e *Env) DeleteNamespace(name string) error {
	c, cancel := context.WithTimeout(context.Background(), cleanupTimeout)
	defer cancel()

	var wg sync.WaitGroup
	errs := make([]error, len(e.nsCleanup))
	zero := int64(0)
	for i, r := range e.nsCleanup {
		wg.Add(1)
		go func() {
			defer wg.Done()
			err := e.sweeper.Resource(r.gvr).Namespace(name).DeleteCollection(c,
				metav1.DeleteOptions{GracePeriodSeconds: &zero}, metav1.ListOptions{})
			if err != nil && !apierrors.IsNotFound(err) && !apierrors.IsMethodNotSupported(err) {
				errs[i] = fmt.Errorf("deleting %s: %w", r.gvr.Resource, err)
			}
		}()
	}
	wg.Wait()
	for _, err := range errs {
		if err != nil {
			return err
		}
	}

	namespaces := e.Kube.CoreV1().Namespaces()
	if err := namespaces.Delete(c, name, metav1.DeleteOptions{}); err != nil {
		if apierrors.IsNotFound(err) {
			return nil
		}
		return err
	}
	ns, err := namespaces.Get(c, name, metav1.GetOptions{})
	if apierrors.IsNotFound(err) {
		return nil
	}
	if err != nil {
		return err
	}
	ns.Spec.Finalizers = nil
	if _, err := namespaces.Finalize(c, ns, metav1.UpdateOptions{}); err != nil && !apierrors.IsNotFound(err) {
		return fmt.Errorf("finalizing: %w", err)
	}
	// With no finalizer left, a second delete removes it.
	if err := namespaces.Delete(c, name, metav1.DeleteOptions{}); err != nil && !apierrors.IsNotFound(err) {
		return err
	}
	return nil
}

// nsResource is a namespaced resource that DeleteNamespace empties.
type nsResource struct {
	gvr schema.GroupVersionResource
}

// namespacedResources lists the namespaced resources that can be deleted by
// collection, in their preferred version.
func namespacedResources(cfg *rest.Config) ([]nsResource, error) {
	dc, err := discovery.NewDiscoveryClientForConfig(cfg)
	if err != nil {
		return nil, fmt.Errorf("creating the discovery client: %w", err)
	}
	lists, err := discovery.ServerPreferredNamespacedResources(dc)
	if err != nil {
		return nil, fmt.Errorf("discovering namespaced resources: %w", err)
	}
	var out []nsResource
	for _, list := range lists {
		gv, err := schema.ParseGroupVersion(list.GroupVersion)
		if err != nil {
			return nil, err
		}
		for _, r := range list.APIResources {
			if !hasVerb(r.Verbs, "deletecollection") {
				continue
			}
			out = append(out, nsResource{gvr: gv.WithResource(r.Name)})
		}
	}
	return out, nil
}

func hasVerb(verbs metav1.Verbs, verb string) bool {
	for _, v := range verbs {
		if v == verb {
			return true
		}
	}
	return false
}

// Service creates a ClusterIP service with one port (http, 80) that selects
// pods labelled app=<name>. It is deleted when the test ends.
func (e *Env) Service(t testing.TB, ns, name string, labels map[string]string) *corev1.Service {
	t.Helper()
	svc := &corev1.Service{
		ObjectMeta: metav1.ObjectMeta{Name: name, Namespace: ns, Labels: maps.Clone(labels)},
		Spec: corev1.ServiceSpec{
			Selector: map[string]string{"app": name},
			Ports:    []corev1.ServicePort{{Name: "http", Port: 80, TargetPort: intstr.FromInt32(8080)}},
		},
	}
	created, err := e.Kube.CoreV1().Services(ns).Create(ctx(t), svc, metav1.CreateOptions{})
	if err != nil {
		t.Fatalf("creating service %s/%s: %v", ns, name, err)
	}
	t.Cleanup(func() {
		e.cleanup(t, "service", ns, name, func(c context.Context) error {
			return e.Kube.CoreV1().Services(ns).Delete(c, name, metav1.DeleteOptions{})
		})
	})
	return created
}

// Pod creates a pod with one container. No kubelet runs, so it stays Pending
// and unscheduled, which is all enrollment needs. It is deleted when the test
// ends.
func (e *Env) Pod(t testing.TB, ns, name string, labels map[string]string) *corev1.Pod {
	t.Helper()
	pod := &corev1.Pod{
		ObjectMeta: metav1.ObjectMeta{Name: name, Namespace: ns, Labels: maps.Clone(labels)},
		Spec: corev1.PodSpec{
			Containers: []corev1.Container{{Name: "app", Image: "registry.k8s.io/pause:3.10"}},
		},
	}
	created, err := e.Kube.CoreV1().Pods(ns).Create(ctx(t), pod, metav1.CreateOptions{})
	if err != nil {
		t.Fatalf("creating pod %s/%s: %v", ns, name, err)
	}
	t.Cleanup(func() {
		zero := int64(0)
		e.cleanup(t, "pod", ns, name, func(c context.Context) error {
			return e.Kube.CoreV1().Pods(ns).Delete(c, name, metav1.DeleteOptions{GracePeriodSeconds: &zero})
		})
	})
	return created
}

// ServiceEntry creates an Istio ServiceEntry (networking.istio.io/v1) for the
// host <name>.example.com, port 80, through the dynamic client. It is deleted
// when the test ends.
func (e *Env) ServiceEntry(t testing.TB, ns, name string, labels map[string]string) *unstructured.Unstructured {
	t.Helper()
	se := &unstructured.Unstructured{Object: map[string]any{
		"apiVersion": "networking.istio.io/v1",
		"kind":       "ServiceEntry",
		"metadata":   map[string]any{"name": name, "namespace": ns},
		"spec": map[string]any{
			"hosts":      []any{name + ".example.com"},
			"location":   "MESH_EXTERNAL",
			"resolution": "DNS",
			"ports":      []any{map[string]any{"number": int64(80), "name": "http", "protocol": "HTTP"}},
		},
	}}
	if len(labels) > 0 {
		se.SetLabels(maps.Clone(labels))
	}
	client := e.Dynamic.Resource(ServiceEntryResource).Namespace(ns)
	created, err := client.Create(ctx(t), se, metav1.CreateOptions{})
	if err != nil {
		t.Fatalf("creating serviceentry %s/%s: %v", ns, name, err)
	}
	t.Cleanup(func() {
		e.cleanup(t, "serviceentry", ns, name, func(c context.Context) error {
			return client.Delete(c, name, metav1.DeleteOptions{})
		})
	})
	return created
}

// WorkloadEntry creates an Istio WorkloadEntry (networking.istio.io/v1), a
// workload outside Kubernetes such as a VM, at address, through the dynamic
// client. It is deleted when the test ends.
func (e *Env) WorkloadEntry(t testing.TB, ns, name, address string, labels map[string]string) *unstructured.Unstructured {
	t.Helper()
	we := &unstructured.Unstructured{Object: map[string]any{
		"apiVersion": "networking.istio.io/v1",
		"kind":       "WorkloadEntry",
		"metadata":   map[string]any{"name": name, "namespace": ns},
		"spec":       map[string]any{"address": address},
	}}
	if len(labels) > 0 {
		we.SetLabels(maps.Clone(labels))
	}
	client := e.Dynamic.Resource(WorkloadEntryResource).Namespace(ns)
	created, err := client.Create(ctx(t), we, metav1.CreateOptions{})
	if err != nil {
		t.Fatalf("creating workloadentry %s/%s: %v", ns, name, err)
	}
	t.Cleanup(func() {
		e.cleanup(t, "workloadentry", ns, name, func(c context.Context) error {
			return client.Delete(c, name, metav1.DeleteOptions{})
		})
	})
	return created
}

// WaypointGateway returns, without creating it, a waypoint Gateway as
// `istioctl waypoint generate` shapes it: class istio-waypoint and the single
// listener {mesh, 15008, HBONE}.
func WaypointGateway(ns, name string, labels map[string]string) *gwv1.Gateway {
	return &gwv1.Gateway{
		TypeMeta:   metav1.TypeMeta{APIVersion: gwv1.GroupVersion.String(), Kind: "Gateway"},
		ObjectMeta: metav1.ObjectMeta{Name: name, Namespace: ns, Labels: maps.Clone(labels)},
		Spec: gwv1.GatewaySpec{
			GatewayClassName: WaypointClass,
			Listeners: []gwv1.Listener{{
				Name:     WaypointListener,
				Port:     WaypointPort,
				Protocol: WaypointProtocol,
			}},
		},
	}
}

// Waypoint creates the waypoint Gateway of WaypointGateway, as `kubectl
// waypoint apply` would. istiod deploys it and, unless the test holds it
// (HoldWaypoint), programs it: see WaitProgrammed. It is deleted when the
// test ends.
func (e *Env) Waypoint(t testing.TB, ns, name string, labels map[string]string) *gwv1.Gateway {
	t.Helper()
	return e.CreateGateway(t, WaypointGateway(ns, name, labels))
}

// CreateGateway creates any Gateway and deletes it when the test ends.
func (e *Env) CreateGateway(t testing.TB, gw *gwv1.Gateway) *gwv1.Gateway {
	t.Helper()
	ns, name := gw.Namespace, gw.Name
	created, err := e.Gateway.GatewayV1().Gateways(ns).Create(ctx(t), gw, metav1.CreateOptions{})
	if err != nil {
		t.Fatalf("creating gateway %s/%s: %v", ns, name, err)
	}
	t.Cleanup(func() {
		e.cleanup(t, "gateway", ns, name, func(c context.Context) error {
			return e.Gateway.GatewayV1().Gateways(ns).Delete(c, name, metav1.DeleteOptions{})
		})
	})
	return created
}

// GatewayClass creates a cluster-wide GatewayClass handled by istiod's mesh
// controller, such as one with an istio.io/waypoint-for label, and deletes it
// when the test ends. When the class exists already (istiod creates
// istio-waypoint, istio and istio-remote), it adds the labels to it instead
// and puts the old ones back when the test ends. GatewayClasses are shared by
// every test of the control plane: tests that change the same one must not
// run in parallel.
func (e *Env) GatewayClass(t testing.TB, name string, labels map[string]string) *gwv1.GatewayClass {
	t.Helper()
	classes := e.Gateway.GatewayV1().GatewayClasses()
	gc := &gwv1.GatewayClass{
		ObjectMeta: metav1.ObjectMeta{Name: name, Labels: maps.Clone(labels)},
		Spec:       gwv1.GatewayClassSpec{ControllerName: MeshControllerName},
	}
	created, err := classes.Create(ctx(t), gc, metav1.CreateOptions{})
	if err == nil {
		t.Cleanup(func() {
			e.cleanup(t, "gatewayclass", "", name, func(c context.Context) error {
				return classes.Delete(c, name, metav1.DeleteOptions{})
			})
		})
		return created
	}
	if !apierrors.IsAlreadyExists(err) {
		t.Fatalf("creating gatewayclass %s: %v", name, err)
	}
	var updated *gwv1.GatewayClass
	var old map[string]string
	err = retry.RetryOnConflict(retry.DefaultRetry, func() error {
		gc, err := classes.Get(ctx(t), name, metav1.GetOptions{})
		if err != nil {
			return err
		}
		old = maps.Clone(gc.Labels)
		if gc.Labels == nil {
			gc.Labels = map[string]string{}
		}
		maps.Copy(gc.Labels, labels)
		updated, err = classes.Update(ctx(t), gc, metav1.UpdateOptions{})
		return err
	})
	if err != nil {
		t.Fatalf("labelling gatewayclass %s: %v", name, err)
	}
	t.Cleanup(func() {
		e.cleanup(t, "gatewayclass labels of", "", name, func(c context.Context) error {
			return retry.RetryOnConflict(retry.DefaultRetry, func() error {
				gc, err := classes.Get(c, name, metav1.GetOptions{})
				if err != nil {
					return err
				}
				gc.Labels = old
				_, err = classes.Update(c, gc, metav1.UpdateOptions{})
				return err
			})
		})
	})
	return updated
}

// cleanup runs a delete at the end of a test; what is already gone is fine.
func (e *Env) cleanup(t testing.TB, kind, ns, name string, del func(context.Context) error) {
	c, cancel := context.WithTimeout(context.Background(), cleanupTimeout)
	defer cancel()
	if err := del(c); err != nil && !apierrors.IsNotFound(err) {
		if ns != "" {
			name = ns + "/" + name
		}
		t.Errorf("deleting %s %s: %v", kind, name, err)
	}
}

// ctx is the context of a test's requests: the test's own, which ends with it.
func ctx(t testing.TB) context.Context {
	return t.Context()
}

// SetPodIP gives a pod the status of a running, ready pod with address ip,
// as a kubelet would: istiod makes a workload only of a pod with an IP.
func (e *Env) SetPodIP(t testing.TB, ns, name, ip string) *corev1.Pod {
	t.Helper()
	pods := e.Kube.CoreV1().Pods(ns)
	pod, err := pods.Get(ctx(t), name, metav1.GetOptions{})
	if err != nil {
		t.Fatalf("reading pod %s/%s: %v", ns, name, err)
	}
	pod.Status.Phase = corev1.PodRunning
	pod.Status.PodIP = ip
	pod.Status.PodIPs = []corev1.PodIP{{IP: ip}}
	pod.Status.Conditions = []corev1.PodCondition{{Type: corev1.PodReady, Status: corev1.ConditionTrue}}
	updated, err := pods.UpdateStatus(ctx(t), pod, metav1.UpdateOptions{})
	if err != nil {
		t.Fatalf("setting the IP of pod %s/%s: %v", ns, name, err)
	}
	return updated
}
