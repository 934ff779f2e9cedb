package render

import (
	"encoding/json"
	"strings"
	"testing"

	appsv1 "k8s.io/api/apps/v1"
	autoscalingv2 "k8s.io/api/autoscaling/v2"
	corev1 "k8s.io/api/core/v1"
	policyv1 "k8s.io/api/policy/v1"
	"k8s.io/apimachinery/pkg/util/strategicpatch"
	"sigs.k8s.io/yaml"
)

// infraRefusals are flag values the renderer refuses, each with a part of
// the one line it must say.
var infraRefusals = []struct {
	name  string
	infra Infrastructure
	says  string
}{
	{"negative replicas", Infrastructure{Replicas: -1}, "--replicas -1"},
	{"min without max", Infrastructure{MinReplicas: 2}, "need --max-replicas"},
	{"cpu without max", Infrastructure{CPUPercent: 80}, "need --max-replicas"},
	{"min above max", Infrastructure{MinReplicas: 5, MaxReplicas: 3}, "--min-replicas 5 is above --max-replicas 3"},
	{"replicas with autoscaler", Infrastructure{Replicas: 2, MaxReplicas: 4}, "use one of them"},
	{"negative max", Infrastructure{MaxReplicas: -3}, "--max-replicas -3"},
	{"both budgets", Infrastructure{Replicas: 3, MinAvailable: "1", MaxUnavailable: "1"}, "two forms of one budget"},
	{"budget not a number", Infrastructure{Replicas: 3, MinAvailable: "two"}, `--min-available "two"`},
	{"budget above 100%", Infrastructure{Replicas: 3, MaxUnavailable: "150%"}, `--max-unavailable "150%"`},
	{"budget blocks drains at one replica", Infrastructure{MinAvailable: "1"}, "lets no waypoint pod be evicted when 1 runs"},
	{"budget equal to replicas", Infrastructure{Replicas: 2, MinAvailable: "2"}, "when 2 run"},
	{"budget above the autoscaler floor", Infrastructure{MinReplicas: 2, MaxReplicas: 6, MinAvailable: "100%"}, "when 2 run"},
	{"no unavailable pod", Infrastructure{Replicas: 3, MaxUnavailable: "0"}, "lets no waypoint pod be evicted"},
	{"requests without equals", Infrastructure{Requests: "cpu"}, "key=value pairs"},
	{"bad quantity", Infrastructure{Requests: "cpu=lots"}, "--requests cpu=lots: not a quantity"},
	{"unknown resource", Infrastructure{Limits: "gpu=1"}, `--limits resource "gpu"`},
	{"request above limit", Infrastructure{Requests: "memory=1Gi", Limits: "memory=512Mi"}, "--requests memory=1Gi is above --limits memory=512Mi"},
	{"repeated resource", Infrastructure{Requests: "cpu=1,cpu=2"}, "key cpu is given twice"},
	{"bad node selector", Infrastructure{NodeSelector: "pool==waypoints"}, "--node-selector"},
	{"bad node selector key", Infrastructure{NodeSelector: "-pool=a"}, `--node-selector key "-pool"`},
	{"bad toleration effect", Infrastructure{Tolerations: []string{"dedicated=waypoints:Never"}}, "effect must be NoSchedule"},
	{"bad toleration key", Infrastructure{Tolerations: []string{"=x:NoSchedule"}}, `--toleration "=x:NoSchedule"`},
	{"unknown spread", Infrastructure{Spread: "rack"}, `--topology-spread "rack"`},
	{"bad image", Infrastructure{ProxyImage: "istio/proxy v1"}, "--proxy-image"},
	{"reserved infra label", Infrastructure{Labels: []string{"gateway.networking.k8s.io/gateway-name=x"}}, "istiod drops keys"},
	{"bad infra label value", Infrastructure{Labels: []string{"team=a b"}}, "--infra-label value"},
	{"too many infra labels", Infrastructure{Labels: []string{"a=1,b=2,c=3,d=4,e=5,f=6,g=7,h=8,i=9"}}, "at most 8"},
	{"bad infra annotation key", Infrastructure{Annotations: []string{"a b=c"}}, "--infra-annotation key"},
	{"parameters with sizing", Infrastructure{Parameters: "mine", Replicas: 2}, "use one or the other"},
	{"bad parameters name", Infrastructure{Parameters: "Mine"}, `--parameters "Mine"`},
}

func TestInfrastructureRefusals(t *testing.T) {
	for _, c := range infraRefusals {
		t.Run(c.name, func(t *testing.T) {
			err := c.infra.Validate()
			if err == nil {
				t.Fatalf("%+v accepted", c.infra)
			}
			if !strings.Contains(err.Error(), c.says) || strings.Contains(err.Error(), "\n") {
				t.Errorf("error %q: want one line containing %q", err, c.says)
			}
			if _, err := ConfigMap(Request{Namespace: "ns", Infra: c.infra}); err == nil {
				t.Error("ConfigMap rendered for refused flags")
			}
		})
	}
}

