package testenv_test

import (
	"bytes"
	"context"
	"fmt"
	"os"
	"os/exec"
	"strings"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	rbacv1 "k8s.io/api/rbac/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/util/wait"
	"k8s.io/client-go/kubernetes"
	gwv1 "sigs.k8s.io/gateway-api/apis/v1"
	gatewayclient "sigs.k8s.io/gateway-api/pkg/client/clientset/versioned"

	"github.com/kubectl-waypoint/kubectl-waypoint/internal/testenv"
)

var env *testenv.Env

func TestMain(m *testing.M) { os.Exit(testenv.RunMain(m, &env)) }

func TestWaypointGatewayShape(t *testing.T) {
	t.Parallel()
	ns := env.Namespace(t, testenv.AmbientLabels())

	env.Waypoint(t, ns, "waypoint", map[string]string{"istio.io/waypoint-for": "service"})

	got, err := env.Gateway.GatewayV1().Gateways(ns).Get(t.Context(), "waypoint", metav1.GetOptions{})
	if err != nil {
		t.Fatalf("get gateway: %v", err)
	}
	if got.Spec.GatewayClassName != "istio-waypoint" {
		t.Errorf("gatewayClassName = %q, want istio-waypoint", got.Spec.GatewayClassName)
	}
	want := gwv1.Listener{Name: "mesh", Port: 15008, Protocol: "HBONE"}
	if len(got.Spec.Listeners) != 1 {
		t.Fatalf("listeners = %+v, want one", got.Spec.Listeners)
	}
	l := got.Spec.Listeners[0]
	if l.Name != want.Name || l.Port != want.Port || l.Protocol != want.Protocol {
		t.Errorf("listener = %s/%d/%s, want mesh/15008/HBONE", l.Name, l.Port, l.Protocol)
	}
}

func TestGatewayCRDValidates(t *testing.T) {
	t.Parallel()
	ns := env.Namespace(t, nil)

	gw := testenv.WaypointGateway(ns, "no-listeners", nil)
	gw.Spec.Listeners = nil
	_, err := env.Gateway.GatewayV1().Gateways(ns).Create(t.Context(), gw, metav1.CreateOptions{})
	if !apierrors.IsInvalid(err) {
		t.Fatalf("creating a gateway without listeners: err = %v, want Invalid", err)
	}
}

func TestEnrollableObjects(t *testing.T) {
	t.Parallel()
	ns := env.Namespace(t, testenv.AmbientLabels())
	enrolled := map[string]string{"istio.io/use-waypoint": "waypoint"}

	svc := env.Service(t, ns, "reviews", enrolled)
	pod := env.Pod(t, ns, "reviews-v1", map[string]string{"app": "reviews"})
	se := env.ServiceEntry(t, ns, "httpbin-ext", enrolled)

	if svc.Spec.ClusterIP == "" {
		t.Errorf("service %s has no cluster IP", svc.Name)
	}
	if pod.Status.Phase != "Pending" {
		t.Errorf("pod phase = %q, want Pending (no kubelet)", pod.Status.Phase)
	}
	got, err := env.Dynamic.Resource(testenv.ServiceEntryResource).Namespace(ns).Get(t.Context(), se.GetName(), metav1.GetOptions{})
	if err != nil {
		t.Fatalf("get serviceentry: %v", err)
	}
	if got.GetLabels()["istio.io/use-waypoint"] != "waypoint" {
		t.Errorf("serviceentry labels = %v", got.GetLabels())
	}
}

