package enroll

import (
	"context"
	"fmt"
	"strings"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/kubectl-waypoint/kubectl-waypoint/pkg/kube"
)

// Counts are how many resources of each kind name a waypoint in their own
// istio.io/use-waypoint label.
type Counts struct {
	Namespaces      int `json:"namespaces"`
	Services        int `json:"services"`
	Pods            int `json:"pods"`
	ServiceEntries  int `json:"serviceEntries"`
	WorkloadEntries int `json:"workloadEntries"`
}

// String is the compact form of a table cell: "ns:1 svc:2 po:0 se:0",
// with "we:N" when WorkloadEntries name the waypoint.
func (c Counts) String() string {
	s := fmt.Sprintf("ns:%d svc:%d po:%d se:%d", c.Namespaces, c.Services, c.Pods, c.ServiceEntries)
	if c.WorkloadEntries > 0 {
		s += fmt.Sprintf(" we:%d", c.WorkloadEntries)
	}
	return s
}

func (c *Counts) add(k Kind) {
	switch k {
	case KindNamespace:
		c.Namespaces++
	case KindService:
		c.Services++
	case KindPod:
		c.Pods++
	case KindServiceEntry:
		c.ServiceEntries++
	case KindWorkloadEntry:
		c.WorkloadEntries++
	}
}

// maxNamesInSelector bounds the "in (...)" list of a label selector; beyond
// it every enrolled resource is listed and filtered here.
const maxNamesInSelector = 50

// CountEnrolled counts, for each waypoint key (namespace/name), the
// resources of every kind, in any namespace, whose enrollment labels name
// it. It sends one paged metadata list per kind, whatever the number of
// waypoints. A cluster without the Istio CRDs has no ServiceEntries.
func CountEnrolled(ctx context.Context, c *kube.Clients, keys []string) (map[string]Counts, error) {
	counts := make(map[string]*Counts, len(keys))
	names := map[string]bool{}
	for _, k := range keys {
		counts[k] = &Counts{}
		_, name, _ := strings.Cut(k, "/")
		names[name] = true
	}
	out := make(map[string]Counts, len(keys))
	if len(keys) == 0 {
		return out, nil
	}
	list := make([]string, 0, len(names))
	for n := range names {
		list = append(list, n)
	}
	selector := namedSelector(list)
	for _, kind := range Kinds {
		// Retried like every read: each attempt starts over.
		var named []string
		err := kube.Retry(ctx, func() error {
			named = nil
			return eachMetadata(ctx, c, kind, "", selector, func(m *metav1.PartialObjectMetadata) {
				own := m.Namespace
				if kind == KindNamespace {
					own = m.Name
				}
				named = append(named, UseOf(m.Labels, own).Key())
			})
		})
		if err != nil {
			if kind.IsIstio() && kube.IsMissingType(err) {
				continue
			}
			return nil, err
		}
		for _, key := range named {
			if counts[key] != nil {
				counts[key].add(kind)
			}
		}
	}
	for k, v := range counts {
		out[k] = *v
	}
	return out, nil
}
