package render

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"maps"
	"math"
	"slices"
	"strconv"
	"strings"

	appsv1 "k8s.io/api/apps/v1"
	autoscalingv2 "k8s.io/api/autoscaling/v2"
	corev1 "k8s.io/api/core/v1"
	policyv1 "k8s.io/api/policy/v1"
	"k8s.io/apimachinery/pkg/api/resource"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/util/intstr"
	"k8s.io/apimachinery/pkg/util/strategicpatch"
	"k8s.io/apimachinery/pkg/util/validation"
	gatewayv1 "sigs.k8s.io/gateway-api/apis/v1"
	"sigs.k8s.io/yaml"

	"github.com/kubectl-waypoint/kubectl-waypoint/pkg/istio"
)

// Infrastructure is what the waypoint's Deployment, autoscaler and
// disruption budget should be beyond istiod's template, as the flags of
// generate and apply say it. The zero value asks for nothing: the Gateway
// has no spec.infrastructure and no ConfigMap is rendered.
//
// istiod reads the overlays from the ConfigMap that the Gateway's
// spec.infrastructure.parametersRef names, under the keys deployment,
// horizontalPodAutoscaler and podDisruptionBudget, and strategic-merges each
// onto the object its waypoint template renders; the autoscaler and the
// budget are created only when their overlay exists
// (pilot/pkg/config/kube/gatewaycommon/deploymentcontroller.go, render and
// applyOverlay).
type Infrastructure struct {
	// Replicas of the Deployment; 0 means not asked for (istiod's one).
	Replicas int32
	// MinReplicas, MaxReplicas and CPUPercent make a HorizontalPodAutoscaler,
	// named as kubectl autoscale names them; MaxReplicas 0 means none.
	MinReplicas, MaxReplicas, CPUPercent int32
	// MinAvailable or MaxUnavailable (a number or a percentage, as kubectl
	// create pdb takes them) make a PodDisruptionBudget.
	MinAvailable, MaxUnavailable string
	// Requests and Limits of the proxy container, "cpu=100m,memory=128Mi".
	Requests, Limits string
	// NodeSelector of the pods, "key=value,key=value".
	NodeSelector string
	// Tolerations of the pods, each "key[=value][:effect]".
	Tolerations []string
	// Spread spreads the pods over "zone" or "node" (a topology spread
	// constraint that prefers, never blocks, scheduling).
	Spread string
	// ProxyImage replaces the image of the proxy container.
	ProxyImage string
	// Labels and Annotations, each "key=value", become
	// spec.infrastructure.labels and annotations: istiod puts them on the
	// Deployment, its pods, the Service and the ServiceAccount.
	Labels, Annotations []string
	// Parameters names a ConfigMap the user keeps: the Gateway refers to it
	// and nothing of it is rendered, changed or deleted.
	Parameters string
}

// Keys of the parameters ConfigMap that istiod reads (supportedOverlays in
// deploymentcontroller.go).
const (
	OverlayDeployment     = "deployment"
	OverlayService        = "service"
	OverlayServiceAccount = "serviceAccount"
	OverlayAutoscaler     = "horizontalPodAutoscaler"
	OverlayBudget         = "podDisruptionBudget"
)

// OverlayKeys are the keys istiod accepts in a parameters ConfigMap; any
// other key makes it refuse to render the waypoint at all.
var OverlayKeys = []string{OverlayDeployment, OverlayService, OverlayServiceAccount, OverlayAutoscaler, OverlayBudget}

// ProxyContainer is the name of the proxy container in istiod's waypoint
// template; the strategic merge finds the container by it.
const ProxyContainer = "istio-proxy"

// Spread values.
const (
	SpreadZone = "zone"
	SpreadNode = "node"
)

// spreadKeys are the topology keys of the Spread values.
var spreadKeys = map[string]string{SpreadZone: "topology.kubernetes.io/zone", SpreadNode: "kubernetes.io/hostname"}

// LabelManagedBy on a ConfigMap says the tool rendered it for a waypoint:
// the tool changes and deletes only ConfigMaps that carry it with
// ManagedByValue.
const (
	LabelManagedBy = "app.kubernetes.io/managed-by"
	ManagedByValue = "kubectl-waypoint"
)

// ParametersName is the name of the ConfigMap the tool renders for waypoint
// name.
func ParametersName(waypoint string) string { return waypoint + "-infrastructure" }

