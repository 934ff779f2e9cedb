package enroll

import (
	"context"
	"errors"
	"reflect"
	"testing"

	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/runtime/schema"
	metadatafake "k8s.io/client-go/metadata/fake"
	k8stesting "k8s.io/client-go/testing"

	"github.com/kubectl-waypoint/kubectl-waypoint/pkg/kube"
)

func metaObj(kind Kind, namespace, name string, labels map[string]string) runtime.Object {
	gvr := kind.GVR()
	m := &metav1.PartialObjectMetadata{ObjectMeta: metav1.ObjectMeta{Namespace: namespace, Name: name, Labels: labels}}
	m.APIVersion = schema.GroupVersion{Group: gvr.Group, Version: gvr.Version}.String()
	m.Kind = map[Kind]string{KindNamespace: "Namespace", KindService: "Service", KindPod: "Pod", KindServiceEntry: "ServiceEntry"}[kind]
	return m
}

func fakeMetadata(objs ...runtime.Object) *metadatafake.FakeMetadataClient {
	scheme := metadatafake.NewTestScheme()
	_ = metav1.AddMetaToScheme(scheme)
	return metadatafake.NewSimpleMetadataClient(scheme, objs...)
}

func TestCountsString(t *testing.T) {
	if got := (Counts{Namespaces: 1, Services: 2, Pods: 3, ServiceEntries: 4}).String(); got != "ns:1 svc:2 po:3 se:4" {
		t.Errorf("String() = %q", got)
	}
	var c Counts
	for _, k := range []Kind{KindNamespace, KindService, KindService, KindPod, KindPod, KindPod, KindServiceEntry} {
		c.add(k)
	}
	if c != (Counts{Namespaces: 1, Services: 2, Pods: 3, ServiceEntries: 1}) {
		t.Errorf("add: %+v", c)
	}
}

func TestCountEnrolled(t *testing.T) {
	use := func(name string) map[string]string { return map[string]string{"istio.io/use-waypoint": name} }
	objs := []runtime.Object{
		metaObj(KindNamespace, "", "a", use("w")),
		metaObj(KindNamespace, "", "b", use("w")), // names b/w, not counted for a/w
		metaObj(KindService, "a", "s1", use("w")),
		metaObj(KindService, "a", "s2", use("w")),
		metaObj(KindService, "c", "s3", map[string]string{"istio.io/use-waypoint": "w", "istio.io/use-waypoint-namespace": "a"}),
		metaObj(KindService, "a", "s4", use("other")),
		metaObj(KindPod, "a", "p1", use("w")),
		metaObj(KindPod, "a", "p2", use("none")),
		metaObj(KindServiceEntry, "a", "se1", use("w")),
		metaObj(KindServiceEntry, "x", "se2", use("v")),
	}
	c := &kube.Clients{Metadata: fakeMetadata(objs...)}
	got, err := CountEnrolled(context.Background(), c, []string{"a/w", "x/v", "z/none-yet"})
	if err != nil {
		t.Fatal(err)
	}
	want := map[string]Counts{
		"a/w":        {Namespaces: 1, Services: 3, Pods: 1, ServiceEntries: 1},
		"x/v":        {ServiceEntries: 1},
		"z/none-yet": {},
	}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("CountEnrolled = %+v\nwant %+v", got, want)
	}

	empty, err := CountEnrolled(context.Background(), c, nil)
	if err != nil || empty == nil || len(empty) != 0 {
		t.Errorf("no keys: %v, %v", empty, err)
	}
}

func TestCountEnrolledErrors(t *testing.T) {
	// Without the Istio CRDs there are no ServiceEntries: not an error.
	client := fakeMetadata(metaObj(KindService, "a", "s1", map[string]string{"istio.io/use-waypoint": "w"}))
	client.PrependReactor("list", "serviceentries", func(k8stesting.Action) (bool, runtime.Object, error) {
		return true, nil, apierrors.NewNotFound(schema.GroupResource{Group: "networking.istio.io", Resource: "serviceentries"}, "")
	})
	got, err := CountEnrolled(context.Background(), &kube.Clients{Metadata: client}, []string{"a/w"})
	if err != nil || got["a/w"] != (Counts{Services: 1}) {
		t.Errorf("without ServiceEntries: %+v, %v", got, err)
	}
	// Any other fault is returned.
	boom := errors.New("boom")
	client = fakeMetadata()
	client.PrependReactor("list", "pods", func(k8stesting.Action) (bool, runtime.Object, error) { return true, nil, boom })
	if _, err := CountEnrolled(context.Background(), &kube.Clients{Metadata: client}, []string{"a/w"}); !errors.Is(err, boom) {
		t.Errorf("a failing list: %v, want boom", err)
	}
}
