package migrate

import (
	"context"
	"testing"

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/client-go/kubernetes/fake"
	k8stesting "k8s.io/client-go/testing"

	"github.com/kubectl-waypoint/kubectl-waypoint/pkg/bulk"
	"github.com/kubectl-waypoint/kubectl-waypoint/pkg/kube"
)

// A pod with no controller is skipped, the user's to replace; a pod whose
// ReplicaSet cannot be read is a failure, never a skip.
func TestUnitRestartSidecarPods(t *testing.T) {
	yes := true
	pod := func(name string, owner *metav1.OwnerReference) *corev1.Pod {
		p := &corev1.Pod{ObjectMeta: metav1.ObjectMeta{Name: name, Namespace: "ns", Annotations: map[string]string{"sidecar.istio.io/status": "{}"}}}
		if owner != nil {
			p.OwnerReferences = []metav1.OwnerReference{*owner}
		}
		return p
	}
	pods := []corev1.Pod{*pod("bare", nil), *pod("owned", &metav1.OwnerReference{APIVersion: "apps/v1", Kind: "ReplicaSet", Name: "rs", Controller: &yes})}
	client := fake.NewClientset()
	client.PrependReactor("get", "replicasets", func(k8stesting.Action) (bool, runtime.Object, error) {
		return true, nil, apierrors.NewForbidden(schema.GroupResource{Group: "apps", Resource: "replicasets"}, "rs", nil)
	})
	p := &Planner{Clients: &kube.Clients{Kube: client}}
	got := map[string]bulk.Action{}
	for _, r := range p.restartSidecarPods(context.Background(), pods, kube.DryRunNone) {
		got[r.Name] = r.Action
	}
	if got["bare"] != bulk.Skipped || got["owned"] != bulk.Failed || len(got) != 2 {
		t.Errorf("records %v, want bare skipped and owned failed", got)
	}
	// Nothing was restarted: the fake's requests are the ReplicaSet's read
	// alone (no list of pods: the plan's are used).
	for _, a := range client.Actions() {
		if a.GetVerb() != "get" || a.GetResource().Resource != "replicasets" {
			t.Errorf("unexpected request %s %s", a.GetVerb(), a.GetResource().Resource)
		}
	}
}
