package mesh

import (
	"context"

	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/labels"
	"k8s.io/client-go/kubernetes"
	"sigs.k8s.io/yaml"
)

// The visibilities of a ServiceEntry under the mesh config's
// serviceEntryVisibility.
const (
	VisibilityPublic    = "PUBLIC"
	VisibilityNamespace = "NAMESPACE"
	VisibilityNone      = "NONE"
)

// Where istiod's mesh config lives.
const (
	MeshConfigNamespace = "istio-system"
	MeshConfigMap       = "istio"
	MeshConfigKey       = "mesh"
)

// Visibility is the serviceEntryVisibility of istiod's mesh config: it
// decides, from the labels of a ServiceEntry's namespace, whether the
// ServiceEntry is PUBLIC, NAMESPACE (it may not bind to a waypoint in
// another namespace: CrossNamespaceWaypointForbidden) or NONE (istiod leaves
// it alone). The zero value, like a mesh config without the setting, makes
// every ServiceEntry PUBLIC.
type Visibility struct {
	Configured bool
	Default    string
	Policies   []VisibilityPolicy
}

// VisibilityPolicy is one policy: the first whose rules all match wins.
type VisibilityPolicy struct {
	Visibility string
	// Selectors are the namespaceSelector rules; nil for a rule that does
	// not parse or is not a namespace selector: it never matches.
	Selectors []labels.Selector
}

type meshConfigDoc struct {
	ServiceEntryVisibility *struct {
		DefaultVisibility string `json:"defaultVisibility"`
		Policies          []struct {
			Visibility    string `json:"visibility"`
			MatchingRules []struct {
				NamespaceSelector *metav1.LabelSelector `json:"namespaceSelector"`
			} `json:"matchingRules"`
		} `json:"policies"`
	} `json:"serviceEntryVisibility"`
}

// ParseVisibility reads serviceEntryVisibility from the YAML of a mesh config.
func ParseVisibility(meshYAML string) (Visibility, error) {
	var doc meshConfigDoc
	if err := yaml.Unmarshal([]byte(meshYAML), &doc); err != nil {
		return Visibility{}, err
	}
	sev := doc.ServiceEntryVisibility
	if sev == nil {
		return Visibility{}, nil
	}
	v := Visibility{Configured: true, Default: sev.DefaultVisibility}
	for _, p := range sev.Policies {
		vp := VisibilityPolicy{Visibility: p.Visibility}
		for _, r := range p.MatchingRules {
			var sel labels.Selector
			if r.NamespaceSelector != nil {
				sel, _ = metav1.LabelSelectorAsSelector(r.NamespaceSelector)
			}
			vp.Selectors = append(vp.Selectors, sel)
		}
		v.Policies = append(v.Policies, vp)
	}
	return v, nil
}

// For is the visibility of a ServiceEntry in a namespace with nsLabels:
// the first policy whose rules all match, else the default; unset and
// unknown values are PUBLIC.
func (v Visibility) For(nsLabels map[string]string) string {
	set := labels.Set(nsLabels)
	for _, p := range v.Policies {
		match := true
		for _, s := range p.Selectors {
			if s == nil || !s.Matches(set) {
				match = false
				break
			}
		}
		if match {
			return normalVisibility(p.Visibility)
		}
	}
	return normalVisibility(v.Default)
}

func normalVisibility(s string) string {
	if s == VisibilityNamespace || s == VisibilityNone {
		return s
	}
	return VisibilityPublic
}

// ReadVisibility reads the mesh config of the default revision
// (ConfigMap istio-system/istio, key mesh). ok is false when it cannot be
// read (missing, forbidden): the caller then does not know the visibility.
func ReadVisibility(ctx context.Context, client kubernetes.Interface) (v Visibility, ok bool) {
	cm, err := client.CoreV1().ConfigMaps(MeshConfigNamespace).Get(ctx, MeshConfigMap, metav1.GetOptions{})
	if apierrors.IsNotFound(err) {
		return Visibility{}, true // no mesh config: istiod's defaults
	}
	if err != nil {
		return Visibility{}, false
	}
	v, err = ParseVisibility(cm.Data[MeshConfigKey])
	return v, err == nil
}