// merge strategic-merges overlay onto base as istiod's applyOverlay does
// (by the type's patch strategy) and returns the result.
func merge[T any](t *testing.T, base T, overlay string) T {
	t.Helper()
	meta, err := strategicpatch.NewPatchMetaFromStruct(base)
	if err != nil {
		t.Fatal(err)
	}
	var patch map[string]any
	if err := yaml.Unmarshal([]byte(overlay), &patch); err != nil {
		t.Fatalf("overlay is not YAML: %v\n%s", err, overlay)
	}
	b, _ := json.Marshal(base)
	var orig map[string]any
	_ = json.Unmarshal(b, &orig)
	out, err := strategicpatch.StrategicMergeMapPatchUsingLookupPatchMeta(orig, patch, meta)
	if err != nil {
		t.Fatalf("strategic merge: %v", err)
	}
	b, _ = json.Marshal(out)
	var res T
	if err := json.Unmarshal(b, &res); err != nil {
		t.Fatal(err)
	}
	return res
}

func TestOverlaysMergeAsAsked(t *testing.T) {
	in := Infrastructure{
		Replicas: 3, MinAvailable: "2",
		Requests: "cpu=200m,memory=256Mi", Limits: "cpu=1,memory=512Mi",
		NodeSelector: "pool=waypoints", Tolerations: []string{"dedicated=waypoints:NoSchedule", "spot"},
		Spread: SpreadZone, ProxyImage: "example.com/proxyv2:test",
	}
	data, err := in.Overlays("w")
	if err != nil {
		t.Fatal(err)
	}
	if _, ok := data[OverlayAutoscaler]; ok {
		t.Errorf("autoscaler overlay without --max-replicas: %q", data[OverlayAutoscaler])
	}
	base := appsv1.Deployment{}
	base.Spec.Template.Spec.Containers = []corev1.Container{{Name: ProxyContainer, Image: "istio/proxyv2", Args: []string{"proxy"}}, {Name: "other"}}
	dep := merge(t, &base, data[OverlayDeployment])
	c := dep.Spec.Template.Spec.Containers
	if len(c) != 2 || c[0].Image != "example.com/proxyv2:test" || len(c[0].Args) != 1 || c[1].Name != "other" {
		t.Fatalf("containers = %+v", c)
	}
	if got := c[0].Resources.Requests.Cpu().String(); got != "200m" {
		t.Errorf("cpu request = %s", got)
	}
	if got := c[0].Resources.Limits.Memory().String(); got != "512Mi" {
		t.Errorf("memory limit = %s", got)
	}
	if dep.Spec.Replicas == nil || *dep.Spec.Replicas != 3 {
		t.Errorf("replicas = %v", dep.Spec.Replicas)
	}
	pod := dep.Spec.Template.Spec
	if pod.NodeSelector["pool"] != "waypoints" || len(pod.Tolerations) != 2 || pod.Tolerations[1].Operator != corev1.TolerationOpExists {
		t.Errorf("placement = %v %+v", pod.NodeSelector, pod.Tolerations)
	}
	if len(pod.TopologySpreadConstraints) != 1 || pod.TopologySpreadConstraints[0].TopologyKey != "topology.kubernetes.io/zone" ||
		pod.TopologySpreadConstraints[0].LabelSelector.MatchLabels["gateway.networking.k8s.io/gateway-name"] != "w" {
		t.Errorf("spread = %+v", pod.TopologySpreadConstraints)
	}
	pdb := merge(t, &policyv1.PodDisruptionBudget{}, data[OverlayBudget])
	if pdb.Spec.MinAvailable == nil || pdb.Spec.MinAvailable.IntValue() != 2 {
		t.Errorf("budget = %+v", pdb.Spec)
	}

	auto := Infrastructure{MinReplicas: 2, MaxReplicas: 5, CPUPercent: 70, MaxUnavailable: "50%"}
	data, err = auto.Overlays("w")
	if err != nil {
		t.Fatal(err)
	}
	if _, ok := data[OverlayDeployment]; ok {
		t.Errorf("deployment overlay without a deployment flag: %q", data[OverlayDeployment])
	}
	hpa := merge(t, &autoscalingv2.HorizontalPodAutoscaler{Spec: autoscalingv2.HorizontalPodAutoscalerSpec{MaxReplicas: 1}}, data[OverlayAutoscaler])
	if hpa.Spec.MinReplicas == nil || *hpa.Spec.MinReplicas != 2 || hpa.Spec.MaxReplicas != 5 || len(hpa.Spec.Metrics) != 1 ||
		*hpa.Spec.Metrics[0].Resource.Target.AverageUtilization != 70 {
		t.Errorf("autoscaler = %+v", hpa.Spec)
	}
	pdb = merge(t, &policyv1.PodDisruptionBudget{}, data[OverlayBudget])
	if pdb.Spec.MaxUnavailable == nil || pdb.Spec.MaxUnavailable.String() != "50%" {
		t.Errorf("budget = %+v", pdb.Spec)
	}
}

