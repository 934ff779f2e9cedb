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
