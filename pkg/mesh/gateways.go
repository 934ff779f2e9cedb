package mesh

import (
	"context"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/fields"
	gatewayv1 "sigs.k8s.io/gateway-api/apis/v1"
	gatewayclient "sigs.k8s.io/gateway-api/pkg/client/clientset/versioned"

	"github.com/kubectl-waypoint/kubectl-waypoint/pkg/kube"
)

// The one reader of Gateways: every package that lists or reads Gateways
// (list, status, delete, apply's guard and wait, explain, enroll's checks,
// the policy prefetch, completion) goes through these.

// GatewayQuery chooses the Gateways to list.
type GatewayQuery struct {
	// Namespace to list; empty lists all namespaces.
	Namespace string
	// LabelSelector filters the Gateways, e.g. "istio.io/rev=canary".
	LabelSelector string
	// PageSize is the number of Gateways per request; 0 means kube.PageSize.
	PageSize int64
}

// EachGateway calls fn for every Gateway of q, one page at a time, and
// returns the resourceVersion of the list (the snapshot a watch can start
// from). Each page is retried on faults worth another try, like every read.
func EachGateway(ctx context.Context, client gatewayclient.Interface, q GatewayQuery, fn func(*gatewayv1.Gateway)) (string, error) {
	size := q.PageSize
	if size <= 0 {
		size = kube.PageSize
	}
	var rv string
	err := kube.EachPage(ctx, metav1.ListOptions{LabelSelector: q.LabelSelector, Limit: size},
		func(ctx context.Context, lo metav1.ListOptions) ([]gatewayv1.Gateway, string, error) {
			page, err := client.GatewayV1().Gateways(q.Namespace).List(ctx, lo)
			if err != nil {
				return nil, "", err
			}
			if rv == "" {
				// The first page fixes the snapshot the following pages read.
				rv = page.ResourceVersion
			}
			return page.Items, page.Continue, nil
		},
		func(items []gatewayv1.Gateway) error {
			for i := range items {
				fn(&items[i])
			}
			return nil
		})
	if err != nil {
		return "", err
	}
	return rv, nil
}

// GatewaysNamed lists, in one request and without retrying (its callers
// retry the whole read), the Gateways called name in namespace ("" for
// all namespaces).
func GatewaysNamed(ctx context.Context, client gatewayclient.Interface, namespace, name string) (*gatewayv1.GatewayList, error) {
	return client.GatewayV1().Gateways(namespace).List(ctx, metav1.ListOptions{
		FieldSelector: fields.OneTermEqualSelector("metadata.name", name).String(),
	})
}

// GetGateway reads the Gateway namespace/name, retried on faults worth
// another try.
func GetGateway(ctx context.Context, client gatewayclient.Interface, namespace, name string) (*gatewayv1.Gateway, error) {
	var gw *gatewayv1.Gateway
	err := kube.Retry(ctx, func() (err error) {
		gw, err = client.GatewayV1().Gateways(namespace).Get(ctx, name, metav1.GetOptions{})
		return err
	})
	return gw, err
}
