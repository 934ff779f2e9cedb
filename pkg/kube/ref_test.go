package kube

import "testing"

func TestRefString(t *testing.T) {
	for _, tc := range []struct {
		ref  Ref
		want string
	}{
		{Ref{Kind: "Service", Namespace: "default", Name: "reviews"}, "service default/reviews"},
		{Ref{Kind: "ServiceEntry", Namespace: "ns", Name: "istio-site"}, "serviceentry ns/istio-site"},
		{Ref{Kind: "WorkloadEntry", Namespace: "ns", Name: "vm"}, "workloadentry ns/vm"},
		{Ref{Kind: "Pod", Namespace: "ns", Name: "p"}, "pod ns/p"},
		{Ref{Kind: "Namespace", Name: "default"}, "namespace default"},
		{Ref{Kind: "Gateway", Namespace: "l7", Name: "waypoint"}, "waypoint l7/waypoint"},
	} {
		if got := tc.ref.String(); got != tc.want {
			t.Errorf("%#v: %q, want %q", tc.ref, got, tc.want)
		}
	}
}
