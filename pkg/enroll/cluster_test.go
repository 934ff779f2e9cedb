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
	k8stesting "k8s.io/client-go/testing"
	gatewayv1 "sigs.k8s.io/gateway-api/apis/v1"
	gatewayfake "sigs.k8s.io/gateway-api/pkg/client/clientset/versioned/fake"

	"github.com/kubectl-waypoint/kubectl-waypoint/pkg/kube"
)

// fakeCluster holds one set of objects in every client the package reads
// through: typed (namespaces, services, pods, config maps), dynamic
// (ServiceEntries, WorkloadEntries), metadata (all of them) and Gateway API.
type fakeCluster struct {
	kube     *fake.Clientset
	gateway  *gatewayfake.Clientset
	dynamic  *dynamicfake.FakeDynamicClient
	metadata *metadatafake.FakeMetadataClient
}

func (c *fakeCluster) clients() *kube.Clients {
	return &kube.Clients{Kube: c.kube, Gateway: c.gateway, Dynamic: c.dynamic, Metadata: c.metadata}
}

// requests counts the requests of verb on resource over all the clients.
func (c *fakeCluster) requests(verb, resource string) int {
	n := 0
	for _, f := range []*k8stesting.Fake{&c.kube.Fake, &c.gateway.Fake, &c.dynamic.Fake, &c.metadata.Fake} {
		for _, a := range f.Actions() {
			if a.GetVerb() == verb && a.GetResource().Resource == resource {
				n++
			}
		}
	}
	return n
}

// fail makes every request of verb on resource fail with err, in all clients.
func (c *fakeCluster) fail(verb, resource string, err error) {
	react := func(k8stesting.Action) (bool, runtime.Object, error) { return true, nil, err }
	for _, f := range []*k8stesting.Fake{&c.kube.Fake, &c.gateway.Fake, &c.dynamic.Fake, &c.metadata.Fake} {
		f.PrependReactor(verb, resource, react)
	}
}

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
	var typed, dyn, meta, classes []runtime.Object
	gateways := map[string]*gatewayv1.Gateway{}
	for _, o := range objs {
		switch o := o.(type) {
		case *corev1.Namespace:
			typed = append(typed, o)
			meta = append(meta, partial(KindNamespace, "Namespace", o.ObjectMeta))
		case *corev1.Service:
			typed = append(typed, o)
			meta = append(meta, partial(KindService, "Service", o.ObjectMeta))
		case *corev1.Pod:
			typed = append(typed, o)
			meta = append(meta, partial(KindPod, "Pod", o.ObjectMeta))
		case *corev1.ConfigMap:
			typed = append(typed, o)
		case *unstructured.Unstructured:
			dyn = append(dyn, o)
			kind := KindServiceEntry
			if o.GetKind() == "WorkloadEntry" {
				kind = KindWorkloadEntry
			}
			meta = append(meta, partial(kind, o.GetKind(), metav1.ObjectMeta{Namespace: o.GetNamespace(), Name: o.GetName(),
				Labels: o.GetLabels(), Annotations: o.GetAnnotations(), ResourceVersion: o.GetResourceVersion()}))
		case *gatewayv1.Gateway:
			gateways[o.Namespace+"/"+o.Name] = o
		case *gatewayv1.GatewayClass:
			classes = append(classes, o)
		default:
			panic("newFakeCluster: unexpected object")
		}
	}
	c := &fakeCluster{
		kube:    fake.NewClientset(typed...),
		gateway: gatewayfake.NewClientset(classes...),
		dynamic: dynamicfake.NewSimpleDynamicClientWithCustomListKinds(runtime.NewScheme(),
			map[schema.GroupVersionResource]string{ServiceEntryGVR: "ServiceEntryList", WorkloadEntryGVR: "WorkloadEntryList"}, dyn...),
		metadata: fakeMetadata(meta...),
	}
	// Gateways are served by hand: the fake's tracker files them under
	// v1beta1, whose Gateway is the same Go type.
	c.gateway.PrependReactor("get", "gateways", func(a k8stesting.Action) (bool, runtime.Object, error) {
		get := a.(k8stesting.GetAction)
		if g := gateways[get.GetNamespace()+"/"+get.GetName()]; g != nil {
			return true, g.DeepCopy(), nil
		}
		return true, nil, apierrors.NewNotFound(schema.GroupResource{Group: "gateway.networking.k8s.io", Resource: "gateways"}, get.GetName())
	})
	return c
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