func TestGatewayInfrastructure(t *testing.T) {
	gw, err := Gateway(Request{Name: "w", Namespace: "ns", Infra: Infrastructure{Replicas: 2, Labels: []string{"team=payments"}}})
	if err != nil {
		t.Fatal(err)
	}
	in := gw.Spec.Infrastructure
	if in == nil || in.ParametersRef == nil || in.ParametersRef.Name != "w-infrastructure" || in.ParametersRef.Kind != "ConfigMap" || in.Labels["team"] != "payments" {
		t.Fatalf("infrastructure = %+v", in)
	}
	cm, err := ConfigMap(Request{Name: "w", Namespace: "ns", Infra: Infrastructure{Replicas: 2}})
	if err != nil || cm == nil || cm.Name != "w-infrastructure" || cm.Namespace != "ns" || cm.Labels[LabelManagedBy] != ManagedByValue {
		t.Fatalf("configmap = %+v, %v", cm, err)
	}
	// Labels alone, or a ConfigMap of the user's: no ConfigMap of ours.
	for _, in := range []Infrastructure{{Labels: []string{"a=b"}}, {Parameters: "mine"}} {
		if cm, err := ConfigMap(Request{Infra: in}); cm != nil || err != nil {
			t.Errorf("%+v: configmap %v, %v", in, cm, err)
		}
	}
	gw, _ = Gateway(Request{Infra: Infrastructure{Parameters: "mine"}})
	if gw.Spec.Infrastructure.ParametersRef.Name != "mine" {
		t.Errorf("parametersRef = %+v", gw.Spec.Infrastructure.ParametersRef)
	}
	// Without the flags, no spec.infrastructure: the output stays istioctl's.
	gw, _ = Gateway(Request{})
	if gw.Spec.Infrastructure != nil {
		t.Errorf("infrastructure without flags: %+v", gw.Spec.Infrastructure)
	}
}

func TestCheckOverlays(t *testing.T) {
	ok := []map[string]string{
		nil,
		{OverlayDeployment: "spec:\n  replicas: 2\n"},
		{OverlayService: "metadata:\n  annotations:\n    a: b\n", OverlayBudget: "spec:\n  maxUnavailable: 1\n"},
	}
	for _, data := range ok {
		if err := CheckOverlays(data); err != nil {
			t.Errorf("%v refused: %v", data, err)
		}
	}
	// Our own overlays pass the check istiod's rendering makes.
	data, _ := Infrastructure{MinReplicas: 2, MaxReplicas: 4, CPUPercent: 60, MinAvailable: "1", Requests: "cpu=1", Spread: SpreadNode, Tolerations: []string{"a"}}.Overlays("w")
	if err := CheckOverlays(data); err != nil {
		t.Errorf("our own overlays refused: %v", err)
	}
	bad := []struct {
		data map[string]string
		says string
	}{
		{map[string]string{"deploymentt": "spec: {}"}, `key "deploymentt" is not one istiod reads`},
		{map[string]string{OverlayDeployment: "- a\n- b\n"}, "not a YAML object"},
		{map[string]string{OverlayDeployment: "metadata:\n  name: other\n"}, "sets metadata.name"},
		{map[string]string{OverlayBudget: "metadata:\n  ownerReferences: []\n"}, "sets metadata.ownerReferences"},
		{map[string]string{OverlayDeployment: "spec:\n  replicas: three\n"}, "does not fit"},
		{map[string]string{OverlayDeployment: "spec:\n  replica: 3\n"}, "does not fit"},
	}
	for _, c := range bad {
		err := CheckOverlays(c.data)
		if err == nil || !strings.Contains(err.Error(), c.says) {
			t.Errorf("%v: error %v, want %q", c.data, err, c.says)
		}
	}
}

// TestMergeOverlays: the Gateway's own overlay wins over the class's where
// both set a field, and each keeps what only it sets, containers merged
// by name.
func TestMergeOverlays(t *testing.T) {
	class, _ := Infrastructure{Replicas: 2, Requests: "cpu=300m", MaxUnavailable: "1"}.Overlays("")
	own, _ := Infrastructure{Replicas: 3, ProxyImage: "example.com/proxy:1"}.Overlays("w")
	got, err := MergeOverlays(class, own)
	if err != nil {
		t.Fatal(err)
	}
	dep := merge(t, &appsv1.Deployment{}, got[OverlayDeployment])
	c := dep.Spec.Template.Spec.Containers
	if *dep.Spec.Replicas != 3 || len(c) != 1 || c[0].Image != "example.com/proxy:1" || c[0].Resources.Requests.Cpu().String() != "300m" {
		t.Errorf("merged deployment overlay:\n%s", got[OverlayDeployment])
	}
	if got[OverlayBudget] != "spec:\n  maxUnavailable: 1\n" {
		t.Errorf("merged budget %q", got[OverlayBudget])
	}
	if _, ok := got[OverlayAutoscaler]; ok {
		t.Errorf("an autoscaler no layer asked for: %q", got[OverlayAutoscaler])
	}
}
