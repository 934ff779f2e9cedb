package cli

import (
	"context"
	"encoding/json"
	"fmt"
	"strings"
	"testing"

	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime/schema"
	gatewayv1 "sigs.k8s.io/gateway-api/apis/v1"
	"sigs.k8s.io/yaml"

	"github.com/kubectl-waypoint/kubectl-waypoint/internal/testenv"
	"github.com/kubectl-waypoint/kubectl-waypoint/pkg/render"
)

// TestDefaultsByIstiod: class-wide defaults and a waypoint's own
// parameters merge as istiod merges them (the class's first, the
// waypoint's on top), judged by the Deployment and budget the real istiod
// writes; defaults names the waypoints it changes; --unset removes what it
// wrote and istiod deploys from the template again; defaults kept in a
// ConfigMap of someone else's are shown and never written over. The class
// is the test's own (handled by istiod's mesh controller), so the other
// tests' waypoints never see these defaults.
func TestDefaultsByIstiod(t *testing.T) {
	ctx := context.Background()
	class := "test-defaults-waypoint"
	env.GatewayClass(t, class, nil)
	ns := env.Namespace(t, nil)
	waypointOf := func(name string, infra render.Infrastructure) {
		gw, err := render.Gateway(render.Request{Name: name, Namespace: ns, Infra: infra})
		if err != nil {
			t.Fatal(err)
		}
		gw.Spec.GatewayClassName = gatewayv1.ObjectName(class)
		if cm, _ := render.ConfigMap(render.Request{Name: name, Namespace: ns, Infra: infra}); cm != nil {
			if _, err := env.Kube.CoreV1().ConfigMaps(ns).Create(ctx, cm, metav1.CreateOptions{}); err != nil {
				t.Fatal(err)
			}
		}
		env.CreateGateway(t, gw)
	}
	waypointOf("plain", render.Infrastructure{})
	waypointOf("own", render.Infrastructure{Replicas: 3})
	t.Cleanup(func() {
		_ = env.Kube.CoreV1().ConfigMaps(testenv.IstioNamespace).Delete(context.Background(), "kubectl-waypoint-defaults-"+class, metav1.DeleteOptions{})
	})

	out := ok0(t, "defaults", "--class", class)
	if !strings.Contains(out, "No defaults for class "+class) || !strings.Contains(out, ns+"/own, "+ns+"/plain") {
		t.Errorf("defaults before any:\n%s", out)
	}

	out, errs := mustRun(t, 0, "defaults", "--class", class, "--replicas", "2", "--max-unavailable", "1", "--requests", "cpu=300m", "--topology-spread", "zone")
	if !strings.Contains(out, "configmap istio-system/kubectl-waypoint-defaults-"+class+" created") ||
		!strings.Contains(errs+out, "the defaults now apply to 2 waypoints: "+ns+"/own, "+ns+"/plain") {
		t.Errorf("defaults set said:\n%s%s", out, errs)
	}
	cm, err := env.Kube.CoreV1().ConfigMaps(testenv.IstioNamespace).Get(ctx, "kubectl-waypoint-defaults-"+class, metav1.GetOptions{})
	if err != nil || cm.Labels["gateway.istio.io/defaults-for-class"] != class {
		t.Fatalf("the defaults ConfigMap: %+v, %v", cm, err)
	}
	// plain: the class's replicas; own: its own 3 over the class's 2; both
	// the class's request and budget.
	for name, replicas := range map[string]int32{"plain": 2, "own": 3} {
		eventually(t, "istiod's "+name+" with the class defaults", func(ctx context.Context) string {
			dep, _, pdb, err := istiodObjects(ctx, ns, name)
			if err != nil {
				return err.Error()
			}
			c := proxyContainer(dep)
			switch {
			case dep.Spec.Replicas == nil || *dep.Spec.Replicas != replicas:
				return fmt.Sprintf("replicas %v, want %d", dep.Spec.Replicas, replicas)
			case c == nil || c.Resources.Requests.Cpu().String() != "300m":
				return fmt.Sprintf("proxy container %+v", c)
			case pdb == nil || pdb.Spec.MaxUnavailable == nil || pdb.Spec.MaxUnavailable.IntValue() != 1:
				return fmt.Sprintf("budget %+v", pdb)
			case len(dep.Spec.Template.Spec.TopologySpreadConstraints) != 1 ||
				fmt.Sprint(dep.Spec.Template.Spec.TopologySpreadConstraints[0].MatchLabelKeys) != "[gateway.networking.k8s.io/gateway-name]":
				return fmt.Sprintf("spread %+v", dep.Spec.Template.Spec.TopologySpreadConstraints)
			}
			return ""
		})
	}

	// -o json shows what the API server holds.
	var view defaultsView
	if err := json.Unmarshal([]byte(ok0(t, "defaults", "--class", class, "-o", "json")), &view); err != nil {
		t.Fatal(err)
	}
	if view.ConfigMap != cm.Name || fmt.Sprint(view.Data) != fmt.Sprint(cm.Data) || !view.Ours || len(view.Waypoints) != 2 {
		t.Errorf("defaults -o json: %+v, the cluster holds %v", view, cm.Data)
	}

	out = ok0(t, "defaults", "--class", class, "--unset")
	if !strings.Contains(out, "deleted") {
		t.Errorf("defaults --unset said:\n%s", out)
	}
	if _, err := env.Kube.CoreV1().ConfigMaps(testenv.IstioNamespace).Get(ctx, cm.Name, metav1.GetOptions{}); !apierrors.IsNotFound(err) {
		t.Errorf("the defaults ConfigMap after --unset: %v", err)
	}
	eventually(t, "istiod's plain from the template again", func(ctx context.Context) string {
		dep, _, _, err := istiodObjects(ctx, ns, "plain")
		if err != nil {
			return err.Error()
		}
		if c := proxyContainer(dep); c == nil || c.Resources.Requests.Cpu().String() == "300m" || (dep.Spec.Replicas != nil && *dep.Spec.Replicas != 1) {
			return fmt.Sprintf("replicas %v, container %+v", dep.Spec.Replicas, c)
		}
		return ""
	})

	// Someone else's defaults: shown, never written over.
	theirs := env.Kube.CoreV1().ConfigMaps(testenv.IstioNamespace)
	foreign := &corev1.ConfigMap{
		ObjectMeta: metav1.ObjectMeta{Name: "istio-default-gatewayclass-" + class, Labels: map[string]string{"gateway.istio.io/defaults-for-class": class}},
		Data:       map[string]string{"deployment": "spec:\n  replicas: 4\n"},
	}
	if _, err := theirs.Create(ctx, foreign, metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		_ = theirs.Delete(context.Background(), "istio-default-gatewayclass-"+class, metav1.DeleteOptions{})
	})
	out = ok0(t, "defaults", "--class", class)
	if !strings.Contains(out, "istio-default-gatewayclass-"+class+" (not written by kubectl-waypoint") || !strings.Contains(out, "replicas: 4") {
		t.Errorf("defaults with someone else's:\n%s", out)
	}
	_, stderr, code := runKube(t, "defaults", "--class", class, "--replicas", "2")
	if code != 2 || !strings.Contains(stderr, "which kubectl-waypoint did not make") {
		t.Errorf("defaults over someone else's: exit %d, %s", code, stderr)
	}
	if _, err := theirs.Get(ctx, "kubectl-waypoint-defaults-"+class, metav1.GetOptions{}); !apierrors.IsNotFound(err) {
		t.Errorf("a second defaults ConfigMap was written (%v)", err)
	}
}