// Overlaid says whether the flags ask for an overlay, and so a ConfigMap.
func (in Infrastructure) Overlaid() bool { return in.overlaid() }

func (in Infrastructure) overlaid() bool {
	return in.Replicas != 0 || in.MaxReplicas != 0 || in.MinReplicas != 0 || in.CPUPercent != 0 ||
		in.MinAvailable != "" || in.MaxUnavailable != "" || in.Requests != "" || in.Limits != "" ||
		in.NodeSelector != "" || len(in.Tolerations) > 0 || in.Spread != "" || in.ProxyImage != ""
}

// IsZero says nothing was asked for.
func (in Infrastructure) IsZero() bool {
	return !in.overlaid() && len(in.Labels) == 0 && len(in.Annotations) == 0 && in.Parameters == ""
}

// Validate checks the flags without building anything; each error names the
// flag, the bad value and what is allowed.
func (in Infrastructure) Validate() error {
	if in.Parameters != "" {
		if in.overlaid() {
			return errors.New("--parameters names a ConfigMap you keep, and the sizing flags (--replicas, --requests, --min-available, ...) render one: use one or the other")
		}
		if msgs := validation.IsDNS1123Subdomain(in.Parameters); len(msgs) > 0 {
			return fmt.Errorf("invalid --parameters %q: %s", in.Parameters, msgs[0])
		}
	}
	if err := in.validateScale(); err != nil {
		return err
	}
	if _, err := in.budget(); err != nil {
		return err
	}
	if _, err := in.resources(); err != nil {
		return err
	}
	if _, err := ParseKeyValues("--node-selector", in.NodeSelector, true); err != nil {
		return err
	}
	if _, err := tolerations(in.Tolerations); err != nil {
		return err
	}
	if in.Spread != "" && spreadKeys[in.Spread] == "" {
		return fmt.Errorf("invalid --topology-spread %q: must be %s or %s", in.Spread, SpreadZone, SpreadNode)
	}
	if in.ProxyImage != "" && (strings.ContainsAny(in.ProxyImage, " \t\n") || strings.HasPrefix(in.ProxyImage, "-") || strings.Contains(in.ProxyImage, "://")) {
		return fmt.Errorf("invalid --proxy-image %q: give an image reference such as docker.io/istio/proxyv2:1.28.0", in.ProxyImage)
	}
	if _, err := infraMeta("--infra-label", in.Labels, 8, true); err != nil {
		return err
	}
	_, err := infraMeta("--infra-annotation", in.Annotations, 16, false)
	return err
}

func (in Infrastructure) validateScale() error {
	for _, f := range []struct {
		name string
		v    int32
	}{{"--replicas", in.Replicas}, {"--min-replicas", in.MinReplicas}, {"--max-replicas", in.MaxReplicas}, {"--cpu-percent", in.CPUPercent}} {
		if f.v < 0 {
			return fmt.Errorf("invalid %s %d: must be at least 1", f.name, f.v)
		}
	}
	autoscaled := in.MaxReplicas != 0 || in.MinReplicas != 0 || in.CPUPercent != 0
	switch {
	case autoscaled && in.MaxReplicas == 0:
		return errors.New("--min-replicas and --cpu-percent need --max-replicas, the autoscaler's upper bound (as kubectl autoscale --max)")
	case autoscaled && in.Replicas != 0:
		return errors.New("--replicas and --max-replicas both set the replica count: with an autoscaler it owns the count; use one of them")
	case in.MinReplicas > in.MaxReplicas:
		return fmt.Errorf("--min-replicas %d is above --max-replicas %d", in.MinReplicas, in.MaxReplicas)
	}
	return nil
}

// floor is the fewest replicas the waypoint runs with these flags: the
// autoscaler's minimum (1 when not given), --replicas, or istiod's one.
func (in Infrastructure) floor() int32 {
	switch {
	case in.MinReplicas != 0:
		return in.MinReplicas
	case in.Replicas != 0:
		return in.Replicas
	}
	return 1
}

