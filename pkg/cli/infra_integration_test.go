package cli

import (
	"context"
	"fmt"
	"os/exec"
	"strings"
	"testing"
	"time"

	appsv1 "k8s.io/api/apps/v1"
	autoscalingv2 "k8s.io/api/autoscaling/v2"
	corev1 "k8s.io/api/core/v1"
	policyv1 "k8s.io/api/policy/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/util/wait"
	"sigs.k8s.io/yaml"

	"github.com/kubectl-waypoint/kubectl-waypoint/internal/testenv"
)

// eventually polls check until it returns "" (done) or the wait ends; the
// test then fails with the last thing check said.
func eventually(t *testing.T, what string, check func(ctx context.Context) string) {
	t.Helper()
	last := ""
	err := wait.PollUntilContextTimeout(context.Background(), 100*time.Millisecond, testenv.WaitTimeout, true, func(ctx context.Context) (bool, error) {
		said := check(ctx)
		if ctx.Err() == nil {
			last = said // not the deadline's own error
		}
		return said == "", nil
	})
	if err != nil {
		t.Fatalf("waiting for %s: %s", what, last)
	}
}

// istiodObjects reads what istiod's deployment controller made for the
// waypoint name in ns: the Deployment, and the autoscaler and budget when
// they exist (nil when not).
func istiodObjects(ctx context.Context, ns, name string) (*appsv1.Deployment, *autoscalingv2.HorizontalPodAutoscaler, *policyv1.PodDisruptionBudget, error) {
	dep, err := env.Kube.AppsV1().Deployments(ns).Get(ctx, name, metav1.GetOptions{})
	if err != nil {
		return nil, nil, nil, err
	}
	hpa, err := env.Kube.AutoscalingV2().HorizontalPodAutoscalers(ns).Get(ctx, name, metav1.GetOptions{})
	if apierrors.IsNotFound(err) {
		hpa, err = nil, nil
	}
	if err != nil {
		return nil, nil, nil, err
	}
	pdb, err := env.Kube.PolicyV1().PodDisruptionBudgets(ns).Get(ctx, name, metav1.GetOptions{})
	if apierrors.IsNotFound(err) {
		pdb, err = nil, nil
	}
	return dep, hpa, pdb, err
}

// ok0 runs the tool, fails the test unless it exits 0, and returns stdout.
func ok0(t *testing.T, args ...string) string {
	t.Helper()
	stdout, _ := mustRun(t, 0, args...)
	return stdout
}

func proxyContainer(dep *appsv1.Deployment) *corev1.Container {
	for i, c := range dep.Spec.Template.Spec.Containers {
		if c.Name == "istio-proxy" {
			return &dep.Spec.Template.Spec.Containers[i]
		}
	}
	return nil
}

