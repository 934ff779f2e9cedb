package mesh

import (
	"context"
	"errors"
	"testing"

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/client-go/kubernetes/fake"
	k8stesting "k8s.io/client-go/testing"
)

func TestMeshConfigNames(t *testing.T) {
	// Where istiod keeps the mesh config of the default revision, and its
	// visibility values, as istiod spells them.
	if MeshConfigNamespace != "istio-system" || MeshConfigMap != "istio" || MeshConfigKey != "mesh" {
		t.Errorf("mesh config at %s/%s key %s", MeshConfigNamespace, MeshConfigMap, MeshConfigKey)
	}
	if VisibilityPublic != "PUBLIC" || VisibilityNamespace != "NAMESPACE" || VisibilityNone != "NONE" {
		t.Errorf("visibilities %s %s %s", VisibilityPublic, VisibilityNamespace, VisibilityNone)
	}
}

func TestVisibilityFor(t *testing.T) {
	v, err := ParseVisibility(`
serviceEntryVisibility:
  defaultVisibility: NONE
  policies:
  - visibility: NAMESPACE
    matchingRules:
    - namespaceSelector:
        matchLabels: {team: a}
    - namespaceSelector:
        matchExpressions: [{key: tier, operator: In, values: [gold]}]
  - visibility: none
    matchingRules:
    - namespaceSelector:
        matchLabels: {team: b}
  - visibility: PUBLIC
    matchingRules:
    - namespaceSelector:
        matchExpressions: [{key: team, operator: Bogus}]
`)
	if err != nil {
		t.Fatal(err)
	}
	if !v.Configured || v.Default != "NONE" || len(v.Policies) != 3 || len(v.Policies[0].Selectors) != 2 {
		t.Fatalf("parsed %+v", v)
	}
	if v.Policies[2].Selectors[0] != nil {
		t.Error("a selector that does not parse is nil")
	}
	for _, tc := range []struct {
		name   string
		labels map[string]string
		want   string
	}{
		{"every rule of the first policy matches", map[string]string{"team": "a", "tier": "gold"}, VisibilityNamespace},
		{"one rule of two is not enough: the default", map[string]string{"team": "a"}, VisibilityNone},
		{"a lower-case value is unknown: PUBLIC", map[string]string{"team": "b"}, VisibilityPublic},
		{"a selector that does not parse matches nothing", map[string]string{"team": "c"}, VisibilityNone},
		{"no labels: the default", nil, VisibilityNone},
	} {
		if got := v.For(tc.labels); got != tc.want {
			t.Errorf("%s: For(%v) = %s, want %s", tc.name, tc.labels, got, tc.want)
		}
	}

	for _, tc := range []struct{ def, want string }{
		{"NAMESPACE", VisibilityNamespace},
		{"NONE", VisibilityNone},
		{"PUBLIC", VisibilityPublic},
		{"", VisibilityPublic},
		{"namespace", VisibilityPublic},
	} {
		if got := (Visibility{Configured: true, Default: tc.def}).For(nil); got != tc.want {
			t.Errorf("default %q: %s, want %s", tc.def, got, tc.want)
		}
	}
	if got := (Visibility{}).For(map[string]string{"team": "a"}); got != VisibilityPublic {
		t.Errorf("the zero Visibility: %s", got)
	}
}

func TestParseVisibilityErrors(t *testing.T) {
	if _, err := ParseVisibility("serviceEntryVisibility: [not, a, map]"); err == nil {
		t.Error("a mesh config that does not parse is an error")
	}
	v, err := ParseVisibility("")
	if err != nil || v.Configured || len(v.Policies) != 0 {
		t.Errorf("an empty mesh config: %+v, %v", v, err)
	}
}

func meshConfig(mesh string) *corev1.ConfigMap {
	return &corev1.ConfigMap{ObjectMeta: metav1.ObjectMeta{Namespace: "istio-system", Name: "istio"}, Data: map[string]string{"mesh": mesh}}
}

func TestReadVisibility(t *testing.T) {
	ctx := context.Background()

	v, ok := ReadVisibility(ctx, fake.NewClientset())
	if !ok || v.Configured {
		t.Errorf("no mesh config: istiod's defaults, known: %+v %v", v, ok)
	}

	v, ok = ReadVisibility(ctx, fake.NewClientset(meshConfig("serviceEntryVisibility:\n  defaultVisibility: NAMESPACE\n")))
	if !ok || !v.Configured || v.For(nil) != VisibilityNamespace {
		t.Errorf("a mesh config: %+v %v", v, ok)
	}

	// The config map of another name or namespace is not the mesh config.
	other := meshConfig("serviceEntryVisibility:\n  defaultVisibility: NAMESPACE\n")
	other.Namespace = "default"
	if v, ok := ReadVisibility(ctx, fake.NewClientset(other)); !ok || v.Configured {
		t.Errorf("a config map elsewhere: %+v %v", v, ok)
	}

	if _, ok := ReadVisibility(ctx, fake.NewClientset(meshConfig("serviceEntryVisibility: [x]"))); ok {
		t.Error("a mesh config that does not parse: visibility unknown")
	}

	client := fake.NewClientset()
	client.PrependReactor("get", "configmaps", func(k8stesting.Action) (bool, runtime.Object, error) {
		return true, nil, apierrors.NewForbidden(schema.GroupResource{Resource: "configmaps"}, "istio", errors.New("no"))
	})
	if _, ok := ReadVisibility(ctx, client); ok {
		t.Error("a forbidden mesh config: visibility unknown")
	}
}
