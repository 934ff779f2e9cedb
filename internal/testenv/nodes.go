package testenv

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"maps"
	"net/netip"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	discoveryv1 "k8s.io/api/discovery/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/labels"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/client-go/informers"
	appslisters "k8s.io/client-go/listers/apps/v1"
	corelisters "k8s.io/client-go/listers/core/v1"
	"k8s.io/client-go/tools/cache"
	"k8s.io/client-go/util/workqueue"
	gatewayinformers "sigs.k8s.io/gateway-api/pkg/client/informers/externalversions"
)

// Labels istiod puts on what it deploys for a waypoint.
const (
	managedLabel       = "gateway.istio.io/managed"
	meshControllerName = "istio.io-mesh-controller" // managedLabel's value for waypoints
	gatewayNameLabel   = "gateway.networking.k8s.io/gateway-name"
	standInSuffix      = "-standin"
	standInNode        = "testenv-node"
	standInManager     = "testenv.kubectl-waypoint.io"
)

// nodes stands in for the kubelets, the scheduler, the deployment and
// endpoint controllers and the garbage collector of a cluster, for waypoints
// only: for every Deployment istiod creates for a waypoint, it runs as many
// pods as the Deployment asks (spec.replicas, 1 when unset; created Running
// and Ready, as a kubelet would report them), writes an EndpointSlice of the
// waypoint's Service pointing at them, and writes the Deployment's status as
// the deployment controller would (replicas, updated, ready and available
// replicas, observedGeneration). Seeing the ready endpoints, istiod sets the
// Gateway Programmed with the Service's address, as in a cluster. A held
// waypoint's pods stay Pending, without endpoints. When the Gateway is
// deleted, it deletes what istiod made for it. No autoscaler runs: the
// replicas are the Deployment's, whatever a HorizontalPodAutoscaler says.
type nodes struct {
	e      *Env
	queue  workqueue.TypedRateLimitingInterface[types.NamespacedName] // Gateway keys
	deps   appslisters.DeploymentLister
	svcs   corelisters.ServiceLister
	cancel context.CancelFunc
	done   chan struct{}

	mu     sync.Mutex
	held   map[types.NamespacedName]int // hold counts by Gateway
	nextIP netip.Addr
}

// startNodes starts the node stand-in; stopNodes ends it.
func (e *Env) startNodes() error {
	c, cancel := context.WithCancel(context.Background())
	factory := informers.NewSharedInformerFactoryWithOptions(e.Kube, 0,
		informers.WithTweakListOptions(func(o *metav1.ListOptions) {
			o.LabelSelector = managedLabel + "=" + meshControllerName
		}))
	n := &nodes{
		e:      e,
		queue:  workqueue.NewTypedRateLimitingQueue(workqueue.DefaultTypedControllerRateLimiter[types.NamespacedName]()),
		deps:   factory.Apps().V1().Deployments().Lister(),
		svcs:   factory.Core().V1().Services().Lister(),
		cancel: cancel,
		done:   make(chan struct{}),
		held:   map[types.NamespacedName]int{},
		nextIP: netip.MustParseAddr("10.244.0.1"),
	}
	handler := cache.ResourceEventHandlerFuncs{
		AddFunc:    n.enqueue,
		UpdateFunc: func(_, obj any) { n.enqueue(obj) },
		DeleteFunc: n.enqueue,
	}
	if _, err := factory.Apps().V1().Deployments().Informer().AddEventHandler(handler); err != nil {
		cancel()
		return err
	}
	if _, err := factory.Core().V1().Services().Informer().AddEventHandler(handler); err != nil {
		cancel()
		return err
	}
	// A deleted Gateway leaves istiod's Deployment behind (no garbage
	// collector runs): its deletion is queued too.
	gwFactory := gatewayinformers.NewSharedInformerFactory(e.Gateway, 0)
	if _, err := gwFactory.Gateway().V1().Gateways().Informer().AddEventHandler(cache.ResourceEventHandlerFuncs{
		DeleteFunc: func(obj any) {
			if d, ok := obj.(cache.DeletedFinalStateUnknown); ok {
				obj = d.Obj
			}
			if m, err := metaOf(obj); err == nil {
				n.queue.Add(types.NamespacedName{Namespace: m.GetNamespace(), Name: m.GetName()})
			}
		},
	}); err != nil {
		cancel()
		return err
	}
	factory.Start(c.Done())
	gwFactory.Start(c.Done())
	for typ, ok := range factory.WaitForCacheSync(c.Done()) {
		if !ok {
			cancel()
			return fmt.Errorf("node stand-in: the %v cache did not sync", typ)
		}
	}
	for typ, ok := range gwFactory.WaitForCacheSync(c.Done()) {
		if !ok {
			cancel()
			return fmt.Errorf("node stand-in: the %v cache did not sync", typ)
		}
	}
	go func() {
		defer close(n.done)
		var wg sync.WaitGroup
		for range 4 {
			wg.Go(func() {
				for n.process(c) {
				}
			})
		}
		<-c.Done()
		n.queue.ShutDown()
		wg.Wait()
		factory.Shutdown()
		gwFactory.Shutdown()
	}()
	e.nodes = n
	return nil
}

