package policy

import (
	"context"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	gatewayv1 "sigs.k8s.io/gateway-api/apis/v1"

	"github.com/kubectl-waypoint/kubectl-waypoint/pkg/enroll"
	"github.com/kubectl-waypoint/kubectl-waypoint/pkg/kube"
	"github.com/kubectl-waypoint/kubectl-waypoint/pkg/mesh"
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
		if items, err := kube.ListAll(ctx, metav1.ListOptions{}, kube.ServicePage(r.Clients.Kube, "")); err == nil {
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
		if items, err := kube.ListAll(ctx, metav1.ListOptions{}, unstructuredPage(r.Clients.Dynamic.Resource(enroll.ServiceEntryGVR))); err == nil || kube.IsMissingType(err) {
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
		var items []gatewayv1.Gateway
		if _, err := mesh.EachGateway(ctx, r.Clients.Gateway, mesh.GatewayQuery{}, func(gw *gatewayv1.Gateway) {
			items = append(items, *gw)
		}); err == nil || kube.IsMissingType(err) {
			r.Enroll.KnowAllWaypoints(ctx, items)
		}
	}
	if len(all) > prefetchAbove {
		if items, err := kube.ListAll(ctx, metav1.ListOptions{}, kube.NamespacePage(r.Clients.Kube)); err == nil {
			r.Enroll.KnowAllNamespaces(items)
		}
	}
}