// TestInfrastructureByIstiod: what apply's sizing flags ask for is what the
// real istiod's deployment controller writes in the API server (the
// Deployment's replicas, resources, image, placement and labels, the
// autoscaler, the budget), a re-apply with other flags moves them, the
// parameters ConfigMap is generate's and is owned by the Gateway, an
// apply without the flags removes it, and delete removes it with its
// waypoint.
func TestInfrastructureByIstiod(t *testing.T) {
	ns := env.Namespace(t, nil)
	sizing := []string{"--replicas", "3", "--min-available", "2",
		"--requests", "cpu=200m,memory=256Mi", "--limits", "cpu=1,memory=512Mi",
		"--node-selector", "pool=waypoints", "--toleration", "dedicated=waypoints:NoSchedule",
		"--topology-spread", "zone", "--proxy-image", "example.com/proxyv2:sized",
		"--infra-label", "team=payments", "--infra-annotation", "owner=platform"}
	ok0(t, append([]string{"apply", "-n", ns, "--name", "sized"}, sizing...)...)

	eventually(t, "istiod's Deployment and budget for the sizing flags", func(ctx context.Context) string {
		dep, hpa, pdb, err := istiodObjects(ctx, ns, "sized")
		if err != nil {
			return err.Error()
		}
		c := proxyContainer(dep)
		pod := dep.Spec.Template
		switch {
		case dep.Spec.Replicas == nil || *dep.Spec.Replicas != 3:
			return fmt.Sprintf("replicas %v", dep.Spec.Replicas)
		case c == nil || c.Image != "example.com/proxyv2:sized":
			return fmt.Sprintf("proxy container %+v", c)
		case c.Resources.Requests.Cpu().String() != "200m" || c.Resources.Requests.Memory().String() != "256Mi" ||
			c.Resources.Limits.Cpu().String() != "1" || c.Resources.Limits.Memory().String() != "512Mi":
			return fmt.Sprintf("resources %+v", c.Resources)
		case pod.Spec.NodeSelector["pool"] != "waypoints":
			return fmt.Sprintf("nodeSelector %v", pod.Spec.NodeSelector)
		case len(pod.Spec.Tolerations) != 1 || pod.Spec.Tolerations[0].Key != "dedicated" || pod.Spec.Tolerations[0].Value != "waypoints" || pod.Spec.Tolerations[0].Effect != corev1.TaintEffectNoSchedule:
			return fmt.Sprintf("tolerations %+v", pod.Spec.Tolerations)
		case len(pod.Spec.TopologySpreadConstraints) != 1 || pod.Spec.TopologySpreadConstraints[0].TopologyKey != "topology.kubernetes.io/zone":
			return fmt.Sprintf("topology spread %+v", pod.Spec.TopologySpreadConstraints)
		case dep.Labels["team"] != "payments" || pod.Labels["team"] != "payments" || dep.Annotations["owner"] != "platform":
			return fmt.Sprintf("infrastructure metadata: deployment labels %v, pod labels %v, annotations %v", dep.Labels, pod.Labels, dep.Annotations)
		case hpa != nil:
			return "an autoscaler without --max-replicas"
		case pdb == nil || pdb.Spec.MinAvailable == nil || pdb.Spec.MinAvailable.IntValue() != 2:
			return fmt.Sprintf("budget %+v", pdb)
		}
		return ""
	})

	// The ConfigMap in the API server is the one generate prints, and the
	// Gateway owns it.
	gw, err := env.Gateway.GatewayV1().Gateways(ns).Get(context.Background(), "sized", metav1.GetOptions{})
	if err != nil {
		t.Fatal(err)
	}
	cm, err := env.Kube.CoreV1().ConfigMaps(ns).Get(context.Background(), "sized-infrastructure", metav1.GetOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if len(cm.OwnerReferences) != 1 || cm.OwnerReferences[0].UID != gw.UID || cm.OwnerReferences[0].Kind != "Gateway" {
		t.Errorf("owner references %+v, want the Gateway %s", cm.OwnerReferences, gw.UID)
	}
	generated := ok0(t, append([]string{"generate", "-n", ns, "--name", "sized"}, sizing...)...)
	docs := strings.Split(generated, "\n---\n")
	var printed corev1.ConfigMap
	if err := yaml.Unmarshal([]byte(docs[0]), &printed); err != nil || len(docs) != 2 {
		t.Fatalf("generate printed %d documents (%v):\n%s", len(docs), err, generated)
	}
	if fmt.Sprint(printed.Data) != fmt.Sprint(cm.Data) || fmt.Sprint(printed.Labels) != fmt.Sprint(cm.Labels) {
		t.Errorf("generate printed\n%v\nthe API server holds\n%v", printed.Data, cm.Data)
	}

	// Other flags: an autoscaler and another budget; the Deployment's
	// overlay goes, and with it the three replicas.
	ok0(t, "apply", "-n", ns, "--name", "sized", "--min-replicas", "2", "--max-replicas", "5", "--cpu-percent", "70", "--max-unavailable", "1")
	eventually(t, "istiod's autoscaler and budget for the new flags", func(ctx context.Context) string {
		dep, hpa, pdb, err := istiodObjects(ctx, ns, "sized")
		if err != nil {
			return err.Error()
		}
		switch {
		case hpa == nil || hpa.Spec.MinReplicas == nil || *hpa.Spec.MinReplicas != 2 || hpa.Spec.MaxReplicas != 5 ||
			len(hpa.Spec.Metrics) != 1 || hpa.Spec.Metrics[0].Resource == nil || *hpa.Spec.Metrics[0].Resource.Target.AverageUtilization != 70:
			return fmt.Sprintf("autoscaler %+v", hpa)
		case pdb == nil || pdb.Spec.MinAvailable != nil || pdb.Spec.MaxUnavailable == nil || pdb.Spec.MaxUnavailable.IntValue() != 1:
			return fmt.Sprintf("budget %+v", pdb)
		case proxyContainer(dep) == nil || proxyContainer(dep).Image == "example.com/proxyv2:sized":
			return "the proxy image of the removed overlay is still there"
		}
		return ""
	})
	cm, err = env.Kube.CoreV1().ConfigMaps(ns).Get(context.Background(), "sized-infrastructure", metav1.GetOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if _, ok := cm.Data["deployment"]; ok || len(cm.OwnerReferences) != 1 {
		t.Errorf("after the re-apply the ConfigMap holds %v, owners %+v", cm.Data, cm.OwnerReferences)
	}

	// No sizing flag: the Gateway names no parameters, and ours is gone.
	out, errs := mustRun(t, 0, "apply", "-n", ns, "--name", "sized")
	gw, err = env.Gateway.GatewayV1().Gateways(ns).Get(context.Background(), "sized", metav1.GetOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if gw.Spec.Infrastructure != nil {
		t.Errorf("spec.infrastructure after an apply without the flags: %+v", gw.Spec.Infrastructure)
	}
	if _, err := env.Kube.CoreV1().ConfigMaps(ns).Get(context.Background(), "sized-infrastructure", metav1.GetOptions{}); !apierrors.IsNotFound(err) {
		t.Errorf("the ConfigMap is still there (%v); apply said:\n%s", err, out)
	}
	// istiod never deletes the autoscaler and the budget it made for
	// overlays that are gone; apply names them, and the command it prints
	// removes them for good once istiod has caught up.
	_, stderr, _ := runKube(t, "apply", "-n", ns, "--name", "sized") // (nothing more to drop)
	if strings.Contains(stderr, "istiod keeps") {
		t.Errorf("a second apply without the flags warns again: %s", stderr)
	}
	for _, kind := range []string{"HorizontalPodAutoscaler", "PodDisruptionBudget"} {
		want := "delete it with: kubectl delete " + strings.ToLower(kind) + " sized -n " + ns
		if !strings.Contains(errs, want) {
			t.Errorf("apply without the flags did not say %q:\n%s", want, errs)
		}
	}
	if _, hpa, pdb, err := istiodObjects(context.Background(), ns, "sized"); err != nil || hpa == nil || pdb == nil {
		t.Fatalf("istiod's autoscaler (%v) and budget (%v) after the flags were dropped (%v): the warning is about them", hpa != nil, pdb != nil, err)
	}
	time.Sleep(2 * time.Second) // "once the waypoint has settled"
	for _, cmd := range [][]string{{"delete", "horizontalpodautoscaler", "sized", "-n", ns}, {"delete", "poddisruptionbudget", "sized", "-n", ns}} {
		if out, err := exec.Command(env.KubectlPath, append(cmd, "--kubeconfig", env.Kubeconfig)...).CombinedOutput(); err != nil {
			t.Fatalf("kubectl %v: %v: %s", cmd, err, out)
		}
	}
	time.Sleep(2 * time.Second) // would istiod bring them back?
	if _, hpa, pdb, err := istiodObjects(context.Background(), ns, "sized"); err != nil || hpa != nil || pdb != nil {
		t.Errorf("after the printed commands: autoscaler %v, budget %v (%v)", hpa != nil, pdb != nil, err)
	}

	// delete removes the ConfigMap of ours with its waypoint.
	ok0(t, "apply", "-n", ns, "--name", "sized", "--replicas", "2")
	ok0(t, "delete", "sized", "-n", ns)
	if _, err := env.Kube.CoreV1().ConfigMaps(ns).Get(context.Background(), "sized-infrastructure", metav1.GetOptions{}); !apierrors.IsNotFound(err) {
		t.Errorf("delete left the ConfigMap (%v)", err)
	}
}

// TestInfrastructureUserParameters: a ConfigMap of the user's, named with
// --parameters, is used by istiod as it is and survives the waypoint's
// delete; one of the tool's name that the tool did not make is never
// written over.
func TestInfrastructureUserParameters(t *testing.T) {
	ns := env.Namespace(t, nil)
	ctx := context.Background()
	mine := &corev1.ConfigMap{
		ObjectMeta: metav1.ObjectMeta{Name: "mine", Namespace: ns},
		Data:       map[string]string{"deployment": "spec:\n  replicas: 2\n"},
	}
	if _, err := env.Kube.CoreV1().ConfigMaps(ns).Create(ctx, mine, metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	ok0(t, "apply", "-n", ns, "--name", "theirs", "--parameters", "mine")
	eventually(t, "istiod's Deployment with the user's replicas", func(ctx context.Context) string {
		dep, _, _, err := istiodObjects(ctx, ns, "theirs")
		if err != nil {
			return err.Error()
		}
		if dep.Spec.Replicas == nil || *dep.Spec.Replicas != 2 {
			return fmt.Sprintf("replicas %v", dep.Spec.Replicas)
		}
		return ""
	})
	ok0(t, "delete", "theirs", "-n", ns)
	got, err := env.Kube.CoreV1().ConfigMaps(ns).Get(ctx, "mine", metav1.GetOptions{})
	if err != nil || got.Data["deployment"] != mine.Data["deployment"] || len(got.ManagedFields) != 1 {
		t.Errorf("the user's ConfigMap after apply and delete: %+v, %v", got, err)
	}

	// Same name as ours, not made by us: refused, nothing written.
	foreign := &corev1.ConfigMap{ObjectMeta: metav1.ObjectMeta{Name: "other-infrastructure", Namespace: ns}, Data: map[string]string{"k": "v"}}
	if foreign, err = env.Kube.CoreV1().ConfigMaps(ns).Create(ctx, foreign, metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	_, stderr, code := runKube(t, "apply", "-n", ns, "--name", "other", "--replicas", "2")
	if code != 2 || !strings.Contains(stderr, "kubectl-waypoint did not make it") {
		t.Errorf("apply over a foreign ConfigMap: exit %d, %s", code, stderr)
	}
	after, err := env.Kube.CoreV1().ConfigMaps(ns).Get(ctx, "other-infrastructure", metav1.GetOptions{})
	if err != nil || after.ResourceVersion != foreign.ResourceVersion {
		t.Errorf("the foreign ConfigMap changed: %+v, %v", after, err)
	}
	if _, err := env.Gateway.GatewayV1().Gateways(ns).Get(ctx, "other", metav1.GetOptions{}); !apierrors.IsNotFound(err) {
		t.Errorf("the Gateway was written (%v)", err)
	}
}

// TestInfrastructureRefusals: bad sizing flags, and parameters istiod could
// not use, are refused by generate and apply with exit code 2 and one
// line, and nothing is written in the cluster.
func TestInfrastructureRefusals(t *testing.T) {
	ns := env.Namespace(t, nil)
	ctx := context.Background()
	for name, data := range map[string]map[string]string{
		"unknown-key":   {"deployments": "spec:\n  replicas: 2\n"},
		"renames":       {"deployment": "metadata:\n  name: other\n"},
		"misspelt":      {"deployment": "spec:\n  replica: 2\n"},
		"not-an-object": {"podDisruptionBudget": "- minAvailable\n"},
	} {
		cm := &corev1.ConfigMap{ObjectMeta: metav1.ObjectMeta{Name: name, Namespace: ns}, Data: data}
		if _, err := env.Kube.CoreV1().ConfigMaps(ns).Create(ctx, cm, metav1.CreateOptions{}); err != nil {
			t.Fatal(err)
		}
	}
	cases := []struct {
		args      []string
		says      string
		applyOnly bool // the ConfigMap is read from the cluster
	}{
		{[]string{"--replicas", "0"}, "--replicas 0", false},
		{[]string{"--replicas", "-2"}, "--replicas -2", false},
		{[]string{"--replicas", "two"}, "--replicas", false},
		{[]string{"--min-replicas", "2"}, "need --max-replicas", false},
		{[]string{"--cpu-percent", "50"}, "need --max-replicas", false},
		{[]string{"--min-replicas", "4", "--max-replicas", "2"}, "above --max-replicas", false},
		{[]string{"--max-replicas", "0"}, "--max-replicas 0", false},
		{[]string{"--replicas", "2", "--max-replicas", "4"}, "use one of them", false},
		{[]string{"--min-available", "1"}, "lets no waypoint pod be evicted", false},
		{[]string{"--replicas", "3", "--min-available", "3"}, "lets no waypoint pod be evicted", false},
		{[]string{"--replicas", "3", "--max-unavailable", "0%"}, "lets no waypoint pod be evicted", false},
		{[]string{"--replicas", "3", "--min-available", "1", "--max-unavailable", "1"}, "two forms of one budget", false},
		{[]string{"--replicas", "3", "--min-available", "x"}, "--min-available", false},
		{[]string{"--requests", "cpu=fast"}, "not a quantity", false},
		{[]string{"--requests", "cpu"}, "key=value", false},
		{[]string{"--limits", "gpu=1"}, "--limits resource", false},
		{[]string{"--requests", "cpu=2", "--limits", "cpu=1"}, "above --limits", false},
		{[]string{"--node-selector", "pool"}, "--node-selector", false},
		{[]string{"--toleration", "dedicated=waypoints:Sometimes"}, "effect must be", false},
		{[]string{"--topology-spread", "rack"}, "--topology-spread", false},
		{[]string{"--proxy-image", "a b"}, "--proxy-image", false},
		{[]string{"--infra-label", "gateway.networking.k8s.io/gateway-name=x"}, "istiod drops keys", false},
		{[]string{"--infra-annotation", "no spaces=x"}, "--infra-annotation key", false},
		{[]string{"--parameters", "mine", "--replicas", "2"}, "use one or the other", false},
		{[]string{"--parameters", "missing"}, "not found: create it first", true},
		{[]string{"--parameters", "unknown-key"}, "not one istiod reads", true},
		{[]string{"--parameters", "renames"}, "sets metadata.name", true},
		{[]string{"--parameters", "misspelt"}, "does not fit", true},
		{[]string{"--parameters", "not-an-object"}, "not a YAML object", true},
	}
	for _, c := range cases {
		commands := [][]string{{"apply", "-n", ns, "--name", "refused"}}
		if !c.applyOnly {
			commands = append(commands, []string{"generate", "-n", ns, "--name", "refused"})
		}
		for _, cmd := range commands {
			args := append(cmd, c.args...)
			stdout, stderr, code := runKube(t, args...)
			lines := strings.Split(strings.TrimSpace(stderr), "\n")
			if code != 2 || len(lines) != 1 || !strings.Contains(stderr, c.says) || stdout != "" {
				t.Errorf("%v: exit %d, want 2 with one line saying %q\nstdout: %s\nstderr: %s", args, code, c.says, stdout, stderr)
			}
		}
	}
	// Nothing written: no Gateway, and only the ConfigMaps made above.
	gws, err := env.Gateway.GatewayV1().Gateways(ns).List(ctx, metav1.ListOptions{})
	if err != nil || len(gws.Items) != 0 {
		t.Errorf("Gateways after the refusals: %d (%v)", len(gws.Items), err)
	}
	cms, err := env.Kube.CoreV1().ConfigMaps(ns).List(ctx, metav1.ListOptions{})
	if err != nil {
		t.Fatal(err)
	}
	for _, cm := range cms.Items {
		if cm.Labels["app.kubernetes.io/managed-by"] == "kubectl-waypoint" {
			t.Errorf("ConfigMap %s was written", cm.Name)
		}
	}
}

// TestInfrastructureRequestCounts pins what the parameters ConfigMap costs
// in API requests (docs/production.md gives these figures): a read and an
// apply before the Gateway's, and one more apply to make a new Gateway its
// owner; an apply that drops the flags reads and deletes it after the
// Gateway's apply; so does delete, after the Gateway's delete. (A second
// read of the GatewayClass on a re-apply is the guard's, as without the
// flags.)
func TestInfrastructureRequestCounts(t *testing.T) {
	ns := env.Namespace(t, nil)
	cm := "/api/v1/namespaces/" + ns + "/configmaps/waypoint-infrastructure"
	gw := "/apis/gateway.networking.k8s.io/v1/namespaces/" + ns + "/gateways/waypoint"
	cases := []struct {
		args  []string
		want  string   // sorted
		order []string // these paths, in this order
	}{
		{[]string{"apply", "-n", ns, "--replicas", "2"},
			"GET gateways,GET istio-waypoint,GET waypoint-infrastructure,PATCH waypoint,PATCH waypoint-infrastructure,PATCH waypoint-infrastructure",
			[]string{"GET " + cm, "PATCH " + cm, "PATCH " + gw, "PATCH " + cm}},
		{[]string{"apply", "-n", ns, "--replicas", "3"},
			"GET gateways,GET istio-waypoint,GET istio-waypoint,GET waypoint-infrastructure,PATCH waypoint,PATCH waypoint-infrastructure",
			[]string{"GET " + cm, "PATCH " + cm, "PATCH " + gw}},
		{[]string{"apply", "-n", ns},
			"DELETE waypoint-infrastructure,GET gateways,GET istio-waypoint,GET istio-waypoint,GET waypoint-infrastructure,PATCH waypoint",
			[]string{"GET " + cm, "PATCH " + gw, "DELETE " + cm}},
		{[]string{"apply", "-n", ns, "--replicas", "2"},
			"GET gateways,GET istio-waypoint,GET istio-waypoint,GET waypoint-infrastructure,PATCH waypoint,PATCH waypoint-infrastructure",
			[]string{"GET " + cm, "PATCH " + cm, "PATCH " + gw}},
		{[]string{"delete", "-n", ns, "waypoint"}, "",
			[]string{"GET " + gw, "DELETE " + gw, "GET " + cm, "DELETE " + cm}},
	}
	for _, c := range cases {
		_, log := runLogged(t, c.args...)
		if got := strings.Join(log.reqs, ","); c.want != "" && got != c.want {
			t.Errorf("%v made\n%s\nwant\n%s", c.args, got, c.want)
		}
		var order []string
		for _, p := range log.paths {
			if strings.HasSuffix(p, cm) || strings.HasSuffix(p, gw) {
				order = append(order, p)
			}
		}
		if strings.Join(order, ",") != strings.Join(c.order, ",") {
			t.Errorf("%v: the Gateway and its ConfigMap were\n%s\nwant\n%s", c.args, strings.Join(order, "\n"), strings.Join(c.order, "\n"))
		}
	}
	if _, err := env.Kube.CoreV1().ConfigMaps(ns).Get(context.Background(), "waypoint-infrastructure", metav1.GetOptions{}); !apierrors.IsNotFound(err) {
		t.Errorf("the ConfigMap is still there after delete (%v)", err)
	}
}

// TestApplyClass: --class picks another waypoint class istiod serves; one
// the cluster does not have is refused with exit code 2 and nothing is
// written, judged by the GatewayClasses and Gateways in the API server.
func TestApplyClass(t *testing.T) {
	ctx := context.Background()
	ns := env.Namespace(t, nil)
	class := "istio-agentgateway-waypoint"
	_, err := env.Gateway.GatewayV1().GatewayClasses().Get(ctx, class, metav1.GetOptions{})
	served := err == nil
	if err != nil && !apierrors.IsNotFound(err) {
		t.Fatal(err)
	}
	_, stderr, code := runKube(t, "apply", "-n", ns, "--name", "agw", "--class", class, "--replicas", "2")
	gw, getErr := env.Gateway.GatewayV1().Gateways(ns).Get(ctx, "agw", metav1.GetOptions{})
	switch {
	case served && (code != 0 || getErr != nil || string(gw.Spec.GatewayClassName) != class):
		t.Errorf("istiod serves %s, yet apply --class: exit %d, %s; gateway %v", class, code, stderr, getErr)
	case !served && (code != 2 || !strings.Contains(stderr, "GatewayClass "+class+" does not exist") || !apierrors.IsNotFound(getErr)):
		t.Errorf("the cluster has no %s, yet apply --class: exit %d, %s; gateway %v", class, code, stderr, getErr)
	}
	if !served {
		if _, err := env.Kube.CoreV1().ConfigMaps(ns).Get(ctx, "agw-infrastructure", metav1.GetOptions{}); !apierrors.IsNotFound(err) {
			t.Errorf("a refused apply wrote its ConfigMap (%v)", err)
		}
	}
	if _, stderr, code := runKube(t, "apply", "-n", ns, "--class", "istio"); code != 2 || !strings.Contains(stderr, `invalid --class "istio"`) {
		t.Errorf("apply --class istio: exit %d, %s", code, stderr)
	}
}