func (e *Env) stopNodes() {
	if e.nodes == nil {
		return
	}
	e.nodes.cancel()
	<-e.nodes.done
}

// enqueue queues the Gateway of a Deployment or Service istiod made.
func (n *nodes) enqueue(obj any) {
	if d, ok := obj.(cache.DeletedFinalStateUnknown); ok {
		obj = d.Obj
	}
	m, err := metaOf(obj)
	if err != nil {
		return
	}
	gw := m.GetLabels()[gatewayNameLabel]
	if gw == "" {
		return
	}
	n.queue.Add(types.NamespacedName{Namespace: m.GetNamespace(), Name: gw})
}

func metaOf(obj any) (metav1.Object, error) {
	if m, ok := obj.(metav1.Object); ok {
		return m, nil
	}
	return nil, fmt.Errorf("%T has no object metadata", obj)
}

func (n *nodes) process(c context.Context) bool {
	key, quit := n.queue.Get()
	if quit {
		return false
	}
	defer n.queue.Done(key)
	if err := n.reconcile(c, key); err != nil && c.Err() == nil {
		n.queue.AddRateLimited(key)
		return true
	}
	n.queue.Forget(key)
	return true
}

// ready reports whether the waypoint's pod should be ready (it is not held).
func (n *nodes) ready(key types.NamespacedName) bool {
	n.mu.Lock()
	defer n.mu.Unlock()
	return n.held[key] == 0
}

func (n *nodes) allocateIP() string {
	n.mu.Lock()
	defer n.mu.Unlock()
	ip := n.nextIP
	n.nextIP = ip.Next()
	if b := n.nextIP.As4(); b[3] == 0 || b[3] == 255 {
		n.nextIP = netip.AddrFrom4([4]byte{b[0], b[1], b[2] + 1, 1})
	}
	return ip.String()
}

