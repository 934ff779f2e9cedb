package testenv_test

import (
	"bytes"
	"context"
	"os"
	"os/exec"
	"strings"
	"testing"
	"time"

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

func TestWaypointGatewayIsAccepted(t *testing.T) {
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
	// The CRD defaults the status to "waiting for controller": no istiod runs.
	if c := meta.FindStatusCondition(got.Status.Conditions, "Programmed"); c == nil || c.Status != metav1.ConditionUnknown {
		t.Errorf("Programmed condition = %+v, want the CRD's default Unknown", c)
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
	gw := env.Waypoint(t, ns, "waypoint", nil)

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
}

func TestFakeIstiod(t *testing.T) {
	t.Parallel()
	ns := env.Namespace(t, nil)
	env.FakeIstiod(t, ns, 50*time.Millisecond)

	env.Waypoint(t, ns, "waypoint", nil)
	other := testenv.WaypointGateway(ns, "ingress", nil)
	other.Spec.GatewayClassName = "istio"
	env.CreateGateway(t, other)

	err := wait.PollUntilContextTimeout(t.Context(), 20*time.Millisecond, 10*time.Second, true, func(c context.Context) (bool, error) {
		gw, err := env.Gateway.GatewayV1().Gateways(ns).Get(c, "waypoint", metav1.GetOptions{})
		if err != nil {
			return false, err
		}
		return meta.IsStatusConditionTrue(gw.Status.Conditions, "Programmed"), nil
	})
	if err != nil {
		t.Fatalf("waiting for the waypoint to be programmed: %v", err)
	}
	gw, err := env.Gateway.GatewayV1().Gateways(ns).Get(t.Context(), "waypoint", metav1.GetOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if want := testenv.FakeAddresses(ns, "waypoint"); len(gw.Status.Addresses) != 2 || gw.Status.Addresses[0].Value != want[0] || gw.Status.Addresses[1].Value != want[1] {
		t.Errorf("addresses = %+v, want %v", gw.Status.Addresses, want)
	}
	ingress, err := env.Gateway.GatewayV1().Gateways(ns).Get(t.Context(), "ingress", metav1.GetOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if meta.IsStatusConditionTrue(ingress.Status.Conditions, "Programmed") {
		t.Errorf("gateway of class istio was programmed; only waypoints should be")
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
