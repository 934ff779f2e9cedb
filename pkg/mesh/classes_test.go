package mesh

import (
	"context"
	"errors"
	"testing"

	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/runtime/schema"
	k8stesting "k8s.io/client-go/testing"
	gatewayv1 "sigs.k8s.io/gateway-api/apis/v1"
	gatewayfake "sigs.k8s.io/gateway-api/pkg/client/clientset/versioned/fake"
)

func gatewayClass(name string, labels, annotations map[string]string) *gatewayv1.GatewayClass {
	return &gatewayv1.GatewayClass{
		ObjectMeta: metav1.ObjectMeta{Name: name, Labels: labels, Annotations: annotations},
		Spec:       gatewayv1.GatewayClassSpec{ControllerName: "istio.io/mesh-controller"},
	}
}

// gets counts the GET requests the fake served.
func gets(c *gatewayfake.Clientset) int {
	n := 0
	for _, a := range c.Actions() {
		if a.GetVerb() == "get" {
			n++
		}
	}
	return n
}

func TestClassesGet(t *testing.T) {
	ctx := context.Background()
	client := gatewayfake.NewClientset(gatewayClass("istio-waypoint",
		map[string]string{"istio.io/waypoint-for": "all"},
		map[string]string{"ambient.istio.io/waypoint-inbound-binding": "PROXY/15088"}))
	c := NewClasses(client)

	cl := c.Get(ctx, "istio-waypoint")
	if cl == nil || cl.Name != "istio-waypoint" || cl.Labels["istio.io/waypoint-for"] != "all" ||
		cl.Annotations["ambient.istio.io/waypoint-inbound-binding"] != "PROXY/15088" {
		t.Fatalf("Get = %+v", cl)
	}
	if again := c.Get(ctx, "istio-waypoint"); again != cl || gets(client) != 1 {
		t.Errorf("a class is read once: %d reads, same pointer %v", gets(client), again == cl)
	}

	if cl := c.Get(ctx, "missing"); cl != nil {
		t.Errorf("a missing class: %+v", cl)
	}
	if cl := c.Get(ctx, "missing"); cl != nil || gets(client) != 2 {
		t.Errorf("a missing class is remembered: %d reads", gets(client))
	}

	// A class that cannot be read is nil (istiod's defaults), and not read again.
	client.PrependReactor("get", "gatewayclasses", func(k8stesting.Action) (bool, runtime.Object, error) {
		return true, nil, apierrors.NewForbidden(schema.GroupResource{Group: "gateway.networking.k8s.io", Resource: "gatewayclasses"}, "secret", errors.New("no"))
	})
	if cl := c.Get(ctx, "secret"); cl != nil {
		t.Errorf("an unreadable class: %+v", cl)
	}
	c.Get(ctx, "secret")
	if gets(client) != 3 {
		t.Errorf("an unreadable class is read once: %d reads", gets(client))
	}

	// Parse reads the Gateway's own class.
	w := c.Parse(ctx, gateway())
	if w.TrafficType != "all" || w.TrafficTypeFrom != FromClass || w.BindingFrom != FromClass || w.Binding != "PROXY/15088" {
		t.Errorf("Parse with the class: %+v", w)
	}
}

func TestClassesWithoutClient(t *testing.T) {
	var none *Classes
	if none.Get(context.Background(), "istio-waypoint") != nil {
		t.Error("a nil Classes knows no class")
	}
	if w := none.Parse(context.Background(), gateway()); w.TrafficType != "service" || w.TrafficTypeFrom != FromDefault {
		t.Errorf("a nil Classes parses with istiod's defaults: %+v", w)
	}
	empty := StaticClasses()
	if empty.Get(context.Background(), "istio-waypoint") != nil {
		t.Error("StaticClasses() knows no class and has no client to ask")
	}
}

func TestClassOf(t *testing.T) {
	if ClassOf(nil) != nil {
		t.Error("ClassOf(nil) is nil")
	}
	gc := gatewayClass("c", map[string]string{"a": "1"}, map[string]string{"b": "2"})
	cl := ClassOf(gc)
	if cl == nil || cl.Name != "c" || cl.Labels["a"] != "1" || cl.Annotations["b"] != "2" {
		t.Errorf("ClassOf = %+v", cl)
	}
}

// TestClassesUnread: a class that cannot be read is remembered with its
// error, once; a missing class or one read is not.
func TestClassesUnread(t *testing.T) {
	client := gatewayfake.NewSimpleClientset(&gatewayv1.GatewayClass{ObjectMeta: metav1.ObjectMeta{Name: "istio-waypoint"}})
	forbidden := apierrors.NewForbidden(schema.GroupResource{Group: "gateway.networking.k8s.io", Resource: "gatewayclasses"}, "secret", errors.New("no"))
	client.PrependReactor("get", "gatewayclasses", func(a k8stesting.Action) (bool, runtime.Object, error) {
		if a.(k8stesting.GetAction).GetName() == "secret" {
			return true, nil, forbidden
		}
		return false, nil, nil
	})
	c := NewClasses(client)
	ctx := context.Background()
	for range 2 {
		if c.Get(ctx, "istio-waypoint") == nil || c.Get(ctx, "missing") != nil || c.Get(ctx, "secret") != nil {
			t.Fatal("Get answered wrongly")
		}
	}
	got := c.Unread()
	if len(got) != 1 || got[0].Name != "secret" || !apierrors.IsForbidden(got[0].Err) {
		t.Errorf("Unread() = %+v", got)
	}
	if (*Classes)(nil).Unread() != nil || len(StaticClasses().Unread()) != 0 {
		t.Error("a nil or static reader has unread classes")
	}
}
