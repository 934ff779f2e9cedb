package fleet

import (
	"reflect"
	"testing"
)

func TestCompare(t *testing.T) {
	wp := Waypoint{Class: "istio-waypoint", TrafficType: "service", Revision: "default", AllowedFrom: "Same"}
	all := wp
	all.TrafficType = "all"
	canary := wp
	canary.Revision, canary.AllowedFrom = "canary", "All"
	contexts := []string{"a", "b", "c"}
	same := Snapshot{Waypoints: map[string]Waypoint{"ns/waypoint": wp}, Namespaces: map[string]string{"ns": "waypoint"}}
	if d := Compare(contexts, map[string]Snapshot{"a": same, "b": same, "c": same}); len(d) != 0 {
		t.Errorf("equal snapshots: %+v", d)
	}
	got := Compare(contexts, map[string]Snapshot{
		"a": same,
		"b": {Waypoints: map[string]Waypoint{"ns/waypoint": all, "other/waypoint": wp}, Namespaces: map[string]string{"ns": "other/waypoint"}},
		"c": {Waypoints: map[string]Waypoint{"ns/waypoint": canary}},
	})
	want := []Difference{
		{Kind: "waypoint", Name: "ns/waypoint", Field: "traffic type", Values: map[string]string{"a": "service", "b": "all", "c": "service"}},
		{Kind: "waypoint", Name: "ns/waypoint", Field: "revision", Values: map[string]string{"a": "default", "b": "default", "c": "canary"}},
		{Kind: "waypoint", Name: "ns/waypoint", Field: "allowed from", Values: map[string]string{"a": "Same", "b": "Same", "c": "All"}},
		{Kind: "waypoint", Name: "other/waypoint", Field: "present", Values: map[string]string{"a": "no", "b": "yes", "c": "no"}},
		{Kind: "namespace", Name: "ns", Field: "use-waypoint", Values: map[string]string{"a": "waypoint", "b": "other/waypoint", "c": NotEnrolled}},
	}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("got\n%+v\nwant\n%+v", got, want)
	}
	// A class that differs among the clusters that have the waypoint; the
	// one without it shows Missing, and it is missing once, as "present".
	agw := wp
	agw.Class = "istio-agentgateway-waypoint"
	got = Compare(contexts, map[string]Snapshot{
		"a": {Waypoints: map[string]Waypoint{"ns/w": wp}},
		"b": {Waypoints: map[string]Waypoint{"ns/w": agw}},
		"c": {},
	})
	want = []Difference{
		{Kind: "waypoint", Name: "ns/w", Field: "present", Values: map[string]string{"a": "yes", "b": "yes", "c": "no"}},
		{Kind: "waypoint", Name: "ns/w", Field: "class", Values: map[string]string{"a": "istio-waypoint", "b": "istio-agentgateway-waypoint", "c": Missing}},
	}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("got\n%+v\nwant\n%+v", got, want)
	}
}
