package istio

import "testing"

func TestTrafficTypeServes(t *testing.T) {
	cases := []struct {
		t            TrafficType
		services, wl bool
	}{
		{TrafficService, true, false},
		{TrafficWorkload, false, true},
		{TrafficAll, true, true},
		{TrafficNone, false, false},
		{"", false, false},
		{"Service", false, false},
	}
	for _, tc := range cases {
		if tc.t.ServesServices() != tc.services || tc.t.ServesWorkloads() != tc.wl {
			t.Errorf("%q: services %v, workloads %v", tc.t, tc.t.ServesServices(), tc.t.ServesWorkloads())
		}
	}
}

func TestParseTrafficType(t *testing.T) {
	for _, ok := range []string{"service", "workload", "all", "none"} {
		if _, err := ParseTrafficType(ok); err != nil {
			t.Errorf("%s: %v", ok, err)
		}
	}
	if _, err := ParseTrafficType("Service"); err == nil {
		t.Error("traffic types are case-sensitive, as istiod reads them")
	}
	if !IsWaypointClass(ClassAgentgatewayWaypoint) || IsWaypointClass("istio") {
		t.Error("IsWaypointClass")
	}
}
