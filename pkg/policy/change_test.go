package policy

import "testing"

func TestLossString(t *testing.T) {
	viewer := Policy{Kind: "AuthorizationPolicy", Namespace: "l7", Name: "viewer"}
	route := Policy{Kind: "HTTPRoute", Namespace: "l7", Name: "reviews"}
	user := Object{Kind: "Service", Namespace: "l7", Name: "reviews"}
	for _, tc := range []struct {
		loss Loss
		want string
	}{
		{Loss{Policy: viewer, Target: WaypointTarget("l7/waypoint"), By: WaypointObject("l7/waypoint"), Cause: "waypoint l7/waypoint deleted"},
			"AuthorizationPolicy l7/viewer would no longer be enforced: waypoint l7/waypoint deleted"},
		{Loss{Policy: viewer, Target: WaypointTarget("l7/waypoint"), User: &user, By: Object{Kind: "Namespace", Name: "l7"}, Cause: "namespace l7 unenrolled"},
			"AuthorizationPolicy l7/viewer would no longer be enforced for service l7/reviews: namespace l7 unenrolled"},
		{Loss{Policy: route, Target: Target{Kind: "Service", Namespace: "l7", Name: "reviews"}, By: user, Cause: "Service l7/reviews would be bound to no waypoint: service l7/reviews unenrolled"},
			"HTTPRoute l7/reviews would no longer be enforced: Service l7/reviews would be bound to no waypoint: service l7/reviews unenrolled"},
	} {
		if got := tc.loss.String(); got != tc.want {
			t.Errorf("got  %q\nwant %q", got, tc.want)
		}
	}
	im := &Impact{Losses: []Loss{{Policy: viewer, By: WaypointObject("l7/a")}, {Policy: route, By: WaypointObject("l7/a")}, {Policy: route, By: user}}}
	if by := im.By(); len(by[WaypointObject("l7/a")]) != 2 || len(by[user]) != 1 {
		t.Errorf("By: %v", by)
	}
	if got := (Object{Kind: "Namespace", Name: "l7"}).String(); got != "namespace l7" {
		t.Errorf("namespace: %q", got)
	}
}
