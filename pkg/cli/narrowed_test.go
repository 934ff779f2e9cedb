package cli

import (
	"testing"

	"github.com/kubectl-waypoint/kubectl-waypoint/pkg/enroll"
)

// TestUnitWarnListGaps: the kinds searched in the waypoint's namespace only
// make one line; those not searched, one line per namespace.
func TestUnitWarnListGaps(t *testing.T) {
	io, out, errOut := TestStreams(false)
	warnListGaps(io, []enroll.ListGap{
		{Kind: enroll.KindNamespace, Instead: "team"},
		{Kind: enroll.KindService, Instead: "team"},
		{Kind: enroll.KindServiceEntry, Namespace: "team"},
		{Kind: enroll.KindWorkloadEntry, Namespace: "team"},
		{Kind: enroll.KindPod, Namespace: "other"},
	}, "team/waypoint")
	want := "Warning: you may not list namespaces, services across the cluster: only namespace team was searched; resources of other namespaces may also use waypoint team/waypoint\n" +
		"Warning: you may not list serviceentries, workloadentries in namespace team: they were not searched for resources that use waypoint team/waypoint\n" +
		"Warning: you may not list pods in namespace other: they were not searched for resources that use waypoint team/waypoint\n"
	if errOut.String() != want || out.Len() != 0 {
		t.Errorf("stderr:\n%s\nwant:\n%s", errOut, want)
	}
	io, _, errOut = TestStreams(false)
	warnListGaps(io, nil, "team/waypoint")
	if errOut.Len() != 0 {
		t.Errorf("no gaps, yet %q", errOut)
	}
}