// reconcile brings the stand-in pod and EndpointSlice of the waypoint key in
// line with istiod's Deployment and Service and with the hold.
func (n *nodes) reconcile(c context.Context, key types.NamespacedName) error {
	selector := labels.SelectorFromSet(labels.Set{gatewayNameLabel: key.Name})
	deps, err := n.deps.Deployments(key.Namespace).List(selector)
	if err != nil {
		return err
	}
	svcs, err := n.svcs.Services(key.Namespace).List(selector)
	if err != nil {
		return err
	}
	pods := n.e.Kube.CoreV1().Pods(key.Namespace)
	running, err := n.standInPods(c, key)
	if err != nil {
		return err
	}
	endpointSlices := n.e.Kube.DiscoveryV1().EndpointSlices(key.Namespace)
	if len(deps) > 0 {
		// No garbage collector runs: remove what istiod made for a Gateway
		// that is gone, as the collector would through the owner references.
		if _, err := n.e.Gateway.GatewayV1().Gateways(key.Namespace).Get(c, key.Name, metav1.GetOptions{}); apierrors.IsNotFound(err) {
			return n.collect(c, key, deps, svcs)
		} else if err != nil {
			return err
		}
	}
	if len(deps) == 0 {
		// The waypoint is gone: so are its pods and endpoints.
		var errs []error
		for _, pod := range running {
			if pod == nil {
				continue
			}
			if err := pods.Delete(c, pod.Name, metav1.DeleteOptions{GracePeriodSeconds: new(int64)}); err != nil && !apierrors.IsNotFound(err) {
				errs = append(errs, err)
			}
		}
		for _, svc := range svcs {
			if err := endpointSlices.Delete(c, svc.Name+standInSuffix, metav1.DeleteOptions{}); err != nil && !apierrors.IsNotFound(err) {
				errs = append(errs, err)
			}
		}
		return errors.Join(errs...)
	}
	dep := deps[0]
	if dep.DeletionTimestamp != nil {
		return nil
	}
	ready := n.ready(key)
	want := 1
	if dep.Spec.Replicas != nil {
		want = int(*dep.Spec.Replicas)
	}
	// Scaled down: the pods of the highest indices go, as a ReplicaSet
	// takes the newest first.
	for i, pod := range running {
		if i >= want && pod != nil {
			if err := pods.Delete(c, pod.Name, metav1.DeleteOptions{GracePeriodSeconds: new(int64), Preconditions: &metav1.Preconditions{UID: &pod.UID}}); err != nil && !apierrors.IsNotFound(err) {
				return err
			}
		}
	}
	var replicas []*corev1.Pod
	for i := range want {
		pod, err := n.ensurePod(c, dep, standInPodName(key.Name, i), ready)
		if err != nil {
			return err
		}
		replicas = append(replicas, pod)
	}
	for _, svc := range svcs {
		if err := n.ensureSlice(c, svc, replicas, ready); err != nil {
			return err
		}
	}
	return n.writeDeploymentStatus(c, dep, replicas)
}

// standInPodName is the name of the stand-in's pod of index i for the
// waypoint name: <name>-standin, then <name>-standin-1, -2, ...
func standInPodName(name string, i int) string {
	if i == 0 {
		return name + standInSuffix
	}
	return fmt.Sprintf("%s%s-%d", name, standInSuffix, i)
}

// standInPods are the pods the stand-in runs for the waypoint key, by
// index (nil where none runs); pods of anyone else are left out, even
// with the waypoint's labels.
func (n *nodes) standInPods(c context.Context, key types.NamespacedName) ([]*corev1.Pod, error) {
	list, err := n.e.Kube.CoreV1().Pods(key.Namespace).List(c, metav1.ListOptions{LabelSelector: gatewayNameLabel + "=" + key.Name})
	if err != nil {
		return nil, err
	}
	var out []*corev1.Pod
	for i := range list.Items {
		pod := &list.Items[i]
		index := -1
		if pod.Name == key.Name+standInSuffix {
			index = 0
		} else if rest, ok := strings.CutPrefix(pod.Name, key.Name+standInSuffix+"-"); ok {
			if k, err := strconv.Atoi(rest); err == nil && k > 0 && standInPodName(key.Name, k) == pod.Name {
				index = k
			}
		}
		if index < 0 {
			continue
		}
		for len(out) <= index {
			out = append(out, nil)
		}
		out[index] = pod
	}
	return out, nil
}