// budget parses the disruption budget and refuses one that lets no pod be
// evicted at the lowest replica count: every node drain would wait for it
// forever.
func (in Infrastructure) budget() (map[string]any, error) {
	if in.MinAvailable != "" && in.MaxUnavailable != "" {
		return nil, errors.New("--min-available and --max-unavailable are two forms of one budget: use one of them")
	}
	flag, value, key := "--min-available", in.MinAvailable, "minAvailable"
	if in.MaxUnavailable != "" {
		flag, value, key = "--max-unavailable", in.MaxUnavailable, "maxUnavailable"
	}
	if value == "" {
		return nil, nil
	}
	v, n, err := intOrPercent(flag, value)
	if err != nil {
		return nil, err
	}
	floor := in.floor()
	// The disruption controller rounds a percentage up, for both forms.
	scaled := n
	if v.Type == intstr.String {
		scaled = int32(math.Ceil(float64(n) * float64(floor) / 100))
	}
	evictable := scaled
	if key == "minAvailable" {
		evictable = floor - scaled
	}
	if evictable <= 0 {
		return nil, fmt.Errorf("%s %s lets no waypoint pod be evicted when %d run%s: node drains would wait forever; ask for more replicas (--replicas or --min-replicas) or a smaller budget",
			flag, value, floor, map[bool]string{true: "s", false: ""}[floor == 1])
	}
	return map[string]any{key: v}, nil
}

func intOrPercent(flag, value string) (intstr.IntOrString, int32, error) {
	bad := fmt.Errorf("invalid %s %q: give a number of pods (2) or a percentage (50%%)", flag, value)
	if p, ok := strings.CutSuffix(value, "%"); ok {
		n, err := strconv.ParseInt(p, 10, 32)
		if err != nil || n < 0 || n > 100 {
			return intstr.IntOrString{}, 0, bad
		}
		return intstr.FromString(value), int32(n), nil
	}
	n, err := strconv.ParseInt(value, 10, 32)
	if err != nil || n < 0 {
		return intstr.IntOrString{}, 0, bad
	}
	return intstr.FromInt32(int32(n)), int32(n), nil
}

// resources parses --requests and --limits and refuses a request above its
// limit, which the API server would refuse in the Deployment istiod writes.
func (in Infrastructure) resources() (map[string]any, error) {
	req, err := resourceList("--requests", in.Requests)
	if err != nil {
		return nil, err
	}
	lim, err := resourceList("--limits", in.Limits)
	if err != nil {
		return nil, err
	}
	for _, name := range slices.Sorted(maps.Keys(req)) {
		q := req[name]
		if l, ok := lim[name]; ok && q.Cmp(l) > 0 {
			return nil, fmt.Errorf("--requests %s=%s is above --limits %s=%s", name, q.String(), name, l.String())
		}
	}
	out := map[string]any{}
	if len(req) > 0 {
		out["requests"] = req
	}
	if len(lim) > 0 {
		out["limits"] = lim
	}
	return out, nil
}

func resourceList(flag, s string) (corev1.ResourceList, error) {
	kv, err := ParseKeyValues(flag, s, false)
	if err != nil || len(kv) == 0 {
		return nil, err
	}
	out := corev1.ResourceList{}
	for name, v := range kv {
		standard := name == "cpu" || name == "memory" || name == "ephemeral-storage" || strings.HasPrefix(name, "hugepages-")
		if !standard && (!strings.Contains(name, "/") || len(validation.IsQualifiedName(name)) > 0) {
			return nil, fmt.Errorf("invalid %s resource %q: use cpu, memory, ephemeral-storage or an extended resource such as example.com/gpu", flag, name)
		}
		q, err := resource.ParseQuantity(v)
		if err != nil || q.Sign() < 0 {
			return nil, fmt.Errorf("invalid %s %s=%s: not a quantity (such as 100m, 0.5, 128Mi, 1Gi)", flag, name, v)
		}
		out[corev1.ResourceName(name)] = q
	}
	return out, nil
}

// ParseKeyValues parses "k=v,k=v" (flag names the flag in errors). With
// labels, keys and values must be valid label keys and values.
func ParseKeyValues(flag, s string, labels bool) (map[string]string, error) {
	if s == "" {
		return nil, nil
	}
	out := map[string]string{}
	for _, pair := range strings.Split(s, ",") {
		k, v, ok := strings.Cut(pair, "=")
		if !ok || k == "" || strings.Contains(v, "=") {
			return nil, fmt.Errorf("invalid %s %q: write key=value pairs separated by commas", flag, s)
		}
		if _, dup := out[k]; dup {
			return nil, fmt.Errorf("invalid %s %q: key %s is given twice", flag, s, k)
		}
		if labels {
			if msgs := validation.IsQualifiedName(k); len(msgs) > 0 {
				return nil, fmt.Errorf("invalid %s key %q: %s", flag, k, msgs[0])
			}
			if msgs := validation.IsValidLabelValue(v); len(msgs) > 0 {
				return nil, fmt.Errorf("invalid %s value %q for %s: %s", flag, v, k, msgs[0])
			}
		}
		out[k] = v
	}
	return out, nil
}

