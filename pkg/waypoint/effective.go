package waypoint

import (
	"context"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/meta"
	gatewayv1 "sigs.k8s.io/gateway-api/apis/v1"

	"github.com/kubectl-waypoint/kubectl-waypoint/pkg/kube"
	"github.com/kubectl-waypoint/kubectl-waypoint/pkg/render"
)

// Infrastructure is what istiod lays over its template for one waypoint:
// the class's defaults, then the waypoint's own parameters, merged as
// istiod merges them, and istiod's verdict on the parameters.
type Infrastructure struct {
	// ClassDefaults is the defaults ConfigMap in effect, "namespace/name",
	// "" when the class has none.
	ClassDefaults string `json:"classDefaults,omitempty"`
	// ClassDefaultsForeign says kubectl-waypoint did not write them.
	ClassDefaultsForeign bool `json:"classDefaultsNotOurs,omitempty"`
	// Parameters is the ConfigMap the Gateway names, "namespace/name".
	Parameters string `json:"parameters,omitempty"`
	// ParametersMissing says that ConfigMap does not exist.
	ParametersMissing bool `json:"parametersMissing,omitempty"`
	// Overlays are the merged overlays by key, as YAML.
	Overlays map[string]string `json:"overlays,omitempty"`
	// Problem says why istiod cannot render the waypoint from them (a key
	// it does not read, an overlay it cannot merge), "" when none.
	Problem string `json:"problem,omitempty"`
	// Labels and Annotations are the Gateway's spec.infrastructure ones.
	Labels      map[string]string `json:"labels,omitempty"`
	Annotations map[string]string `json:"annotations,omitempty"`
	// Accepted is istiod's Accepted condition on the Gateway: its status,
	// reason and message ("InvalidParameters" when the ConfigMap is
	// missing or of the wrong kind).
	Accepted *Verdict `json:"accepted,omitempty"`
	// DefaultsUnknown says why the class's defaults could not be read.
	DefaultsUnknown string `json:"defaultsUnknown,omitempty"`
}

// Verdict is a condition as istiod wrote it.
type Verdict struct {
	Status  string `json:"status"`
	Reason  string `json:"reason"`
	Message string `json:"message,omitempty"`
}

// ReadInfrastructure reads what istiod lays over its template for gw: the
// defaults of its class in istiod's namespace ns (one list; a failure is
// kept in DefaultsUnknown, as RBAC often forbids it) and the ConfigMap its
// spec.infrastructure names (one read).
func ReadInfrastructure(ctx context.Context, c *kube.Clients, gw *gatewayv1.Gateway, ns string) (*Infrastructure, error) {
	out := &Infrastructure{}
	if in := gw.Spec.Infrastructure; in != nil {
		for k, v := range in.Labels {
			if out.Labels == nil {
				out.Labels = map[string]string{}
			}
			out.Labels[string(k)] = string(v)
		}
		for k, v := range in.Annotations {
			if out.Annotations == nil {
				out.Annotations = map[string]string{}
			}
			out.Annotations[string(k)] = string(v)
		}
	}
	if cond := meta.FindStatusCondition(gw.Status.Conditions, string(gatewayv1.GatewayConditionAccepted)); cond != nil {
		out.Accepted = &Verdict{Status: string(cond.Status), Reason: cond.Reason, Message: cond.Message}
	}
	var layers []map[string]string
	defaults, err := readClassDefaults(ctx, c, ns, string(gw.Spec.GatewayClassName))
	switch {
	case err != nil:
		out.DefaultsUnknown = err.Error()
	case defaults != nil:
		out.ClassDefaults = defaults.Namespace + "/" + defaults.Name
		layers = append(layers, defaults.Data)
		if !ours(defaults) {
			out.ClassDefaultsForeign = true
		}
	}
	if name := parametersOf(gw); name != "" {
		out.Parameters = gw.Namespace + "/" + name
		cm, err := getConfigMap(ctx, c, gw.Namespace, name)
		if err != nil {
			return nil, kube.Describe("read configmap "+out.Parameters, err)
		}
		if cm == nil {
			out.ParametersMissing = true
		} else {
			layers = append(layers, cm.Data)
		}
	}
	for _, layer := range layers {
		if err := render.CheckOverlays(layer); err != nil && out.Problem == "" {
			out.Problem = err.Error()
		}
	}
	if len(layers) > 0 && out.Problem == "" {
		if out.Overlays, err = render.MergeOverlays(layers...); err != nil {
			out.Problem = err.Error()
		}
	}
	return out, nil
}

// readClassDefaults is the defaults ConfigMap in effect for class, or nil.
func readClassDefaults(ctx context.Context, c *kube.Clients, ns, class string) (*corev1.ConfigMap, error) {
	d, err := readDefaultsConfigMaps(ctx, c, ns, class)
	if err != nil {
		return nil, err
	}
	return d.InEffect, nil
}