// writeDeploymentStatus writes the counts of the Deployment's status as the
// deployment controller would from its pods, when they changed: every pod
// is of the current template (updated), and a ready pod is available
// (minReadySeconds is not waited for).
func (n *nodes) writeDeploymentStatus(c context.Context, dep *appsv1.Deployment, pods []*corev1.Pod) error {
	desired := int32(len(pods))
	var ready int32
	for _, pod := range pods {
		if podCondition(pod, corev1.PodReady) == corev1.ConditionTrue {
			ready++
		}
	}
	st := dep.Status
	if st.ObservedGeneration == dep.Generation && st.Replicas == desired && st.UpdatedReplicas == desired &&
		st.ReadyReplicas == ready && st.AvailableReplicas == ready && st.UnavailableReplicas == desired-ready {
		return nil
	}
	patch, err := json.Marshal(map[string]any{"status": map[string]any{
		"observedGeneration":  dep.Generation,
		"replicas":            desired,
		"updatedReplicas":     desired,
		"readyReplicas":       ready,
		"availableReplicas":   ready,
		"unavailableReplicas": desired - ready,
	}})
	if err != nil {
		return err
	}
	_, err = n.e.Kube.AppsV1().Deployments(dep.Namespace).Patch(c, dep.Name, types.MergePatchType, patch, metav1.PatchOptions{FieldManager: standInManager}, "status")
	if apierrors.IsNotFound(err) {
		return nil
	}
	return err
}

// collect deletes the Deployment, Service and ServiceAccount istiod made for
// the Gateway key, which is gone; their deletion brings reconcile back to
// remove the pod and the EndpointSlice.
func (n *nodes) collect(c context.Context, key types.NamespacedName, deps []*appsv1.Deployment, svcs []*corev1.Service) error {
	var errs []error
	ownedByGateway := func(m metav1.Object) bool {
		for _, ref := range m.GetOwnerReferences() {
			if ref.Kind == "Gateway" && ref.Name == key.Name {
				return true
			}
		}
		return false
	}
	ignore := func(err error) {
		if err != nil && !apierrors.IsNotFound(err) {
			errs = append(errs, err)
		}
	}
	for _, dep := range deps {
		if !ownedByGateway(dep) {
			continue
		}
		ignore(n.e.Kube.AppsV1().Deployments(key.Namespace).Delete(c, dep.Name, metav1.DeleteOptions{}))
		if sa := dep.Spec.Template.Spec.ServiceAccountName; sa != "" {
			if obj, err := n.e.Kube.CoreV1().ServiceAccounts(key.Namespace).Get(c, sa, metav1.GetOptions{}); err == nil && ownedByGateway(obj) {
				ignore(n.e.Kube.CoreV1().ServiceAccounts(key.Namespace).Delete(c, sa, metav1.DeleteOptions{}))
			}
		}
	}
	for _, svc := range svcs {
		if ownedByGateway(svc) {
			ignore(n.e.Kube.CoreV1().Services(key.Namespace).Delete(c, svc.Name, metav1.DeleteOptions{}))
		}
	}
	return errors.Join(errs...)
}

