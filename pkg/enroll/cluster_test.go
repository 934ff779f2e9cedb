package enroll

import (
	"errors"

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/runtime/schema"
	dynamicfake "k8s.io/client-go/dynamic/fake"
	"k8s.io/client-go/kubernetes/fake"
	metadatafake "k8s.io/client-go/metadata/fake"
	gatewayfake "sigs.k8s.io/gateway-api/pkg/client/clientset/versioned/fake"

	"github.com/kubectl-waypoint/kubectl-waypoint/internal/fakecluster"
	"github.com/kubectl-waypoint/kubectl-waypoint/pkg/kube"
)

// fakeCluster holds one set of objects in every client the package reads
// through (internal/fakecluster), under the names the tests use.
type fakeCluster struct {
	*fakecluster.Cluster
	kube     *fake.Clientset
	gateway  *gatewayfake.Clientset
	dynamic  *dynamicfake.FakeDynamicClient
	metadata *metadatafake.FakeMetadataClient
}

func (c *fakeCluster) clients() *kube.Clients { return c.Clients() }

// requests counts the requests of verb on resource over all the clients.
func (c *fakeCluster) requests(verb, resource string) int { return c.Requests(verb, resource) }

// fail makes every request of verb on resource fail with err, in all clients.
func (c *fakeCluster) fail(verb, resource string, err error) { c.Fail(verb, resource, err) }

func missingType(group, resource string) error {
	return apierrors.NewNotFound(schema.GroupResource{Group: group, Resource: resource}, "")
}

func forbidden(resource string) error {
	return apierrors.NewForbidden(schema.GroupResource{Resource: resource}, "", errForbidden)
}

var errForbidden = errors.New("not for you")

// broken is a refusal that no reader narrows around and no retry repeats.
func broken(resource string) error {
	return apierrors.NewBadRequest(resource + " broke")
}

func partial(kind Kind, apiKind string, m metav1.ObjectMeta) *metav1.PartialObjectMetadata {
	gvr := kind.GVR()
	p := &metav1.PartialObjectMetadata{ObjectMeta: m}
	p.APIVersion = schema.GroupVersion{Group: gvr.Group, Version: gvr.Version}.String()
	p.Kind = apiKind
	return p
}

func newFakeCluster(objs ...runtime.Object) *fakeCluster {
	fc := fakecluster.New(nil, objs...)
	return &fakeCluster{Cluster: fc, kube: fc.Kube, gateway: fc.Gateway, dynamic: fc.Dynamic, metadata: fc.Metadata}
}

func nsObj(name string, labels map[string]string) *corev1.Namespace {
	l := map[string]string{"kubernetes.io/metadata.name": name}
	for k, v := range labels {
		l[k] = v
	}
	return &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: name, Labels: l, ResourceVersion: "1"}}
}

func svcObj(ns, name string, labels map[string]string, mods ...func(*corev1.Service)) *corev1.Service {
	s := &corev1.Service{ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: name, Labels: labels, ResourceVersion: "1"}}
	for _, m := range mods {
		m(s)
	}
	return s
}

func podObj(ns, name string, labels map[string]string) *corev1.Pod {
	return &corev1.Pod{ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: name, Labels: labels, ResourceVersion: "1"}}
}

func istioObj(kind, ns, name string, labels map[string]string) *unstructured.Unstructured {
	u := &unstructured.Unstructured{Object: map[string]any{"spec": map[string]any{}}}
	u.SetAPIVersion("networking.istio.io/v1")
	u.SetKind(kind)
	u.SetNamespace(ns)
	u.SetName(name)
	u.SetLabels(labels)
	u.SetResourceVersion("1")
	return u
}

func boundCondition(reason string) func(*corev1.Service) {
	return func(s *corev1.Service) {
		s.Status.Conditions = []metav1.Condition{{Type: "istio.io/WaypointBound", Status: metav1.ConditionTrue, Reason: reason}}
	}
}

func externalName(s *corev1.Service) {
	s.Spec.Type = corev1.ServiceTypeExternalName
	s.Spec.ExternalName = "example.com"
}
