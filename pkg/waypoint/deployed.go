package waypoint

import (
	"context"
	"slices"
	"sort"
	"strings"

	appsv1 "k8s.io/api/apps/v1"
	autoscalingv2 "k8s.io/api/autoscaling/v2"
	corev1 "k8s.io/api/core/v1"
	policyv1 "k8s.io/api/policy/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	gatewayv1 "sigs.k8s.io/gateway-api/apis/v1"

	"github.com/kubectl-waypoint/kubectl-waypoint/pkg/istio"
	"github.com/kubectl-waypoint/kubectl-waypoint/pkg/kube"
	"github.com/kubectl-waypoint/kubectl-waypoint/pkg/mesh"
)

// Deployed is what runs for a waypoint, read from the API server: the
// Deployment istiod's deployment controller made for it, and the
// HorizontalPodAutoscaler and PodDisruptionBudget it makes when their
// overlays exist, with the status the cluster's controllers wrote. Each is
// nil when there is none, or when it could not be read (Unknown names
// those). It is never read from the parameters ConfigMap: an overlay that
// istiod could not apply would show as asked when it is not.
type Deployed struct {
	Replicas   *Replicas   `json:"replicas"`
	Autoscaler *Autoscaler `json:"autoscaler"`
	Budget     *Budget     `json:"budget"`
	// Unknown names what could not be read: ObjectDeployment,
	// ObjectAutoscaler, ObjectBudget.
	Unknown []string `json:"unknown,omitempty"`
}

// The objects of Deployed, as Unknown names them.
const (
	ObjectDeployment = "deployment"
	ObjectAutoscaler = "autoscaler"
	ObjectBudget     = "budget"
)

// Replicas are the replicas of the waypoint's Deployment.
type Replicas struct {
	// Deployment is its name: the waypoint's, or the name-override
	// annotation's.
	Deployment string `json:"deployment"`
	// Desired is spec.replicas (1 when unset, as the API server defaults
	// it): what the deployment controller runs, and what an autoscaler
	// sets when there is one.
	Desired int32 `json:"desired"`
	// Ready is status.readyReplicas.
	Ready int32 `json:"ready"`
}

// Autoscaler is the waypoint's HorizontalPodAutoscaler.
type Autoscaler struct {
	Name string `json:"name"`
	// Min is spec.minReplicas (1 when unset), Max spec.maxReplicas.
	Min int32 `json:"min"`
	Max int32 `json:"max"`
	// CPUPercent is the target average CPU utilization, when it has one.
	CPUPercent *int32 `json:"cpuPercent,omitempty"`
	// Current is status.currentReplicas; nil until the autoscaler has
	// written a status.
	Current *int32 `json:"current,omitempty"`
}

// Budget is the waypoint's PodDisruptionBudget: one of its two fields, as
// the object holds it (a number or a percentage).
type Budget struct {
	Name           string `json:"name"`
	MinAvailable   string `json:"minAvailable,omitempty"`
	MaxUnavailable string `json:"maxUnavailable,omitempty"`
}

// Knows says whether the object (ObjectDeployment, ...) was read.
func (d Deployed) Knows(object string) bool { return !slices.Contains(d.Unknown, object) }

// Fewest is the fewest replicas the waypoint runs: the autoscaler's
// minimum when it has one, else the Deployment's replicas. ok is false
// when that is not known: no Deployment yet, or one of them unread.
func (d Deployed) Fewest() (n int32, ok bool) {
	if d.Replicas == nil || !d.Knows(ObjectAutoscaler) {
		return 0, false
	}
	if d.Autoscaler != nil {
		return d.Autoscaler.Min, true
	}
	return d.Replicas.Desired, true
}

// UnreadList is a list of what runs for the waypoints that failed.
type UnreadList struct {
	// Resource is the API resource: deployments, horizontalpodautoscalers
	// or poddisruptionbudgets.
	Resource string
	// Namespace is the namespace read; empty for the list across the
	// cluster.
	Namespace string
	Err       error
}

// DeployedRead is what ReadDeployed found.
type DeployedRead struct {
	// ByWaypoint is what runs for each waypoint, by namespace/name; every
	// waypoint asked about has an entry.
	ByWaypoint map[string]Deployed
	// Unread are the lists that failed, in the order of the resources.
	Unread []UnreadList
}