// ensurePod creates the waypoint's pod called name from the Deployment's
// template and sets its status as a kubelet would. Ready: Running, with an
// IP, Ready.
// Held: Pending and unschedulable, with no IP, as when no node can take it; a
// pod that ran is replaced by a pending one, as when its node is lost.
func (n *nodes) ensurePod(c context.Context, dep *appsv1.Deployment, name string, ready bool) (*corev1.Pod, error) {
	pods := n.e.Kube.CoreV1().Pods(dep.Namespace)
	pod, err := pods.Get(c, name, metav1.GetOptions{})
	if err == nil && !ready && pod.Status.PodIP != "" {
		if err := pods.Delete(c, name, metav1.DeleteOptions{GracePeriodSeconds: new(int64), Preconditions: &metav1.Preconditions{UID: &pod.UID}}); err != nil && !apierrors.IsNotFound(err) {
			return nil, err
		}
		err = apierrors.NewNotFound(corev1.Resource("pods"), name)
	}
	if apierrors.IsNotFound(err) {
		tmpl := dep.Spec.Template
		pod = &corev1.Pod{
			ObjectMeta: metav1.ObjectMeta{
				Name:        name,
				Namespace:   dep.Namespace,
				Labels:      maps.Clone(tmpl.Labels),
				Annotations: maps.Clone(tmpl.Annotations),
				OwnerReferences: []metav1.OwnerReference{{
					APIVersion: "apps/v1", Kind: "Deployment", Name: dep.Name, UID: dep.UID,
				}},
			},
			Spec: *tmpl.Spec.DeepCopy(),
		}
		pod, err = pods.Create(c, pod, metav1.CreateOptions{FieldManager: standInManager})
	}
	if err != nil {
		return nil, err
	}
	now := metav1.NewTime(time.Now())
	if !ready {
		if podCondition(pod, corev1.PodScheduled) == corev1.ConditionFalse {
			return pod, nil
		}
		pod.Status.Phase = corev1.PodPending
		pod.Status.Conditions = []corev1.PodCondition{{
			Type: corev1.PodScheduled, Status: corev1.ConditionFalse, Reason: corev1.PodReasonUnschedulable,
			Message: "held back by the test (testenv.HoldWaypoint)", LastTransitionTime: now,
		}}
		return pods.UpdateStatus(c, pod, metav1.UpdateOptions{FieldManager: standInManager})
	}
	if pod.Status.Phase == corev1.PodRunning && pod.Status.PodIP != "" && podCondition(pod, corev1.PodReady) == corev1.ConditionTrue {
		return pod, nil
	}
	if pod.Spec.NodeName == "" {
		// Scheduled, as the scheduler does it: through the binding.
		binding := &corev1.Binding{
			ObjectMeta: metav1.ObjectMeta{Name: pod.Name, Namespace: pod.Namespace, UID: pod.UID},
			Target:     corev1.ObjectReference{Kind: "Node", Name: standInNode},
		}
		if err := pods.Bind(c, binding, metav1.CreateOptions{}); err != nil {
			return nil, err
		}
		if pod, err = pods.Get(c, name, metav1.GetOptions{}); err != nil {
			return nil, err
		}
	}
	ip := n.allocateIP()
	pod.Status.Phase = corev1.PodRunning
	pod.Status.PodIP = ip
	pod.Status.PodIPs = []corev1.PodIP{{IP: ip}}
	pod.Status.HostIP = "127.0.0.1"
	pod.Status.StartTime = &now
	pod.Status.Conditions = nil
	for _, typ := range []corev1.PodConditionType{corev1.PodScheduled, corev1.PodInitialized, corev1.ContainersReady, corev1.PodReady} {
		pod.Status.Conditions = append(pod.Status.Conditions, corev1.PodCondition{Type: typ, Status: corev1.ConditionTrue, LastTransitionTime: now})
	}
	pod.Status.ContainerStatuses = nil
	for _, ctr := range pod.Spec.Containers {
		pod.Status.ContainerStatuses = append(pod.Status.ContainerStatuses, corev1.ContainerStatus{
			Name: ctr.Name, Image: ctr.Image, Ready: true, Started: new(true),
			State: corev1.ContainerState{Running: &corev1.ContainerStateRunning{StartedAt: now}},
		})
	}
	return pods.UpdateStatus(c, pod, metav1.UpdateOptions{FieldManager: standInManager})
}

func podCondition(pod *corev1.Pod, typ corev1.PodConditionType) corev1.ConditionStatus {
	for _, c := range pod.Status.Conditions {
		if c.Type == typ {
			return c.Status
		}
	}
	return ""
}