// TestDefaultsRefusals: bad input exits 2 with one line and writes nothing.
func TestDefaultsRefusals(t *testing.T) {
	for _, c := range []struct {
		args []string
		says string
	}{
		{[]string{"--class", "no-such-class", "--replicas", "2"}, "GatewayClass no-such-class does not exist"},
		{[]string{"--unset", "--replicas", "2"}, "leave out the sizing flags"},
		{[]string{"--min-available", "1"}, "lets no waypoint pod be evicted"},
		{[]string{"--replicas", "0"}, "--replicas 0"},
		{[]string{"--dry-run=server"}, "add sizing flags or --unset"},
		{[]string{"--class", "Bad_Class"}, "invalid --class"},
	} {
		args := append([]string{"defaults"}, c.args...)
		_, stderr, code := runKube(t, args...)
		if code != 2 || strings.Count(strings.TrimSpace(stderr), "\n") != 0 || !strings.Contains(stderr, c.says) {
			t.Errorf("%v: exit %d, want 2 and one line saying %q: %s", args, code, c.says, stderr)
		}
	}
	list, err := env.Kube.CoreV1().ConfigMaps(testenv.IstioNamespace).List(context.Background(), metav1.ListOptions{LabelSelector: "app.kubernetes.io/managed-by=kubectl-waypoint"})
	if err != nil || len(list.Items) != 0 {
		t.Errorf("defaults ConfigMaps written by the refused commands: %d (%v)", len(list.Items), err)
	}
}

