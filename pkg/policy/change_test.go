package policy

import (
	"context"
	"slices"
	"testing"

	"github.com/kubectl-waypoint/kubectl-waypoint/pkg/enroll"
	"github.com/kubectl-waypoint/kubectl-waypoint/pkg/mesh"
)

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

// losses describes an Impact's losses as "policy [for user] by object: cause".
func losses(im *Impact) []string {
	var out []string
	for _, l := range im.Losses {
		s := l.Policy.Kind + " " + l.Policy.Key()
		if l.User != nil {
			s += " for " + l.User.String()
		}
		out = append(out, s+" by "+l.By.String()+": "+l.Cause)
	}
	return out
}

func TestImpact(t *testing.T) {
	reviews := Object{Kind: "Service", Namespace: "app", Name: "reviews"}
	ratings := Object{Kind: "Service", Namespace: "app", Name: "ratings"}
	api := Object{Kind: "ServiceEntry", Namespace: "app", Name: "api"}
	app := Object{Kind: "Namespace", Name: "app"}
	wp := WaypointObject("infra/wp")
	policies := func() cluster {
		return smallMesh(
			obj(apV1, "AuthorizationPolicy", "app", "on-reviews", 1, targets(ref("Service", "reviews"))),
			obj(apV1, "AuthorizationPolicy", "infra", "on-wp", 1, targets(ref("Gateway", "wp"))),
			obj(routeV1, "HTTPRoute", "app", "to-ratings", 1, parents(ref("Service", "ratings"))),
		)
	}
	for _, tc := range []struct {
		name   string
		change Change
		want   []string
		// after is the verdict of each policy after the change.
		after map[string]bool
	}{
		{
			name:   "the waypoint deleted: its own policy, and those of the services bound to it",
			change: Change{Waypoints: map[string]*mesh.Waypoint{"infra/wp": nil}, Causes: map[Object]string{wp: "waypoint infra/wp deleted"}},
			want: []string{
				"AuthorizationPolicy app/on-reviews by waypoint infra/wp: Service app/reviews would be bound to no waypoint: waypoint infra/wp deleted",
				"AuthorizationPolicy infra/on-wp by waypoint infra/wp: waypoint infra/wp deleted",
			},
			after: map[string]bool{"app/on-reviews": false, "infra/on-wp": false, "app/to-ratings": false},
		},
		{
			name: "a service unenrolled: its own policy, and the waypoint's for its traffic",
			change: Change{Labels: map[Object]map[string]string{reviews: {}},
				Causes: map[Object]string{reviews: "service app/reviews unenrolled"}},
			want: []string{
				"AuthorizationPolicy app/on-reviews by service app/reviews: Service app/reviews would be bound to no waypoint: service app/reviews unenrolled",
				"AuthorizationPolicy infra/on-wp for service app/reviews by service app/reviews: service app/reviews unenrolled",
			},
			after: map[string]bool{"app/on-reviews": false, "infra/on-wp": true, "app/to-ratings": false},
		},
		{
			name:   "a service enrolled: nothing lost, and its route is enforced after",
			change: Change{Labels: map[Object]map[string]string{ratings: useInfra}},
			after:  map[string]bool{"app/on-reviews": true, "infra/on-wp": true, "app/to-ratings": true},
		},
		{
			name: "the namespace labelled to none: every service and entry of it that used the waypoint",
			change: Change{Labels: map[Object]map[string]string{app: {"istio.io/use-waypoint": "none"}},
				Before: map[Object]map[string]string{app: useInfra},
				Causes: map[Object]string{app: "namespace app unenrolled"}},
			// The labels of reviews and api themselves name the waypoint:
			// a namespace's label does not override them.
			after: map[string]bool{"app/on-reviews": true, "infra/on-wp": true, "app/to-ratings": false},
		},
		{
			name: "the service entry moved to another waypoint: the waypoint's policy for its traffic",
			change: Change{Labels: map[Object]map[string]string{api: {"istio.io/use-waypoint": "unbound"}},
				Causes: map[Object]string{api: "serviceentry app/api moved to waypoint app/unbound"}},
			want: []string{
				"AuthorizationPolicy infra/on-wp for serviceentry app/api by serviceentry app/api: serviceentry app/api moved to waypoint app/unbound",
			},
			after: map[string]bool{"app/on-reviews": true, "infra/on-wp": true, "app/to-ratings": false},
		},
		{
			name:   "a user given without a cause: said in words all the same",
			change: Change{Waypoints: map[string]*mesh.Waypoint{}, Users: []Object{reviews}, Labels: map[Object]map[string]string{reviews: {"istio.io/use-waypoint": "none"}}},
			want: []string{
				// No cause given: the words are those of the prediction.
				"AuthorizationPolicy app/on-reviews by service app/reviews: Service app/reviews is not bound to a waypoint: uses no waypoint: opted out by its own label",
				"AuthorizationPolicy infra/on-wp for service app/reviews by service app/reviews: its traffic would no longer go through waypoint infra/wp",
			},
			after: map[string]bool{"app/on-reviews": false, "infra/on-wp": true, "app/to-ratings": false},
		},
	} {
		t.Run(tc.name, func(t *testing.T) {
			c := policies()
			im, err := NewReader(c.clients()).Impact(context.Background(), []string{"app", "infra"}, tc.change)
			if err != nil {
				t.Fatal(err)
			}
			if got := losses(im); !slices.Equal(got, tc.want) {
				t.Errorf("losses\n got %q\nwant %q", got, tc.want)
			}
			if len(im.Before) != 3 || len(im.After) != 3 {
				t.Fatalf("%d policies before, %d after; want 3 and 3", len(im.Before), len(im.After))
			}
			for i, p := range im.After {
				if p.Key() != im.Before[i].Key() {
					t.Errorf("after[%d] is %s, before[%d] %s", i, p.Key(), i, im.Before[i].Key())
				}
				if want, ok := tc.after[p.Key()]; !ok || p.Enforced != want {
					t.Errorf("%s after: enforced %v (%s), want %v", p.Key(), p.Enforced, p.Reason, want)
				}
			}
		})
	}
}