func TestSetProgrammed(t *testing.T) {
	t.Parallel()
	ns := env.Namespace(t, nil)
	// A revision no istiod runs for: the real istiod leaves its status alone,
	// so what SetProgrammed writes stays.
	gw := env.Waypoint(t, ns, "waypoint", map[string]string{"istio.io/rev": "canary"})

	env.SetProgrammed(t, ns, "waypoint", "10.96.0.10")

	got, err := env.Gateway.GatewayV1().Gateways(ns).Get(t.Context(), "waypoint", metav1.GetOptions{})
	if err != nil {
		t.Fatalf("get gateway: %v", err)
	}
	c := meta.FindStatusCondition(got.Status.Conditions, "Programmed")
	if c == nil || c.Status != metav1.ConditionTrue || c.Reason != "Programmed" {
		t.Fatalf("Programmed condition = %+v, want True/Programmed", c)
	}
	if c.ObservedGeneration != gw.Generation {
		t.Errorf("observedGeneration = %d, want %d", c.ObservedGeneration, gw.Generation)
	}
	if time.Since(c.LastTransitionTime.Time) > time.Minute {
		t.Errorf("lastTransitionTime = %v, want now", c.LastTransitionTime)
	}
	if len(got.Status.Addresses) != 1 || got.Status.Addresses[0].Value != "10.96.0.10" ||
		got.Status.Addresses[0].Type == nil || *got.Status.Addresses[0].Type != gwv1.IPAddressType {
		t.Errorf("addresses = %+v, want one IPAddress 10.96.0.10", got.Status.Addresses)
	}

	env.SetNotProgrammed(t, ns, "waypoint", "AddressNotAssigned", "no address yet")
	got, err = env.Gateway.GatewayV1().Gateways(ns).Get(t.Context(), "waypoint", metav1.GetOptions{})
	if err != nil {
		t.Fatalf("get gateway: %v", err)
	}
	c = meta.FindStatusCondition(got.Status.Conditions, "Programmed")
	if c == nil || c.Status != metav1.ConditionFalse || c.Reason != "AddressNotAssigned" || c.Message != "no address yet" {
		t.Errorf("Programmed condition = %+v, want False/AddressNotAssigned", c)
	}
	if len(got.Status.Addresses) != 0 {
		t.Errorf("addresses = %+v, want none", got.Status.Addresses)
	}

	// Nothing overwrites it: istiod does not own revision canary.
	time.Sleep(2 * time.Second)
	got, err = env.Gateway.GatewayV1().Gateways(ns).Get(t.Context(), "waypoint", metav1.GetOptions{})
	if err != nil {
		t.Fatalf("get gateway: %v", err)
	}
	if c := meta.FindStatusCondition(got.Status.Conditions, "Programmed"); c == nil || c.Reason != "AddressNotAssigned" || c.Message != "no address yet" {
		t.Errorf("Programmed condition after 2s = %+v, want ours unchanged", c)
	}
}