// tolerations parses "key[=value][:effect]" (kubectl taint's form): without
// a value the toleration matches any value of the key, without an effect
// every effect.
func tolerations(specs []string) ([]map[string]any, error) {
	var out []map[string]any
	for _, s := range specs {
		rest, effect, hasEffect := strings.Cut(s, ":")
		key, value, hasValue := strings.Cut(rest, "=")
		bad := func(why string) error {
			return fmt.Errorf("invalid --toleration %q: %s; write key[=value][:effect], as kubectl taint does (dedicated=waypoints:NoSchedule)", s, why)
		}
		if msgs := validation.IsQualifiedName(key); len(msgs) > 0 {
			return nil, bad("key: " + msgs[0])
		}
		t := map[string]any{"key": key}
		if hasValue {
			if msgs := validation.IsValidLabelValue(value); len(msgs) > 0 {
				return nil, bad("value: " + msgs[0])
			}
			t["operator"], t["value"] = string(corev1.TolerationOpEqual), value
		} else {
			t["operator"] = string(corev1.TolerationOpExists)
		}
		if hasEffect {
			switch corev1.TaintEffect(effect) {
			case corev1.TaintEffectNoSchedule, corev1.TaintEffectPreferNoSchedule, corev1.TaintEffectNoExecute:
				t["effect"] = effect
			default:
				return nil, bad("effect must be NoSchedule, PreferNoSchedule or NoExecute")
			}
		}
		out = append(out, t)
	}
	return out, nil
}

// infraMeta parses the key=value flags of spec.infrastructure. Keys under
// gateway.networking.k8s.io/ are refused: istiod drops them.
func infraMeta(flag string, specs []string, most int, labels bool) (map[string]string, error) {
	out := map[string]string{}
	for _, s := range specs {
		kv, err := ParseKeyValues(flag, s, labels)
		if err != nil {
			return nil, err
		}
		for k, v := range kv {
			if !labels {
				if msgs := validation.IsQualifiedName(k); len(msgs) > 0 {
					return nil, fmt.Errorf("invalid %s key %q: %s", flag, k, msgs[0])
				}
			}
			if strings.HasPrefix(k, "gateway.networking.k8s.io/") {
				return nil, fmt.Errorf("invalid %s key %q: istiod drops keys under gateway.networking.k8s.io/ and sets its own", flag, k)
			}
			out[k] = v
		}
	}
	if len(out) > most {
		return nil, fmt.Errorf("too many %s: the Gateway API allows at most %d, got %d", flag, most, len(out))
	}
	return out, nil
}

// infrastructure is the Gateway's spec.infrastructure for the flags, or nil.
func (in Infrastructure) infrastructure(waypoint string) *gatewayv1.GatewayInfrastructure {
	if in.IsZero() {
		return nil
	}
	out := &gatewayv1.GatewayInfrastructure{}
	labels, _ := infraMeta("", in.Labels, math.MaxInt, true)
	for k, v := range labels {
		if out.Labels == nil {
			out.Labels = map[gatewayv1.LabelKey]gatewayv1.LabelValue{}
		}
		out.Labels[gatewayv1.LabelKey(k)] = gatewayv1.LabelValue(v)
	}
	annotations, _ := infraMeta("", in.Annotations, math.MaxInt, false)
	for k, v := range annotations {
		if out.Annotations == nil {
			out.Annotations = map[gatewayv1.AnnotationKey]gatewayv1.AnnotationValue{}
		}
		out.Annotations[gatewayv1.AnnotationKey(k)] = gatewayv1.AnnotationValue(v)
	}
	name := in.Parameters
	if in.overlaid() {
		name = ParametersName(waypoint)
	}
	if name != "" {
		out.ParametersRef = &gatewayv1.LocalParametersReference{Group: "", Kind: "ConfigMap", Name: name}
	}
	return out
}