// The resources ReadDeployed lists.
const (
	ResourceDeployments = "deployments"
	ResourceAutoscalers = "horizontalpodautoscalers"
	ResourceBudgets     = "poddisruptionbudgets"
)

// ReadDeployed reads what runs for the waypoints wps: one paged list of
// Deployments, one of HorizontalPodAutoscalers and one of
// PodDisruptionBudgets, of the objects with the label
// gateway.networking.k8s.io/gateway-name (istiod puts it on all three),
// in the one namespace of the waypoints, or across the cluster when they
// span several (then in each of their namespaces for a user who may not
// list across it). Whatever the number of waypoints, that is three lists.
// Each object belongs to the waypoint its owner reference names (the
// Gateway, by name and, when the waypoint kept its Gateway, by UID), so
// that a Deployment renamed by gateway.istio.io/name-override is found.
func ReadDeployed(ctx context.Context, c *kube.Clients, wps []mesh.Waypoint) DeployedRead {
	out := DeployedRead{ByWaypoint: make(map[string]Deployed, len(wps))}
	if len(wps) == 0 {
		return out
	}
	var namespaces []string
	for _, w := range wps {
		if !slices.Contains(namespaces, w.Namespace) {
			namespaces = append(namespaces, w.Namespace)
		}
	}
	sort.Strings(namespaces)
	owners := ownerIndex(wps)
	found := map[string]*Deployed{}
	for _, w := range wps {
		found[w.Key()] = &Deployed{}
	}
	opts := metav1.ListOptions{LabelSelector: istio.LabelGatewayName, Limit: kube.PageSize}
	unknown := func(resource, object string, read kube.ScopeRead) {
		for ns, err := range read.Failed {
			out.Unread = append(out.Unread, UnreadList{Resource: resource, Namespace: ns, Err: err})
			for _, w := range wps {
				if ns == "" || ns == w.Namespace {
					found[w.Key()].Unknown = append(found[w.Key()].Unknown, object)
				}
			}
		}
	}

	var deps []appsv1.Deployment
	unknown(ResourceDeployments, ObjectDeployment, readScope(ctx, namespaces, func(ctx context.Context, ns string) error {
		var got []appsv1.Deployment
		err := eachPage(ctx, opts, func(ctx context.Context, o metav1.ListOptions) (string, error) {
			l, err := c.Kube.AppsV1().Deployments(ns).List(ctx, o)
			if err != nil {
				return "", err
			}
			got = append(got, l.Items...)
			return l.Continue, nil
		})
		deps = append(deps, got...)
		return err
	}))
	var hpas []autoscalingv2.HorizontalPodAutoscaler
	unknown(ResourceAutoscalers, ObjectAutoscaler, readScope(ctx, namespaces, func(ctx context.Context, ns string) error {
		var got []autoscalingv2.HorizontalPodAutoscaler
		err := eachPage(ctx, opts, func(ctx context.Context, o metav1.ListOptions) (string, error) {
			l, err := c.Kube.AutoscalingV2().HorizontalPodAutoscalers(ns).List(ctx, o)
			if err != nil {
				return "", err
			}
			got = append(got, l.Items...)
			return l.Continue, nil
		})
		hpas = append(hpas, got...)
		return err
	}))
	var pdbs []policyv1.PodDisruptionBudget
	unknown(ResourceBudgets, ObjectBudget, readScope(ctx, namespaces, func(ctx context.Context, ns string) error {
		var got []policyv1.PodDisruptionBudget
		err := eachPage(ctx, opts, func(ctx context.Context, o metav1.ListOptions) (string, error) {
			l, err := c.Kube.PolicyV1().PodDisruptionBudgets(ns).List(ctx, o)
			if err != nil {
				return "", err
			}
			got = append(got, l.Items...)
			return l.Continue, nil
		})
		pdbs = append(pdbs, got...)
		return err
	}))

	// Sorted by name, so that the first of two objects owned by one
	// waypoint (which istiod never makes) is always the same.
	sort.Slice(deps, func(i, j int) bool { return deps[i].Name < deps[j].Name })
	sort.Slice(hpas, func(i, j int) bool { return hpas[i].Name < hpas[j].Name })
	sort.Slice(pdbs, func(i, j int) bool { return pdbs[i].Name < pdbs[j].Name })
	for i := range deps {
		if d := owners.of(found, &deps[i].ObjectMeta); d != nil && d.Replicas == nil && d.Knows(ObjectDeployment) {
			d.Replicas = replicasOf(&deps[i])
		}
	}
	for i := range hpas {
		if d := owners.of(found, &hpas[i].ObjectMeta); d != nil && d.Autoscaler == nil && d.Knows(ObjectAutoscaler) {
			d.Autoscaler = autoscalerOf(&hpas[i])
		}
	}
	for i := range pdbs {
		if d := owners.of(found, &pdbs[i].ObjectMeta); d != nil && d.Budget == nil && d.Knows(ObjectBudget) {
			d.Budget = budgetOf(&pdbs[i])
		}
	}
	for k, d := range found {
		out.ByWaypoint[k] = *d
	}
	return out
}

