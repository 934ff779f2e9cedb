package policy

import (
	"context"
	"slices"
	"testing"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"

	"github.com/kubectl-waypoint/kubectl-waypoint/pkg/mesh"
)

// ingressMesh is waypoint infra/wp with a policy of its own, and in
// namespace app (istio.io/ingress-use-waypoint=true) three Services bound
// to it by their own labels: reviews (its own ingress label true, and a
// policy of its own), ratings (no ingress label: the namespace's decides;
// a route of its own) and details (its own label false).
func ingressMesh() cluster {
	label := func(svc map[string]string, ingress string) map[string]string {
		out := map[string]string{}
		for k, v := range svc {
			out[k] = v
		}
		if ingress != "" {
			out["istio.io/ingress-use-waypoint"] = ingress
		}
		return out
	}
	app := &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: "app", Labels: map[string]string{
		"kubernetes.io/metadata.name": "app", "istio.io/ingress-use-waypoint": "true"}}}
	return newCluster(
		[]runtime.Object{app, namespace("infra"), namespace("istio-system"),
			service("app", "reviews", label(useInfra, "true"), false),
			service("app", "ratings", label(useInfra, ""), false),
			service("app", "details", label(useInfra, "false"), false)},
		[]runtime.Object{waypointGateway("infra", "wp", "istio-waypoint", true), gatewayClass("istio-waypoint", "istio.io/mesh-controller")},
		[]runtime.Object{
			obj(apV1, "AuthorizationPolicy", "app", "on-reviews", 1, targets(ref("Service", "reviews"))),
			obj(apV1, "AuthorizationPolicy", "infra", "on-wp", 1, targets(ref("Gateway", "wp"))),
			obj(routeV1, "HTTPRoute", "app", "to-ratings", 1, parents(ref("Service", "ratings"))),
		},
	)
}

// TestImpactIngress: a change that leaves a service bound to its waypoint
// but stops its ingress traffic from taking it loses, for that traffic,
// the policies on the service and on the waypoint; the policies stay
// enforced for the rest (After).
func TestImpactIngress(t *testing.T) {
	reviews := Object{Kind: "Service", Namespace: "app", Name: "reviews"}
	app := Object{Kind: "Namespace", Name: "app"}
	ingressFalse := map[string]string{"istio.io/use-waypoint": "wp", "istio.io/use-waypoint-namespace": "infra", "istio.io/ingress-use-waypoint": "false"}
	for _, tc := range []struct {
		name   string
		change Change
		want   []string
	}{
		{
			name: "the service's own label removed: the namespace's still says true",
			change: Change{Labels: map[Object]map[string]string{reviews: useInfra},
				Causes: map[Object]string{reviews: "service app/reviews unlabeled istio.io/ingress-use-waypoint"}},
		},
		{
			name: "the service's own label set to false: its policy and the waypoint's, for its ingress traffic",
			change: Change{Labels: map[Object]map[string]string{reviews: ingressFalse},
				Causes: map[Object]string{reviews: "service app/reviews relabelled"}},
			want: []string{
				"AuthorizationPolicy app/on-reviews for ingress to service app/reviews by service app/reviews: service app/reviews relabelled",
				"AuthorizationPolicy infra/on-wp for ingress to service app/reviews by service app/reviews: service app/reviews relabelled",
			},
		},
		{
			// The namespace names no waypoint: only its ingress label
			// makes its services worth a look.
			name: "the namespace's label removed: what reads it loses its ingress traffic",
			change: Change{Labels: map[Object]map[string]string{app: {"kubernetes.io/metadata.name": "app"}},
				Before: map[Object]map[string]string{app: {"kubernetes.io/metadata.name": "app", "istio.io/ingress-use-waypoint": "true"}},
				Causes: map[Object]string{app: "namespace app unlabeled istio.io/ingress-use-waypoint"}},
			want: []string{
				"AuthorizationPolicy infra/on-wp for ingress to service app/ratings by namespace app: namespace app unlabeled istio.io/ingress-use-waypoint",
				"HTTPRoute app/to-ratings for ingress to service app/ratings by namespace app: namespace app unlabeled istio.io/ingress-use-waypoint",
			},
		},
		{
			name:   "the waypoint deleted: every policy loses all of its traffic, not only ingress",
			change: Change{Waypoints: map[string]*mesh.Waypoint{"infra/wp": nil}, Causes: map[Object]string{WaypointObject("infra/wp"): "waypoint infra/wp deleted"}},
			want: []string{
				"AuthorizationPolicy app/on-reviews by waypoint infra/wp: Service app/reviews would be bound to no waypoint: waypoint infra/wp deleted",
				"AuthorizationPolicy infra/on-wp by waypoint infra/wp: waypoint infra/wp deleted",
				"HTTPRoute app/to-ratings by waypoint infra/wp: Service app/ratings would be bound to no waypoint: waypoint infra/wp deleted",
			},
		},
	} {
		t.Run(tc.name, func(t *testing.T) {
			c := ingressMesh()
			im, err := NewReader(c.clients()).Impact(context.Background(), []string{"app", "infra"}, tc.change)
			if err != nil {
				t.Fatal(err)
			}
			var got []string
			for _, l := range im.Losses {
				s := l.Policy.Kind + " " + l.Policy.Key()
				switch {
				case l.Ingress && l.User != nil:
					s += " for ingress to " + l.User.String()
				case l.Ingress:
					t.Errorf("an ingress loss without its user: %+v", l)
				case l.User != nil:
					s += " for " + l.User.String()
				}
				got = append(got, s+" by "+l.By.String()+": "+l.Cause)
			}
			if !slices.Equal(got, tc.want) {
				t.Errorf("losses\n got %q\nwant %q", got, tc.want)
			}
			if tc.change.Waypoints != nil {
				return
			}
			// Ingress aside, every policy stays enforced.
			for _, p := range im.After {
				if !p.Enforced {
					t.Errorf("%s %s not enforced after the change: %s", p.Kind, p.Key(), p.Message)
				}
			}
		})
	}
}

// TestImpactIngressCause: an ingress loss without a cause given says it
// in words, naming the waypoint when it is the waypoint's policy.
func TestImpactIngressCause(t *testing.T) {
	reviews := Object{Kind: "Service", Namespace: "app", Name: "reviews"}
	ch := Change{Labels: map[Object]map[string]string{reviews: {"istio.io/use-waypoint": "wp", "istio.io/use-waypoint-namespace": "infra"}}}
	ch.Labels[reviews]["istio.io/ingress-use-waypoint"] = "no"
	im, err := NewReader(ingressMesh().clients()).Impact(context.Background(), nil, ch)
	if err != nil {
		t.Fatal(err)
	}
	want := []string{
		"AuthorizationPolicy app/on-reviews would no longer be enforced for ingress traffic to service app/reviews: its ingress traffic would no longer go through its waypoint",
		"AuthorizationPolicy infra/on-wp would no longer be enforced for ingress traffic to service app/reviews: its ingress traffic would no longer go through waypoint infra/wp",
	}
	if got := Lines(im.Losses); !slices.Equal(got, want) {
		t.Errorf("lines\n got %q\nwant %q", got, want)
	}
}