// Overlays are the ConfigMap's data for the flags: one strategic-merge
// overlay per key, as YAML. It is empty when no sizing flag is given.
// waypoint "" renders the class-wide defaults of every waypoint.
func (in Infrastructure) Overlays(waypoint string) (map[string]string, error) {
	if err := in.Validate(); err != nil {
		return nil, err
	}
	data := map[string]string{}
	deployment, err := in.deploymentOverlay(waypoint)
	if err != nil {
		return nil, err
	}
	if deployment != nil {
		if data[OverlayDeployment], err = yamlString(deployment); err != nil {
			return nil, err
		}
	}
	if in.MaxReplicas != 0 {
		spec := map[string]any{"maxReplicas": in.MaxReplicas}
		if in.MinReplicas != 0 {
			spec["minReplicas"] = in.MinReplicas
		}
		if in.CPUPercent != 0 {
			spec["metrics"] = []any{map[string]any{
				"type": "Resource",
				"resource": map[string]any{
					"name":   "cpu",
					"target": map[string]any{"type": "Utilization", "averageUtilization": in.CPUPercent},
				},
			}}
		}
		if data[OverlayAutoscaler], err = yamlString(map[string]any{"spec": spec}); err != nil {
			return nil, err
		}
	}
	budget, _ := in.budget()
	if budget != nil {
		if data[OverlayBudget], err = yamlString(map[string]any{"spec": budget}); err != nil {
			return nil, err
		}
	}
	return data, nil
}

// deploymentOverlay is the Deployment's overlay, or nil when no flag
// changes the Deployment.
func (in Infrastructure) deploymentOverlay(waypoint string) (map[string]any, error) {
	pod := map[string]any{}
	container := map[string]any{}
	res, err := in.resources()
	if err != nil {
		return nil, err
	}
	if len(res) > 0 {
		container["resources"] = res
	}
	if in.ProxyImage != "" {
		container["image"] = in.ProxyImage
	}
	if len(container) > 0 {
		container["name"] = ProxyContainer
		pod["containers"] = []any{container}
	}
	if sel, _ := ParseKeyValues("", in.NodeSelector, true); len(sel) > 0 {
		pod["nodeSelector"] = sel
	}
	if tol, _ := tolerations(in.Tolerations); len(tol) > 0 {
		pod["tolerations"] = tol
	}
	if in.Spread != "" {
		spread := map[string]any{
			"maxSkew":           1,
			"topologyKey":       spreadKeys[in.Spread],
			"whenUnsatisfiable": string(corev1.ScheduleAnyway),
			"labelSelector":     map[string]any{"matchLabels": map[string]any{istio.LabelGatewayName: waypoint}},
		}
		if waypoint == "" {
			// Class-wide defaults: each waypoint's pods are spread among
			// themselves, by the value of their own gateway-name label.
			spread["labelSelector"] = map[string]any{"matchExpressions": []any{map[string]any{"key": istio.LabelGatewayName, "operator": "Exists"}}}
			spread["matchLabelKeys"] = []any{istio.LabelGatewayName}
		}
		pod["topologySpreadConstraints"] = []any{spread}
	}
	spec := map[string]any{}
	if in.Replicas != 0 {
		spec["replicas"] = in.Replicas
	}
	if len(pod) > 0 {
		spec["template"] = map[string]any{"spec": pod}
	}
	if len(spec) == 0 {
		return nil, nil
	}
	return map[string]any{"spec": spec}, nil
}

func yamlString(v any) (string, error) {
	b, err := yaml.Marshal(v)
	return string(b), err
}

// ConfigMap is the parameters ConfigMap of the request's waypoint, or nil
// when no sizing flag asks for one (none is rendered for --parameters: that
// ConfigMap is the user's).
func ConfigMap(r Request) (*corev1.ConfigMap, error) {
	if err := r.Validate(); err != nil {
		return nil, err
	}
	if !r.Infra.overlaid() {
		return nil, nil
	}
	data, err := r.Infra.Overlays(r.WaypointName())
	if err != nil {
		return nil, err
	}
	return &corev1.ConfigMap{
		TypeMeta: metav1.TypeMeta{APIVersion: "v1", Kind: "ConfigMap"},
		ObjectMeta: metav1.ObjectMeta{
			Name:      ParametersName(r.WaypointName()),
			Namespace: r.Namespace,
			Labels:    map[string]string{LabelManagedBy: ManagedByValue},
		},
		Data: data,
	}, nil
}

