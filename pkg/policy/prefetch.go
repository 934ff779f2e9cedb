package policy

import (
	"context"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	gatewayv1 "sigs.k8s.io/gateway-api/apis/v1"

	"github.com/kubectl-waypoint/kubectl-waypoint/pkg/enroll"
	"github.com/kubectl-waypoint/kubectl-waypoint/pkg/kube"
)

// prefetchAbove is how many namespaces (or waypoints) the targets of the
// policies may span before their Services, ServiceEntries, Gateways and
// namespaces are read with one list each across the cluster rather than
// one read per namespace or per waypoint.
const prefetchAbove = 8

// prefetch reads, for policies listed across the cluster, what their
// targets need with one list per kind, when the targets span many
// namespaces: so that a check over thousands of policies costs a few
// requests, not one per object. A list that fails (RBAC) is left to the
// reads one by one, which say what is wrong.
func (r *Reader) prefetch(ctx context.Context, byKind [][]unstructured.Unstructured) {
	if r.prefetched {
		return
	}
	r.prefetched = true
	svcNS, seNS, gws, all := map[string]bool{}, map[string]bool{}, map[string]bool{}, map[string]bool{}
	for ki, k := range Kinds {
		for i := range byKind[ki] {
			obj := &byKind[ki][i]
			targets := targetRefs(obj)
			if k.Route {
				targets = parentRefs(obj)
			}
			for _, t := range targets {
				switch t.Kind {
				case "Service":
					svcNS[t.Namespace], all[t.Namespace] = true, true
				case "ServiceEntry":
					seNS[t.Namespace], all[t.Namespace] = true, true
				case "Gateway":
					gws[t.Key()] = true
				}
			}
		}
	}
	if len(svcNS) > prefetchAbove {
		if items, ok := listAll(ctx, func(opts metav1.ListOptions) ([]corev1.Service, string, error) {
			l, err := r.Clients.Kube.CoreV1().Services("").List(ctx, opts)
			if err != nil {
				return nil, "", err
			}
			return l.Items, l.Continue, nil
		}); ok {
			for i := range items {
				s := &items[i]
				if r.services[s.Namespace] == nil {
					r.services[s.Namespace] = map[string]*corev1.Service{}
				}
				r.services[s.Namespace][s.Name] = s
			}
			r.allServices = true
		}
	}
	if len(seNS) > prefetchAbove {
		if items, ok := listAll(ctx, func(opts metav1.ListOptions) ([]unstructured.Unstructured, string, error) {
			l, err := r.Clients.Dynamic.Resource(enroll.ServiceEntryGVR).List(ctx, opts)
			if kube.IsMissingType(err) {
				return nil, "", nil
			}
			if err != nil {
				return nil, "", err
			}
			return l.Items, l.GetContinue(), nil
		}); ok {
			for i := range items {
				se := &items[i]
				if r.serviceEntries[se.GetNamespace()] == nil {
					r.serviceEntries[se.GetNamespace()] = map[string]*unstructured.Unstructured{}
				}
				r.serviceEntries[se.GetNamespace()][se.GetName()] = se
			}
			r.allServiceEntries = true
		}
	}
	if len(gws)+len(all) > prefetchAbove {
		if items, ok := listAll(ctx, func(opts metav1.ListOptions) ([]gatewayv1.Gateway, string, error) {
			l, err := r.Clients.Gateway.GatewayV1().Gateways("").List(ctx, opts)
			if kube.IsMissingType(err) {
				return nil, "", nil
			}
			if err != nil {
				return nil, "", err
			}
			return l.Items, l.Continue, nil
		}); ok {
			r.Enroll.KnowAllWaypoints(ctx, items)
		}
	}
	if len(all) > prefetchAbove {
		if items, ok := listAll(ctx, func(opts metav1.ListOptions) ([]corev1.Namespace, string, error) {
			l, err := r.Clients.Kube.CoreV1().Namespaces().List(ctx, opts)
			if err != nil {
				return nil, "", err
			}
			return l.Items, l.Continue, nil
		}); ok {
			r.Enroll.KnowAllNamespaces(items)
		}
	}
}

// listAll lists every page; ok is false when a page fails.
func listAll[T any](ctx context.Context, page func(metav1.ListOptions) ([]T, string, error)) (items []T, ok bool) {
	opts := metav1.ListOptions{Limit: 500}
	for {
		if ctx.Err() != nil {
			return nil, false
		}
		var got []T
		var cont string
		err := kube.Retry(ctx, func() (err error) {
			got, cont, err = page(opts)
			return err
		})
		if err != nil {
			return nil, false
		}
		items = append(items, got...)
		if cont == "" {
			return items, true
		}
		opts.Continue = cont
	}
}
