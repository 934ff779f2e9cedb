// Package fakecluster is one set of objects served by every fake client the
// domain packages read through (typed, dynamic, metadata and Gateway API),
// for their fast unit tests. The real API server judges behaviour in the
// integration tests; this only lets an operation run without one.
package fakecluster

import (
	"sync"

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/labels"
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

// The resources of Istio's ServiceEntry and WorkloadEntry.
var (
	ServiceEntries  = schema.GroupVersionResource{Group: "networking.istio.io", Version: "v1", Resource: "serviceentries"}
	WorkloadEntries = schema.GroupVersionResource{Group: "networking.istio.io", Version: "v1", Resource: "workloadentries"}
)

// Cluster holds the fakes. Gateways are served by hand (get, list, delete):
// the Gateway API fake's tracker files them under v1beta1.
type Cluster struct {
	Kube     *fake.Clientset
	Gateway  *gatewayfake.Clientset
	Dynamic  *dynamicfake.FakeDynamicClient
	Metadata *metadatafake.FakeMetadataClient

	mu       sync.Mutex
	gateways map[string]*gatewayv1.Gateway
}

// New serves objs: Namespaces, Services, Pods and ConfigMaps (typed and
// metadata), unstructured objects (dynamic; ServiceEntries and
// WorkloadEntries also as metadata), Gateways and GatewayClasses.
// listKinds names the list kind of every other dynamic resource a test lists
// (the policies, for example).
func New(listKinds map[schema.GroupVersionResource]string, objs ...runtime.Object) *Cluster {
	var typed, dyn, meta, classes []runtime.Object
	c := &Cluster{gateways: map[string]*gatewayv1.Gateway{}}
	for _, o := range objs {
		switch o := o.(type) {
		case *corev1.Namespace:
			typed = append(typed, o)
			meta = append(meta, partial("", "v1", "Namespace", o.ObjectMeta))
		case *corev1.Service:
			typed = append(typed, o)
			meta = append(meta, partial("", "v1", "Service", o.ObjectMeta))
		case *corev1.Pod:
			typed = append(typed, o)
			meta = append(meta, partial("", "v1", "Pod", o.ObjectMeta))
		case *corev1.ConfigMap:
			typed = append(typed, o)
		case *unstructured.Unstructured:
			dyn = append(dyn, o)
			if g := o.GroupVersionKind(); g.Group == ServiceEntries.Group && (g.Kind == "ServiceEntry" || g.Kind == "WorkloadEntry") {
				meta = append(meta, partial(g.Group, g.Version, g.Kind, metav1.ObjectMeta{Namespace: o.GetNamespace(), Name: o.GetName(),
					Labels: o.GetLabels(), Annotations: o.GetAnnotations(), ResourceVersion: o.GetResourceVersion()}))
			}
		case *gatewayv1.Gateway:
			c.gateways[o.Namespace+"/"+o.Name] = o
		case *gatewayv1.GatewayClass:
			classes = append(classes, o)
		default:
			panic("fakecluster: unexpected object")
		}
	}
	kinds := map[schema.GroupVersionResource]string{ServiceEntries: "ServiceEntryList", WorkloadEntries: "WorkloadEntryList"}
	for gvr, kind := range listKinds {
		kinds[gvr] = kind
	}
	scheme := metadatafake.NewTestScheme()
	_ = metav1.AddMetaToScheme(scheme)
	c.Kube = fake.NewClientset(typed...)
	c.Gateway = gatewayfake.NewClientset(classes...)
	c.Dynamic = dynamicfake.NewSimpleDynamicClientWithCustomListKinds(runtime.NewScheme(), kinds, dyn...)
	c.Metadata = metadatafake.NewSimpleMetadataClient(scheme, meta...)
	c.Gateway.PrependReactor("get", "gateways", c.getGateway)
	c.Gateway.PrependReactor("list", "gateways", c.listGateways)
	c.Gateway.PrependReactor("delete", "gateways", c.deleteGateway)
	return c
}

// Clients are the fakes as the domain packages take them.
func (c *Cluster) Clients() *kube.Clients {
	return &kube.Clients{Kube: c.Kube, Gateway: c.Gateway, Dynamic: c.Dynamic, Metadata: c.Metadata}
}

// GatewayNamed is the Gateway namespace/name as served now; nil when none.
func (c *Cluster) GatewayNamed(namespace, name string) *gatewayv1.Gateway {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.gateways[namespace+"/"+name]
}

func (c *Cluster) fakes() []*k8stesting.Fake {
	return []*k8stesting.Fake{&c.Kube.Fake, &c.Gateway.Fake, &c.Dynamic.Fake, &c.Metadata.Fake}
}

// Requests counts the requests of verb on resource over all the clients.
func (c *Cluster) Requests(verb, resource string) int {
	n := 0
	for _, f := range c.fakes() {
		for _, a := range f.Actions() {
			if a.GetVerb() == verb && a.GetResource().Resource == resource {
				n++
			}
		}
	}
	return n
}

// Writes counts the requests that change something (create, update,
// patch, delete), over all the clients.
func (c *Cluster) Writes() int {
	n := 0
	for _, f := range c.fakes() {
		for _, a := range f.Actions() {
			switch a.GetVerb() {
			case "create", "update", "patch", "delete", "deletecollection":
				n++
			}
		}
	}
	return n
}

// Fail makes every request of verb on resource fail with err, in all clients.
func (c *Cluster) Fail(verb, resource string, err error) {
	react := func(k8stesting.Action) (bool, runtime.Object, error) { return true, nil, err }
	for _, f := range c.fakes() {
		f.PrependReactor(verb, resource, react)
	}
}

func gatewaysNotFound(name string) error {
	return apierrors.NewNotFound(schema.GroupResource{Group: "gateway.networking.k8s.io", Resource: "gateways"}, name)
}

func (c *Cluster) getGateway(a k8stesting.Action) (bool, runtime.Object, error) {
	get := a.(k8stesting.GetAction)
	if g := c.GatewayNamed(get.GetNamespace(), get.GetName()); g != nil {
		return true, g.DeepCopy(), nil
	}
	return true, nil, gatewaysNotFound(get.GetName())
}

func (c *Cluster) listGateways(a k8stesting.Action) (bool, runtime.Object, error) {
	list := a.(k8stesting.ListAction)
	restr := list.GetListRestrictions()
	c.mu.Lock()
	defer c.mu.Unlock()
	out := &gatewayv1.GatewayList{}
	for _, g := range c.gateways {
		if ns := list.GetNamespace(); ns != "" && g.Namespace != ns {
			continue
		}
		if restr.Labels != nil && !restr.Labels.Matches(labels.Set(g.Labels)) {
			continue
		}
		if restr.Fields != nil && !restr.Fields.Matches(gatewayFields(g)) {
			continue
		}
		out.Items = append(out.Items, *g.DeepCopy())
	}
	return true, out, nil
}

// gatewayFields are the fields a list may select Gateways by.
func gatewayFields(g *gatewayv1.Gateway) fieldSet {
	return fieldSet{"metadata.name": g.Name, "metadata.namespace": g.Namespace}
}

// fieldSet is a set of fields for a field selector.
type fieldSet map[string]string

func (f fieldSet) Has(field string) bool   { _, ok := f[field]; return ok }
func (f fieldSet) Get(field string) string { return f[field] }

func (c *Cluster) deleteGateway(a k8stesting.Action) (bool, runtime.Object, error) {
	del := a.(k8stesting.DeleteAction)
	c.mu.Lock()
	defer c.mu.Unlock()
	key := del.GetNamespace() + "/" + del.GetName()
	if c.gateways[key] == nil {
		return true, nil, gatewaysNotFound(del.GetName())
	}
	delete(c.gateways, key)
	return true, nil, nil
}

func partial(group, version, kind string, m metav1.ObjectMeta) *metav1.PartialObjectMetadata {
	p := &metav1.PartialObjectMetadata{ObjectMeta: m}
	p.APIVersion = schema.GroupVersion{Group: group, Version: version}.String()
	p.Kind = kind
	return p
}