// ensureSlice writes the EndpointSlice of svc, as the endpoint-slice
// controller would: the addresses of the running pods on every port of the
// Service, or no endpoint while they have no IP. (istiod counts any
// endpoint, ready or not, as the waypoint being deployed: a held waypoint
// must have none.)
func (n *nodes) ensureSlice(c context.Context, svc *corev1.Service, pods []*corev1.Pod, ready bool) error {
	client := n.e.Kube.DiscoveryV1().EndpointSlices(svc.Namespace)
	var ports []discoveryv1.EndpointPort
	for _, p := range svc.Spec.Ports {
		port := p.TargetPort.IntVal
		if port == 0 {
			port = p.Port
		}
		ports = append(ports, discoveryv1.EndpointPort{Name: new(p.Name), Port: new(port), Protocol: new(p.Protocol), AppProtocol: p.AppProtocol})
	}
	want := &discoveryv1.EndpointSlice{
		ObjectMeta: metav1.ObjectMeta{
			Name:      svc.Name + standInSuffix,
			Namespace: svc.Namespace,
			Labels: map[string]string{
				discoveryv1.LabelServiceName: svc.Name,
				discoveryv1.LabelManagedBy:   standInManager,
			},
			OwnerReferences: []metav1.OwnerReference{{APIVersion: "v1", Kind: "Service", Name: svc.Name, UID: svc.UID}},
		},
		AddressType: discoveryv1.AddressTypeIPv4,
		Endpoints:   []discoveryv1.Endpoint{},
		Ports:       ports,
	}
	for _, pod := range pods {
		if !ready || pod.Status.PodIP == "" {
			continue
		}
		want.Endpoints = append(want.Endpoints, discoveryv1.Endpoint{
			Addresses:  []string{pod.Status.PodIP},
			Conditions: discoveryv1.EndpointConditions{Ready: new(true), Serving: new(true), Terminating: new(false)},
			NodeName:   new(standInNode),
			TargetRef:  &corev1.ObjectReference{Kind: "Pod", Namespace: pod.Namespace, Name: pod.Name, UID: pod.UID},
		})
	}
	got, err := client.Get(c, want.Name, metav1.GetOptions{})
	if apierrors.IsNotFound(err) {
		_, err = client.Create(c, want, metav1.CreateOptions{FieldManager: standInManager})
		return err
	}
	if err != nil {
		return err
	}
	if sameEndpoints(got, want) {
		return nil
	}
	got.Endpoints, got.Ports = want.Endpoints, want.Ports
	_, err = client.Update(c, got, metav1.UpdateOptions{FieldManager: standInManager})
	return err
}

func sameEndpoints(a, b *discoveryv1.EndpointSlice) bool {
	if len(a.Endpoints) != len(b.Endpoints) || len(a.Ports) != len(b.Ports) {
		return false
	}
	for i := range a.Endpoints {
		x, y := a.Endpoints[i], b.Endpoints[i]
		if !slices.Equal(x.Addresses, y.Addresses) || *x.Conditions.Ready != *y.Conditions.Ready ||
			x.TargetRef == nil || x.TargetRef.UID != y.TargetRef.UID {
			return false
		}
	}
	for i := range a.Ports {
		if *a.Ports[i].Name != *b.Ports[i].Name || *a.Ports[i].Port != *b.Ports[i].Port {
			return false
		}
	}
	return true
}

// HoldWaypoint keeps the waypoint ns/name from becoming ready, as when no node
// can run its pods: the node stand-in leaves its pods Pending with no IP (and
// its Deployment with no ready replica) and its Service without endpoints, so istiod reports it Programmed=False, reason
// AddressNotAssigned (see WaitNotProgrammed). It may be called
// before the waypoint exists. The hold ends when release is called or the
// test ends. A waypoint that was ready and is held loses its endpoint; istiod
// keeps its addresses and may or may not turn it not Programmed (see
// TestHoldWaypoint).
func (e *Env) HoldWaypoint(t testing.TB, ns, name string) (release func()) {
	t.Helper()
	if e.nodes == nil {
		t.Fatalf("HoldWaypoint: no istiod runs in this test environment")
	}
	key := types.NamespacedName{Namespace: ns, Name: name}
	n := e.nodes
	n.mu.Lock()
	n.held[key]++
	n.mu.Unlock()
	n.queue.Add(key)
	var once sync.Once
	release = func() {
		once.Do(func() {
			n.mu.Lock()
			if n.held[key]--; n.held[key] <= 0 {
				delete(n.held, key)
			}
			n.mu.Unlock()
			n.queue.Add(key)
		})
	}
	t.Cleanup(release)
	return release
}
