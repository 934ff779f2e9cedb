package waypoint

import (
	"context"
	"slices"
	"sync"

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/kubernetes"
	gatewayv1 "sigs.k8s.io/gateway-api/apis/v1"
	gatewayclient "sigs.k8s.io/gateway-api/pkg/client/clientset/versioned"

	"github.com/kubectl-waypoint/kubectl-waypoint/pkg/kube"
	"github.com/kubectl-waypoint/kubectl-waypoint/pkg/mesh"
)

// InNamespaces runs read once for the namespaces of bulk work: in the one
// namespace when there is one; across the cluster ("") when there are
// several or none, the caller keeping only what is in scope; and, when a
// user whose rights end at their namespaces may not read the whole cluster,
// in each namespace in turn.
func InNamespaces(namespaces []string, read func(namespace string) error) error {
	if len(namespaces) == 1 {
		return read(namespaces[0])
	}
	err := read("")
	if len(namespaces) > 1 && apierrors.IsForbidden(err) {
		for _, ns := range namespaces {
			if err := read(ns); err != nil {
				return err
			}
		}
		return nil
	}
	return err
}

// ScopeRead is the outcome of reading the namespaces of bulk work.
type ScopeRead = kube.ScopeRead

// ReadScope reads the namespaces of bulk work; see kube.ReadScope.
func ReadScope(ctx context.Context, namespaces []string, concurrency int, read func(ctx context.Context, namespace string) error) ScopeRead {
	return kube.ReadScope(ctx, namespaces, concurrency, read)
}

// Contents maps namespace to the Content of the Gateway called name in
// each of namespaces where it exists, with one list where rights allow.
// Namespaces whose read failed are in the ScopeRead.
func Contents(ctx context.Context, client gatewayclient.Interface, namespaces []string, name string, concurrency int) (map[string]string, ScopeRead) {
	var mu sync.Mutex
	out := map[string]string{}
	read := ReadScope(ctx, namespaces, concurrency, func(ctx context.Context, ns string) error {
		list, err := mesh.GatewaysNamed(ctx, client, ns, name)
		if err != nil {
			return err
		}
		mu.Lock()
		defer mu.Unlock()
		for _, gw := range list.Items {
			if slices.Contains(namespaces, gw.Namespace) {
				out[gw.Namespace] = Content(&gw)
			}
		}
		return nil
	})
	return out, read
}

// Namespaces reads the namespaces with one list (filtered by selector, when
// given). It returns nil, and no error, when the user may not list
// namespaces: each apply then reads its own.
func Namespaces(ctx context.Context, client kubernetes.Interface, names []string, selector string) (map[string]*corev1.Namespace, error) {
	want := make(map[string]bool, len(names))
	for _, n := range names {
		want[n] = true
	}
	out := map[string]*corev1.Namespace{}
	err := kube.EachPage(ctx, metav1.ListOptions{LabelSelector: selector}, kube.NamespacePage(client), func(items []corev1.Namespace) error {
		for i := range items {
			if want[items[i].Name] {
				out[items[i].Name] = Slim(&items[i])
			}
		}
		return nil
	})
	if apierrors.IsForbidden(err) {
		return nil, nil
	}
	if err != nil {
		return nil, err
	}
	return out, nil
}

// Slim is ns with only what enrollment reads (name, labels, version): the
// managed fields, annotations and status of every namespace of a bulk
// run would otherwise stay in memory until its end.
func Slim(ns *corev1.Namespace) *corev1.Namespace {
	return &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: ns.Name, Labels: ns.Labels, ResourceVersion: ns.ResourceVersion}}
}

// WaitNamed waits until every waypoint of waiting, all called name in
// namespaces, is ready: one list for their current state and the version to
// watch from, then one watch (per namespace only where rights demand it).
// The versions that applies returned are no place to start: an unchanged
// waypoint keeps its old one, which may be too old to watch from.
func WaitNamed(ctx context.Context, client gatewayclient.Interface, namespaces []string, name string, waiting map[string]*mesh.Waypoint) error {
	return InNamespaces(namespaces, func(ns string) error {
		var list *gatewayv1.GatewayList
		// The list is retried like every read: one lost answer must not end
		// a wait that the watch would have finished.
		err := kube.Retry(ctx, func() (err error) {
			list, err = mesh.GatewaysNamed(ctx, client, ns, name)
			return err
		})
		if err != nil {
			return err
		}
		inScope := map[string]*mesh.Waypoint{}
		for key, w := range waiting {
			if ns == "" || w.Namespace == ns {
				inScope[key] = w
			}
		}
		for i := range list.Items {
			if w, ok := inScope[list.Items[i].Namespace+"/"+list.Items[i].Name]; ok {
				w.UpdateStatus(&list.Items[i])
			}
		}
		scope := WaitScope{Namespace: ns, Name: name, ResourceVersion: list.ResourceVersion}
		return WaitReady(ctx, client, scope, inScope)
	})
}