// readScope reads in the one namespace, or across the cluster falling back
// on each namespace (kube.ReadScope), one namespace at a time: read keeps
// what it found only when it succeeds, as a failed try is tried again.
func readScope(ctx context.Context, namespaces []string, read func(ctx context.Context, ns string) error) kube.ScopeRead {
	return kube.ReadScope(ctx, namespaces, 1, read)
}

// eachPage calls list for each page of a list, until the continue token
// it returns is empty.
func eachPage(ctx context.Context, opts metav1.ListOptions, list func(context.Context, metav1.ListOptions) (string, error)) error {
	for {
		next, err := list(ctx, opts)
		if err != nil || next == "" {
			return err
		}
		opts.Continue = next
	}
}

// owners finds the waypoint an object of istiod's belongs to.
type owners struct {
	// uids are the Gateways' UIDs by key, for the waypoints that kept
	// their Gateway.
	uids map[string]string
}

func ownerIndex(wps []mesh.Waypoint) owners {
	o := owners{uids: map[string]string{}}
	for _, w := range wps {
		if w.Gateway != nil {
			o.uids[w.Key()] = string(w.Gateway.UID)
		}
	}
	return o
}

// of is the entry of the waypoint that owns m, nil when none of found does.
func (o owners) of(found map[string]*Deployed, m *metav1.ObjectMeta) *Deployed {
	for _, ref := range m.OwnerReferences {
		if ref.Kind != "Gateway" || !isGatewayAPIVersion(ref.APIVersion) {
			continue
		}
		key := m.Namespace + "/" + ref.Name
		d := found[key]
		if d == nil {
			continue
		}
		if uid, ok := o.uids[key]; ok && uid != "" && string(ref.UID) != uid {
			continue // left by an earlier Gateway of that name
		}
		return d
	}
	return nil
}

func isGatewayAPIVersion(apiVersion string) bool {
	group, _, _ := strings.Cut(apiVersion, "/")
	return group == gatewayv1.GroupName
}

func replicasOf(dep *appsv1.Deployment) *Replicas {
	r := &Replicas{Deployment: dep.Name, Desired: 1, Ready: dep.Status.ReadyReplicas}
	if dep.Spec.Replicas != nil {
		r.Desired = *dep.Spec.Replicas
	}
	return r
}

func autoscalerOf(hpa *autoscalingv2.HorizontalPodAutoscaler) *Autoscaler {
	a := &Autoscaler{Name: hpa.Name, Min: 1, Max: hpa.Spec.MaxReplicas}
	if hpa.Spec.MinReplicas != nil {
		a.Min = *hpa.Spec.MinReplicas
	}
	for _, m := range hpa.Spec.Metrics {
		if m.Type == autoscalingv2.ResourceMetricSourceType && m.Resource != nil && m.Resource.Name == corev1.ResourceCPU &&
			m.Resource.Target.AverageUtilization != nil {
			a.CPUPercent = new(*m.Resource.Target.AverageUtilization)
		}
	}
	// The autoscaler has run once it wrote anything: a current count,
	// a scale time or conditions.
	if s := hpa.Status; s.CurrentReplicas > 0 || s.LastScaleTime != nil || len(s.Conditions) > 0 || s.ObservedGeneration != nil {
		a.Current = new(s.CurrentReplicas)
	}
	return a
}

func budgetOf(pdb *policyv1.PodDisruptionBudget) *Budget {
	b := &Budget{Name: pdb.Name}
	if v := pdb.Spec.MinAvailable; v != nil {
		b.MinAvailable = v.String()
	}
	if v := pdb.Spec.MaxUnavailable; v != nil {
		b.MaxUnavailable = v.String()
	}
	return b
}