// TestIstiodProgramsWaypoint: istiod deploys the waypoint (Deployment and
// Service), the node stand-in runs its pod, and istiod sets it Programmed
// with the Service's addresses. It leaves Gateways of other classes alone as
// far as the stand-in goes: nothing runs their pods.
func TestIstiodProgramsWaypoint(t *testing.T) {
	t.Parallel()
	ns := env.Namespace(t, testenv.AmbientLabels())
	env.Waypoint(t, ns, "waypoint", map[string]string{"istio.io/waypoint-for": "service"})
	other := testenv.WaypointGateway(ns, "ingress", nil)
	other.Spec.GatewayClassName = "istio"
	other.Spec.Listeners[0] = gwv1.Listener{Name: "http", Port: 80, Protocol: gwv1.HTTPProtocolType}
	env.CreateGateway(t, other)

	gw := env.WaitProgrammed(t, ns, "waypoint")

	svc, err := env.Kube.CoreV1().Services(ns).Get(t.Context(), "waypoint", metav1.GetOptions{})
	if err != nil {
		t.Fatalf("istiod made no Service for the waypoint: %v", err)
	}
	dep, err := env.Kube.AppsV1().Deployments(ns).Get(t.Context(), "waypoint", metav1.GetOptions{})
	if err != nil {
		t.Fatalf("istiod made no Deployment for the waypoint: %v", err)
	}
	if got := dep.Spec.Template.Labels["gateway.networking.k8s.io/gateway-name"]; got != "waypoint" {
		t.Errorf("deployment template labels = %v", dep.Spec.Template.Labels)
	}
	var addrs []string
	for _, a := range gw.Status.Addresses {
		addrs = append(addrs, a.Value)
	}
	if want := []string{svc.Spec.ClusterIP, "waypoint." + ns + ".svc.cluster.local"}; strings.Join(addrs, " ") != strings.Join(want, " ") {
		t.Errorf("addresses = %v, want the Service's cluster IP and name %v", addrs, want)
	}
	if c := meta.FindStatusCondition(gw.Status.Conditions, "Accepted"); c == nil || c.Status != metav1.ConditionTrue {
		t.Errorf("Accepted = %+v, want True", c)
	}
	if c := meta.FindStatusCondition(gw.Status.Conditions, "Programmed"); !strings.Contains(c.Message, "waypoint."+ns+".svc.cluster.local:15008") {
		t.Errorf("Programmed message = %q, want the Service's name and port", c.Message)
	}

	ingress, err := env.Gateway.GatewayV1().Gateways(ns).Get(t.Context(), "ingress", metav1.GetOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if meta.IsStatusConditionTrue(ingress.Status.Conditions, "Programmed") {
		t.Errorf("gateway of class istio was programmed; the node stand-in runs waypoints only")
	}
}

// TestDeletedWaypointIsCollected: with no garbage collector, the node
// stand-in removes what istiod made for a deleted waypoint, and the pod.
func TestDeletedWaypointIsCollected(t *testing.T) {
	t.Parallel()
	ns := env.Namespace(t, testenv.AmbientLabels())
	env.Waypoint(t, ns, "waypoint", nil)
	env.WaitProgrammed(t, ns, "waypoint")
	if err := env.Gateway.GatewayV1().Gateways(ns).Delete(t.Context(), "waypoint", metav1.DeleteOptions{}); err != nil {
		t.Fatal(err)
	}
	err := wait.PollUntilContextTimeout(t.Context(), 100*time.Millisecond, 30*time.Second, true, func(c context.Context) (bool, error) {
		deps, err := env.Kube.AppsV1().Deployments(ns).List(c, metav1.ListOptions{})
		if err != nil {
			return false, err
		}
		svcs, err := env.Kube.CoreV1().Services(ns).List(c, metav1.ListOptions{})
		if err != nil {
			return false, err
		}
		pods, err := env.Kube.CoreV1().Pods(ns).List(c, metav1.ListOptions{})
		if err != nil {
			return false, err
		}
		return len(deps.Items)+len(svcs.Items)+len(pods.Items) == 0, nil
	})
	if err != nil {
		t.Errorf("what istiod made for the deleted waypoint is still there: %v", err)
	}
}

// TestHoldWaypoint: a held waypoint is not programmed; released, it is. Held
// again after that, the stand-in takes its endpoint away and istiod keeps the
// addresses it reported. Whether it also turns Programmed to False depends on
// timing (seen with istiod 1.31-dev: right after programming it does, seconds
// later often not at all), so only the addresses are pinned.
func TestHoldWaypoint(t *testing.T) {
	t.Parallel()
	ns := env.Namespace(t, testenv.AmbientLabels())
	release := env.HoldWaypoint(t, ns, "waypoint")
	env.Waypoint(t, ns, "waypoint", nil)

	gw := env.WaitNotProgrammed(t, ns, "waypoint")
	c := meta.FindStatusCondition(gw.Status.Conditions, "Programmed")
	if c.Reason != "AddressNotAssigned" || !strings.Contains(c.Message, "no instances found") {
		t.Errorf("Programmed = %+v, want False/AddressNotAssigned, no instances found", c)
	}
	if len(gw.Status.Addresses) != 0 {
		t.Errorf("addresses of a held waypoint = %+v, want none", gw.Status.Addresses)
	}
	// Still held a while later.
	time.Sleep(time.Second)
	if gw, err := env.Gateway.GatewayV1().Gateways(ns).Get(t.Context(), "waypoint", metav1.GetOptions{}); err != nil {
		t.Fatal(err)
	} else if meta.IsStatusConditionTrue(gw.Status.Conditions, "Programmed") || len(gw.Status.Addresses) != 0 {
		t.Errorf("held for a second, status = %+v, want not programmed, no address", gw.Status)
	}

	release()
	programmed := env.WaitProgrammed(t, ns, "waypoint")

	env.HoldWaypoint(t, ns, "waypoint")
	// The stand-in takes the endpoint away and leaves the pod Pending ...
	err := wait.PollUntilContextTimeout(t.Context(), 100*time.Millisecond, testenv.WaitTimeout, true, func(c context.Context) (bool, error) {
		slices, err := env.Kube.DiscoveryV1().EndpointSlices(ns).List(c, metav1.ListOptions{LabelSelector: "kubernetes.io/service-name=waypoint"})
		if err != nil || len(slices.Items) != 1 || len(slices.Items[0].Endpoints) != 0 {
			return false, err
		}
		pods, err := env.Kube.CoreV1().Pods(ns).List(c, metav1.ListOptions{})
		if err != nil || len(pods.Items) != 1 {
			return false, err
		}
		return pods.Items[0].Status.Phase == corev1.PodPending && pods.Items[0].Status.PodIP == "", nil
	})
	if err != nil {
		t.Fatalf("held again: the stand-in did not take the waypoint's endpoint away: %v", err)
	}
	// ... and istiod keeps the addresses it reported: bound, whatever it
	// says of Programmed.
	time.Sleep(3 * time.Second)
	gw, err = env.Gateway.GatewayV1().Gateways(ns).Get(t.Context(), "waypoint", metav1.GetOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if len(gw.Status.Addresses) != len(programmed.Status.Addresses) || gw.Status.Addresses[0].Value != programmed.Status.Addresses[0].Value {
		t.Errorf("held after it was programmed, addresses = %+v, want those istiod reported before, %+v", gw.Status.Addresses, programmed.Status.Addresses)
	}
}

// TestIstiodWritesWaypointBound: istiod binds an enrolled Service,
// ServiceEntry and WorkloadEntry to the waypoint and says so in istio.io/WaypointBound; the
// differential tests of explain rely on it.
func TestIstiodWritesWaypointBound(t *testing.T) {
	t.Parallel()
	ns := env.Namespace(t, testenv.AmbientLabels())
	env.Waypoint(t, ns, "waypoint", map[string]string{"istio.io/waypoint-for": "service"})
	enrolled := map[string]string{"istio.io/use-waypoint": "waypoint"}
	env.Service(t, ns, "reviews", enrolled)
	env.Service(t, ns, "missing", map[string]string{"istio.io/use-waypoint": "nowhere"})
	env.ServiceEntry(t, ns, "httpbin-ext", enrolled)
	env.Waypoint(t, ns, "for-all", map[string]string{"istio.io/waypoint-for": "all"})
	env.WorkloadEntry(t, ns, "vm", "10.0.0.5", map[string]string{"istio.io/use-waypoint": "for-all"})
	env.WorkloadEntry(t, ns, "vm-service-waypoint", "10.0.0.6", enrolled)
	env.WaitProgrammed(t, ns, "waypoint")
	env.WaitProgrammed(t, ns, "for-all")

	bound := func(c metav1.Condition) bool { return c.Status == metav1.ConditionTrue }
	c := env.WaitForCondition(t, testenv.ServiceResource, ns, "reviews", "istio.io/WaypointBound", bound)
	if c.Reason != "WaypointAccepted" || !strings.Contains(c.Message, ns+"/waypoint") {
		t.Errorf("service reviews: %+v, want True/WaypointAccepted naming %s/waypoint", c, ns)
	}
	c = env.WaitForCondition(t, testenv.ServiceEntryResource, ns, "httpbin-ext", "istio.io/WaypointBound", bound)
	if c.Reason != "WaypointAccepted" {
		t.Errorf("serviceentry httpbin-ext: %+v, want True/WaypointAccepted", c)
	}
	c = env.WaitForCondition(t, testenv.ServiceResource, ns, "missing", "istio.io/WaypointBound", nil)
	if c.Status != metav1.ConditionFalse || c.Reason != "WaypointIsNotReady" {
		t.Errorf("service missing: %+v, want False/WaypointIsNotReady", c)
	}
	c = env.WaitForCondition(t, testenv.WorkloadEntryResource, ns, "vm", "istio.io/WaypointBound", bound)
	if c.Reason != "WaypointAccepted" {
		t.Errorf("workloadentry vm: %+v, want True/WaypointAccepted", c)
	}
	// A WorkloadEntry is a workload: a service waypoint does not take it.
	c = env.WaitForCondition(t, testenv.WorkloadEntryResource, ns, "vm-service-waypoint", "istio.io/WaypointBound", nil)
	if c.Status != metav1.ConditionFalse || c.Reason != "UnsupportedTrafficType" {
		t.Errorf("workloadentry vm-service-waypoint: %+v, want False/UnsupportedTrafficType", c)
	}
}

func TestUserWithRole(t *testing.T) {
	t.Parallel()
	ns := env.Namespace(t, nil)
	other := env.Namespace(t, nil)
	env.Waypoint(t, ns, "waypoint", nil)

	rules := []rbacv1.PolicyRule{{APIGroups: []string{"gateway.networking.k8s.io"}, Resources: []string{"gateways"}, Verbs: []string{"get", "list"}}}
	cfg := env.UserConfig(t, "viewer", rules, ns)
	client := gatewayclient.NewForConfigOrDie(cfg)

	if _, err := client.GatewayV1().Gateways(ns).List(t.Context(), metav1.ListOptions{}); err != nil {
		t.Errorf("list in %s, allowed by the role: %v", ns, err)
	}
	_, err := client.GatewayV1().Gateways(ns).Create(t.Context(), testenv.WaypointGateway(ns, "second", nil), metav1.CreateOptions{})
	if !apierrors.IsForbidden(err) {
		t.Errorf("create, outside the role: err = %v, want Forbidden", err)
	}
	if _, err := client.GatewayV1().Gateways(other).List(t.Context(), metav1.ListOptions{}); !apierrors.IsForbidden(err) {
		t.Errorf("list in another namespace: err = %v, want Forbidden", err)
	}
	if _, err := kubernetes.NewForConfigOrDie(cfg).CoreV1().Namespaces().Get(t.Context(), ns, metav1.GetOptions{}); !apierrors.IsForbidden(err) {
		t.Errorf("get namespace: err = %v, want Forbidden", err)
	}

	// The kubeconfig form, through the real kubectl.
	kubeconfig := env.UserWithRole(t, "kubectl-viewer", rules, ns)
	out, err := kubectl(t, kubeconfig, "", "-n", ns, "delete", "gateway", "waypoint")
	if err == nil || !strings.Contains(out, "Forbidden") {
		t.Errorf("kubectl delete as a viewer: err = %v, output:\n%s\nwant Forbidden", err, out)
	}
	if out, err := kubectl(t, kubeconfig, "", "-n", ns, "get", "gateways", "-o", "name"); err != nil || strings.TrimSpace(out) != "gateway.gateway.networking.k8s.io/waypoint" {
		t.Errorf("kubectl get as a viewer: err = %v, output:\n%s", err, out)
	}
}

func TestKubectlServerSideApply(t *testing.T) {
	t.Parallel()
	ns := env.Namespace(t, testenv.AmbientLabels())
	manifest := `apiVersion: gateway.networking.k8s.io/v1
kind: Gateway
metadata:
  labels:
    istio.io/waypoint-for: service
  name: waypoint
spec:
  gatewayClassName: istio-waypoint
  listeners:
  - name: mesh
    port: 15008
    protocol: HBONE
`
	// The namespace comes from the kubeconfig's context, as for a user.
	kubeconfig := env.KubeconfigWithNamespace(t, ns)
	out, err := kubectl(t, kubeconfig, manifest, "apply", "--server-side", "--field-manager", "testenv", "-f", "-")
	if err != nil {
		t.Fatalf("kubectl apply: %v\n%s", err, out)
	}
	if want := "gateway.gateway.networking.k8s.io/waypoint serverside-applied"; strings.TrimSpace(out) != want {
		t.Errorf("kubectl apply output = %q, want %q", out, want)
	}

	got, err := env.Gateway.GatewayV1().Gateways(ns).Get(t.Context(), "waypoint", metav1.GetOptions{})
	if err != nil {
		t.Fatalf("get gateway: %v", err)
	}
	var managers []string
	for _, mf := range got.ManagedFields {
		managers = append(managers, mf.Manager+"/"+string(mf.Operation))
	}
	if !strings.Contains(strings.Join(managers, ","), "testenv/Apply") {
		t.Errorf("managed fields = %v, want testenv/Apply", managers)
	}
}

func TestNamespaceCleanupRemovesEverything(t *testing.T) {
	var ns string
	t.Run("create", func(t *testing.T) {
		ns = env.Namespace(t, nil)
		gw := testenv.WaypointGateway(ns, "left-behind", nil)
		// Created without the helper, so only the namespace cleanup removes it.
		if _, err := env.Gateway.GatewayV1().Gateways(ns).Create(t.Context(), gw, metav1.CreateOptions{}); err != nil {
			t.Fatal(err)
		}
	})
	if _, err := env.Kube.CoreV1().Namespaces().Get(t.Context(), ns, metav1.GetOptions{}); !apierrors.IsNotFound(err) {
		t.Errorf("namespace %s after cleanup: err = %v, want NotFound", ns, err)
	}
	list, err := env.Gateway.GatewayV1().Gateways(ns).List(t.Context(), metav1.ListOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if len(list.Items) != 0 {
		t.Errorf("gateways left in %s: %d", ns, len(list.Items))
	}
}

// kubectl runs the kubectl built with the control plane, stdout and stderr
// combined.
func kubectl(t *testing.T, kubeconfig, stdin string, args ...string) (string, error) {
	t.Helper()
	cmd := exec.CommandContext(t.Context(), env.KubectlPath, append([]string{"--kubeconfig", kubeconfig}, args...)...)
	cmd.Stdin = strings.NewReader(stdin)
	var out bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &out
	err := cmd.Run()
	return out.String(), err
}

// TestAmbientzNamesTheWaypoint: istiod's /debug/ambientz, read through
// Env.Ambientz, names the waypoint of a labelled Service and of a pod with
// an IP, and none for an unlabelled pod.
func TestAmbientzNamesTheWaypoint(t *testing.T) {
	t.Parallel()
	ns := env.Namespace(t, testenv.AmbientLabels())
	env.Waypoint(t, ns, "waypoint", map[string]string{"istio.io/waypoint-for": "all"})
	env.WaitProgrammed(t, ns, "waypoint")
	env.Service(t, ns, "enrolled", map[string]string{"istio.io/use-waypoint": "waypoint"})
	env.Pod(t, ns, "enrolled", map[string]string{"istio.io/use-waypoint": "waypoint"})
	env.SetPodIP(t, ns, "enrolled", "10.244.7.1")
	env.Pod(t, ns, "plain", nil)
	env.SetPodIP(t, ns, "plain", "10.244.7.2")

	want := ns + "/waypoint." + ns + ".svc.cluster.local"
	deadline := time.Now().Add(30 * time.Second)
	for {
		a, err := env.Ambientz(t.Context())
		if err != nil {
			t.Fatal(err)
		}
		got := map[string]string{}
		for _, s := range a.Services {
			if s.Namespace == ns {
				got["service/"+s.Name] = s.Waypoint.String()
			}
		}
		for _, w := range a.Workloads {
			if w.Namespace == ns && w.Kind() == "Pod" {
				got["pod/"+w.Name] = w.Waypoint.String()
			}
		}
		if got["service/enrolled"] == want && got["pod/enrolled"] == want && got["pod/plain"] == "none" {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("ambientz of namespace %s: %v; want the service and the enrolled pod on %s, the plain pod on none", ns, got, want)
		}
		time.Sleep(200 * time.Millisecond)
	}
}

// TestStandInRunsReplicas: the node stand-in runs as many ready pods as
// istiod's Deployment asks (here three, from the deployment overlay of the
// waypoint's parameters), lists each in the Service's EndpointSlice, and
// writes the Deployment's status as the deployment controller would; with
// the overlay at one replica, istiod scales the Deployment down and the
// other two pods go. Held, the waypoint's pods are Pending and none is
// ready.
func TestStandInRunsReplicas(t *testing.T) {
	t.Parallel()
	ns := env.Namespace(t, testenv.AmbientLabels())
	params := &corev1.ConfigMap{
		ObjectMeta: metav1.ObjectMeta{Name: "sized", Namespace: ns},
		Data:       map[string]string{"deployment": "spec:\n  replicas: 3\n"},
	}
	params, err := env.Kube.CoreV1().ConfigMaps(ns).Create(t.Context(), params, metav1.CreateOptions{})
	if err != nil {
		t.Fatal(err)
	}
	gw := testenv.WaypointGateway(ns, "waypoint", nil)
	gw.Spec.Infrastructure = &gwv1.GatewayInfrastructure{ParametersRef: &gwv1.LocalParametersReference{Group: "", Kind: "ConfigMap", Name: "sized"}}
	env.CreateGateway(t, gw)

	// runs says how far the cluster is from n ready replicas; "" when there.
	runs := func(c context.Context, n int32, ready bool) string {
		dep, err := env.Kube.AppsV1().Deployments(ns).Get(c, "waypoint", metav1.GetOptions{})
		if err != nil {
			return err.Error()
		}
		readyWant := n
		if !ready {
			readyWant = 0
		}
		st := dep.Status
		if dep.Spec.Replicas == nil || *dep.Spec.Replicas != n || st.ObservedGeneration != dep.Generation ||
			st.Replicas != n || st.UpdatedReplicas != n || st.ReadyReplicas != readyWant || st.AvailableReplicas != readyWant {
			return fmt.Sprintf("deployment spec.replicas %v, generation %d, status %+v", dep.Spec.Replicas, dep.Generation, st)
		}
		pods, err := env.Kube.CoreV1().Pods(ns).List(c, metav1.ListOptions{})
		if err != nil {
			return err.Error()
		}
		var names []string
		for _, p := range pods.Items {
			names = append(names, p.Name)
			if running := p.Status.Phase == corev1.PodRunning && p.Status.PodIP != ""; running != ready {
				return fmt.Sprintf("pod %s: phase %s, IP %q", p.Name, p.Status.Phase, p.Status.PodIP)
			}
		}
		want := []string{"waypoint-standin", "waypoint-standin-1", "waypoint-standin-2"}[:n]
		if strings.Join(names, " ") != strings.Join(want, " ") {
			return fmt.Sprintf("pods %v, want %v", names, want)
		}
		slices, err := env.Kube.DiscoveryV1().EndpointSlices(ns).List(c, metav1.ListOptions{LabelSelector: "kubernetes.io/service-name=waypoint"})
		if err != nil {
			return err.Error()
		}
		endpoints := 0
		if len(slices.Items) == 1 {
			endpoints = len(slices.Items[0].Endpoints)
		}
		if int32(endpoints) != readyWant || len(slices.Items) != 1 {
			return fmt.Sprintf("%d EndpointSlices, %d endpoints", len(slices.Items), endpoints)
		}
		return ""
	}
	waitRuns := func(what string, n int32, ready bool) {
		t.Helper()
		last := ""
		err := wait.PollUntilContextTimeout(t.Context(), 100*time.Millisecond, testenv.WaitTimeout, true, func(c context.Context) (bool, error) {
			if said := runs(c, n, ready); c.Err() == nil {
				last = said
			}
			return last == "", nil
		})
		if err != nil {
			t.Fatalf("%s: %s", what, last)
		}
	}
	waitRuns("three ready replicas", 3, true)
	env.WaitProgrammed(t, ns, "waypoint")

	params.Data["deployment"] = "spec:\n  replicas: 1\n"
	if _, err := env.Kube.CoreV1().ConfigMaps(ns).Update(t.Context(), params, metav1.UpdateOptions{}); err != nil {
		t.Fatal(err)
	}
	waitRuns("scaled down to one", 1, true)

	env.HoldWaypoint(t, ns, "waypoint")
	waitRuns("held", 1, false)
}
