package enroll

import (
	"context"
	"testing"

	"github.com/kubectl-waypoint/kubectl-waypoint/pkg/istio"
)

// FuzzResolveLabels resolves objects whose enrollment labels (and their
// namespace's) hold arbitrary values, against the scene's cluster: it must
// never panic or fail to read, and the answer must hang together: a
// reason and a message always, a waypoint used only when one is named
// and exists, and never one for an object that opts out.
func FuzzResolveLabels(f *testing.F) {
	f.Add(uint8(0), "wp", "", "", "")
	f.Add(uint8(1), "shared", "infra", "wp", "app")
	f.Add(uint8(2), "none", "", "gone", "app")
	f.Add(uint8(3), "", "app", "", "")
	f.Add(uint8(4), "Bad Name!", "x/y", "wp", "")
	f.Add(uint8(1), "ingress", "app", "", "infra")
	f.Fuzz(func(t *testing.T, kind uint8, use, useNS, nsUse, nsUseNS string) {
		kinds := []Kind{KindService, KindPod, KindServiceEntry, KindWorkloadEntry, KindNamespace}
		k := kinds[int(kind)%len(kinds)]
		c := scene(nsObj("fuzz", map[string]string{istio.LabelUseWaypoint: nsUse, istio.LabelUseWaypointNamespace: nsUseNS}))
		r := NewReader(c.clients())
		labels := map[string]string{istio.LabelUseWaypoint: use, istio.LabelUseWaypointNamespace: useNS}
		s := Subject{Kind: k, Namespace: "fuzz", Name: "obj", Labels: labels}
		if k == KindNamespace {
			s.Name = "fuzz"
		}
		res, err := r.Resolve(context.Background(), s)
		if err != nil {
			t.Fatalf("%+v: %v", s, err)
		}
		if res.Reason == "" || res.Message == "" {
			t.Fatalf("%+v: no reason or message: %+v", s, res)
		}
		if res.Uses && (res.Waypoint == "" || res.Facts == nil) {
			t.Fatalf("%+v: uses a waypoint that is not named or does not exist: %+v", s, res)
		}
		if use == "none" && res.Uses {
			t.Fatalf("%+v: opted out, but uses %s", s, res.Waypoint)
		}
	})
}