func TestChangeOf(t *testing.T) {
	for k, want := range map[enroll.Kind]string{
		enroll.KindNamespace: "Namespace", enroll.KindService: "Service", enroll.KindServiceEntry: "ServiceEntry",
		enroll.KindPod: "", enroll.KindWorkloadEntry: "",
	} {
		if got := ChangeOf(k); got != want {
			t.Errorf("ChangeOf(%v) = %q, want %q", k, got, want)
		}
	}
}

// TestImpactNamespaceBefore: a relabelled namespace whose label named no
// waypoint with policies needs no list of its services. Its labels are
// read as istiod reads them: an empty use-waypoint-namespace names
// waypoint "/wp", which has none (the first reading took infra/wp, and
// listed the services of infra for nothing: none of them used it).
func TestImpactNamespaceBefore(t *testing.T) {
	infra := Object{Kind: "Namespace", Name: "infra"}
	for _, tc := range []struct {
		name   string
		before map[string]string
		lists  int
	}{
		{"names infra/wp, which has a policy", map[string]string{"istio.io/use-waypoint": "wp"}, 1},
		{"an empty use-waypoint-namespace names /wp", map[string]string{"istio.io/use-waypoint": "wp", "istio.io/use-waypoint-namespace": ""}, 0},
		{"a use-waypoint-namespace alone names nothing", map[string]string{"istio.io/use-waypoint-namespace": "infra"}, 0},
		{"opted out", map[string]string{"istio.io/use-waypoint": "none"}, 0},
	} {
		t.Run(tc.name, func(t *testing.T) {
			c := smallMesh(obj(apV1, "AuthorizationPolicy", "infra", "on-wp", 1, targets(ref("Gateway", "wp"))))
			ch := Change{Labels: map[Object]map[string]string{infra: {}}, Before: map[Object]map[string]string{infra: tc.before}}
			im, err := NewReader(c.clients()).Impact(context.Background(), []string{"infra"}, ch)
			if err != nil {
				t.Fatal(err)
			}
			if len(im.Losses) != 0 {
				t.Errorf("losses %q", losses(im))
			}
			if got := c.count("list", "services"); got != tc.lists {
				t.Errorf("%d lists of services, want %d", got, tc.lists)
			}
		})
	}
}
