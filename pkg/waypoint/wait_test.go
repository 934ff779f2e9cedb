package waypoint

import (
	"context"
	"testing"
	"time"

	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	k8stesting "k8s.io/client-go/testing"
	gatewayv1 "sigs.k8s.io/gateway-api/apis/v1"
	gatewayfake "sigs.k8s.io/gateway-api/pkg/client/clientset/versioned/fake"

	"github.com/kubectl-waypoint/kubectl-waypoint/pkg/mesh"
)

// TestWaitNamedRetriesItsList: a lost answer to the first list (503) does
// not end the wait; the list is tried again and finds the waypoint ready.
func TestWaitNamedRetriesItsList(t *testing.T) {
	ready := &gatewayv1.Gateway{
		ObjectMeta: metav1.ObjectMeta{Namespace: "app", Name: "waypoint", Generation: 1},
		Status: gatewayv1.GatewayStatus{
			Addresses:  []gatewayv1.GatewayStatusAddress{{Value: "10.0.0.7"}},
			Conditions: []metav1.Condition{{Type: "Programmed", Status: metav1.ConditionTrue, Reason: "Programmed", ObservedGeneration: 1}},
		},
	}
	client := gatewayfake.NewSimpleClientset()
	// Created through the v1 client: the fake files objects given to
	// NewSimpleClientset under the first version its scheme knows.
	if _, err := client.GatewayV1().Gateways("app").Create(context.Background(), ready, metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	lists := 0
	client.PrependReactor("list", "gateways", func(k8stesting.Action) (bool, runtime.Object, error) {
		lists++
		if lists == 1 {
			return true, nil, apierrors.NewServiceUnavailable("try again")
		}
		return false, nil, nil
	})
	w := mesh.Parse(&gatewayv1.Gateway{ObjectMeta: metav1.ObjectMeta{Namespace: "app", Name: "waypoint"}}, nil)
	waiting := map[string]*mesh.Waypoint{"app/waypoint": &w}
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if err := WaitNamed(ctx, client, []string{"app"}, "waypoint", waiting); err != nil {
		t.Fatalf("WaitNamed: %v (lists %d, waypoint %+v)", err, lists, w)
	}
	if lists != 2 || !w.Ready() {
		t.Errorf("lists = %d (want 2), ready = %v", lists, w.Ready())
	}
}