// overlayTypes are the objects istiod merges each overlay key onto.
var overlayTypes = map[string]func() any{
	OverlayDeployment:     func() any { return &appsv1.Deployment{} },
	OverlayService:        func() any { return &corev1.Service{} },
	OverlayServiceAccount: func() any { return &corev1.ServiceAccount{} },
	OverlayAutoscaler:     func() any { return &autoscalingv2.HorizontalPodAutoscaler{} },
	OverlayBudget:         func() any { return &policyv1.PodDisruptionBudget{} },
}

// forbiddenMetadata are the metadata fields an overlay may not change:
// istiod refuses to render the waypoint ("illegal metadata change",
// applyOverlay in deploymentcontroller.go).
var forbiddenMetadata = []string{"name", "generateName", "namespace", "uid", "resourceVersion", "generation",
	"creationTimestamp", "deletionTimestamp", "deletionGracePeriodSeconds", "ownerReferences", "finalizers", "managedFields"}

// CheckOverlays refuses parameters that istiod could not render a waypoint
// with: a key it does not know (it then renders nothing at all), an
// overlay that is not a YAML object, one whose strategic merge fails or
// gives an object of the wrong shape, and one that changes metadata istiod
// forbids. istiod only logs these; the waypoint's Deployment silently stays
// as it was.
func CheckOverlays(data map[string]string) error {
	for _, key := range slices.Sorted(maps.Keys(data)) {
		newObj, ok := overlayTypes[key]
		if !ok {
			return fmt.Errorf("key %q is not one istiod reads (%s): istiod would render nothing for the waypoint", key, strings.Join(OverlayKeys, ", "))
		}
		var patch map[string]any
		if err := yaml.Unmarshal([]byte(data[key]), &patch); err != nil {
			return fmt.Errorf("key %s is not a YAML object: %v", key, firstLine(err))
		}
		if meta, ok := patch["metadata"].(map[string]any); ok {
			for _, f := range forbiddenMetadata {
				if _, set := meta[f]; set {
					return fmt.Errorf("key %s sets metadata.%s, which istiod forbids an overlay to change", key, f)
				}
			}
		}
		obj := newObj()
		schema, err := strategicpatch.NewPatchMetaFromStruct(obj)
		if err != nil {
			return err
		}
		merged, err := strategicpatch.StrategicMergeMapPatchUsingLookupPatchMeta(map[string]any{}, patch, schema)
		if err != nil {
			return fmt.Errorf("key %s: strategic merge fails: %v", key, firstLine(err))
		}
		b, err := json.Marshal(merged)
		if err == nil {
			// Strict: a misspelt field ("replica") would otherwise be
			// dropped without a word, by us and by the API server alike.
			dec := json.NewDecoder(bytes.NewReader(b))
			dec.DisallowUnknownFields()
			err = dec.Decode(obj)
		}
		if err != nil {
			return fmt.Errorf("key %s does not fit a %T: %v", key, obj, firstLine(err))
		}
	}
	return nil
}

func firstLine(err error) string {
	s, _, _ := strings.Cut(err.Error(), "\n")
	return s
}

// MergeOverlays merges parameters as istiod applies them, the first layer
// first (the class defaults, then the Gateway's own): for each key, every
// layer's overlay is strategic-merged in turn onto an empty object of the
// key's kind. The result holds, per key, what the layers set together, as
// YAML; it is what istiod lays over its template.
func MergeOverlays(layers ...map[string]string) (map[string]string, error) {
	out := map[string]string{}
	for _, key := range OverlayKeys {
		var merged map[string]any
		for _, layer := range layers {
			overlay, ok := layer[key]
			if !ok {
				continue
			}
			var patch map[string]any
			if err := yaml.Unmarshal([]byte(overlay), &patch); err != nil {
				return nil, fmt.Errorf("key %s is not a YAML object: %v", key, firstLine(err))
			}
			schema, err := strategicpatch.NewPatchMetaFromStruct(overlayTypes[key]())
			if err != nil {
				return nil, err
			}
			if merged == nil {
				merged = map[string]any{}
			}
			if merged, err = strategicpatch.StrategicMergeMapPatchUsingLookupPatchMeta(merged, patch, schema); err != nil {
				return nil, fmt.Errorf("key %s: strategic merge fails: %v", key, firstLine(err))
			}
		}
		if merged == nil {
			continue
		}
		s, err := yamlString(merged)
		if err != nil {
			return nil, err
		}
		out[key] = s
	}
	return out, nil
}
