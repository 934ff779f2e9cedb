package istio

import "testing"

func TestEffectiveTrafficType(t *testing.T) {
	cases := []struct {
		name         string
		gw, class    map[string]string
		want         TrafficType
		services, wl bool
	}{
		{"gateway label wins", map[string]string{LabelWaypointFor: "workload"}, map[string]string{LabelWaypointFor: "all"}, TrafficWorkload, false, true},
		{"class label when the gateway has none", nil, map[string]string{LabelWaypointFor: "all"}, TrafficAll, true, true},
		{"service when neither has one", nil, nil, TrafficService, true, false},
		{"an empty gateway label counts as unset", map[string]string{LabelWaypointFor: ""}, nil, TrafficService, true, false},
		{"none serves nothing", map[string]string{LabelWaypointFor: "none"}, nil, TrafficNone, false, false},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			got := EffectiveTrafficType(tc.gw, tc.class)
			if got != tc.want || got.ServesServices() != tc.services || got.ServesWorkloads() != tc.wl {
				t.Errorf("got %s (services %v, workloads %v)", got, got.ServesServices(), got.ServesWorkloads())
			}
		})
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