// TestExplainWaypointInfrastructure: explain waypoint shows the class's
// defaults and the waypoint's own parameters merged as istiod merges them
// (the waypoint's over the class's), judged by the ServiceAccount and the
// Deployment the real istiod writes; and for a waypoint whose parameters
// are missing, istiod's own verdict. The class defaults only annotate
// ServiceAccounts, so the other tests' waypoints are not disturbed.
func TestExplainWaypointInfrastructure(t *testing.T) {
	ctx := context.Background()
	ns := env.Namespace(t, nil)
	cms := env.Kube.CoreV1().ConfigMaps(testenv.IstioNamespace)
	classDefaults := &corev1.ConfigMap{
		ObjectMeta: metav1.ObjectMeta{Name: "explain-class-defaults", Labels: map[string]string{"gateway.istio.io/defaults-for-class": "istio-waypoint"}},
		Data:       map[string]string{"serviceAccount": "metadata:\n  annotations:\n    a: class\n    b: class\n"},
	}
	if _, err := cms.Create(ctx, classDefaults, metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = cms.Delete(context.Background(), classDefaults.Name, metav1.DeleteOptions{}) })
	own := &corev1.ConfigMap{
		ObjectMeta: metav1.ObjectMeta{Name: "own-params", Namespace: ns},
		Data:       map[string]string{"serviceAccount": "metadata:\n  annotations:\n    a: own\n", "deployment": "spec:\n  replicas: 2\n"},
	}
	if _, err := env.Kube.CoreV1().ConfigMaps(ns).Create(ctx, own, metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	ok0(t, "apply", "-n", ns, "--name", "layered", "--parameters", "own-params")
	eventually(t, "istiod's ServiceAccount and Deployment from both layers", func(ctx context.Context) string {
		sa, err := env.Kube.CoreV1().ServiceAccounts(ns).Get(ctx, "layered", metav1.GetOptions{})
		if err != nil {
			return err.Error()
		}
		dep, _, _, err := istiodObjects(ctx, ns, "layered")
		if err != nil {
			return err.Error()
		}
		if sa.Annotations["a"] != "own" || sa.Annotations["b"] != "class" || dep.Spec.Replicas == nil || *dep.Spec.Replicas != 2 {
			return fmt.Sprintf("service account annotations %v, replicas %v", sa.Annotations, dep.Spec.Replicas)
		}
		return ""
	})
	var ex struct {
		Infrastructure struct {
			ClassDefaults, Parameters string
			Overlays                  map[string]string
		}
	}
	if err := json.Unmarshal([]byte(ok0(t, "explain", "waypoint", "layered", "-n", ns, "-o", "json")), &ex); err != nil {
		t.Fatal(err)
	}
	in := ex.Infrastructure
	var sa corev1.ServiceAccount
	var dep appsv1.Deployment
	_ = yaml.Unmarshal([]byte(in.Overlays["serviceAccount"]), &sa)
	_ = yaml.Unmarshal([]byte(in.Overlays["deployment"]), &dep)
	real, _ := env.Kube.CoreV1().ServiceAccounts(ns).Get(ctx, "layered", metav1.GetOptions{})
	if in.ClassDefaults != testenv.IstioNamespace+"/explain-class-defaults" || in.Parameters != ns+"/own-params" ||
		sa.Annotations["a"] != real.Annotations["a"] || sa.Annotations["b"] != real.Annotations["b"] || dep.Spec.Replicas == nil || *dep.Spec.Replicas != 2 {
		t.Errorf("explain waypoint says %+v; istiod wrote the ServiceAccount annotations %v", in, real.Annotations)
	}

	// A Gateway whose parameters are missing: explain carries istiod's verdict.
	broken, _ := render.Gateway(render.Request{Name: "broken", Namespace: ns, Infra: render.Infrastructure{Parameters: "missing"}})
	env.CreateGateway(t, broken)
	accepted := env.WaitForCondition(t, schema.GroupVersionResource{Group: gatewayv1.GroupName, Version: "v1", Resource: "gateways"}, ns, "broken", "Accepted", func(c metav1.Condition) bool { return c.Status == metav1.ConditionFalse })
	out := ok0(t, "explain", "waypoint", "broken", "-n", ns)
	if want := fmt.Sprintf("istiod: Accepted=False (%s): %s", accepted.Reason, accepted.Message); accepted.Reason != "InvalidParameters" || !strings.Contains(out, want) ||
		!strings.Contains(out, "own parameters: configmap "+ns+"/missing, which does not exist") {
		t.Errorf("explain of a waypoint with missing parameters, want %q:\n%s", want, out)
	}
}
