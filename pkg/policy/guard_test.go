package policy

import (
	"context"
	"errors"
	"strings"
	"testing"

	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/runtime/schema"
	k8stesting "k8s.io/client-go/testing"

	"github.com/kubectl-waypoint/kubectl-waypoint/pkg/bulk"
	"github.com/kubectl-waypoint/kubectl-waypoint/pkg/kube"
	"github.com/kubectl-waypoint/kubectl-waypoint/pkg/mesh"
)

// TestGuard: the one L7 guard of every write refuses the objects whose
// change loses a policy, lets them through with Force and names the
// losses, reads again in Scope when it may not read across the cluster,
// and refuses the whole change when the check cannot be made: a refusal
// (forbidden) when the user may not read the policies, a failure when the
// server fails; only Force goes ahead unchecked. An empty change reads
// nothing.
func TestGuard(t *testing.T) {
	reviews := Object{Kind: "Service", Namespace: "app", Name: "reviews"}
	unenroll := Change{Labels: map[Object]map[string]string{reviews: {}}, Causes: map[Object]string{reviews: "service app/reviews unenrolled"}}
	withPolicies := func() cluster {
		return smallMesh(
			obj(apV1, "AuthorizationPolicy", "app", "on-reviews", 1, targets(ref("Service", "reviews"))),
			obj(apV1, "AuthorizationPolicy", "infra", "on-wp", 1, targets(ref("Gateway", "wp"))),
		)
	}
	forbidAcross := func(c cluster) {
		c.dynamic.PrependReactor("list", "authorizationpolicies", func(a k8stesting.Action) (bool, runtime.Object, error) {
			if a.GetNamespace() == "" {
				return true, nil, apierrors.NewForbidden(schema.GroupResource{Group: "security.istio.io", Resource: "authorizationpolicies"}, "", errors.New("no"))
			}
			return false, nil, nil
		})
	}
	failing := func(c cluster) {
		c.dynamic.PrependReactor("list", "authorizationpolicies", func(k8stesting.Action) (bool, runtime.Object, error) {
			return true, nil, apierrors.NewBadRequest("the field selector is not supported")
		})
	}
	for _, tc := range []struct {
		name   string
		change Change
		guard  Guard
		fault  func(cluster)
		// refused and forced count the losses; lists the lists of
		// AuthorizationPolicies sent.
		refused, forced int
		unchecked       bool
		err             string
		// forbidden says err is a refusal: the user may not read.
		forbidden bool
		lists     int
		// by is the object the refusals are by; reviews when unset.
		by Object
	}{
		{name: "a deleted waypoint is checked", change: Change{Waypoints: map[string]*mesh.Waypoint{"infra/wp": nil}}, refused: 2, lists: 1, by: WaypointObject("infra/wp")},
		{name: "an empty change reads nothing", change: Change{}, lists: 0},
		{name: "an unenrolled service loses its policies: refused", change: unenroll, refused: 2, lists: 1},
		{name: "with Force the losses are named", change: unenroll, guard: Guard{Force: true}, forced: 2, lists: 1},
		{name: "the users of a waypoint alone are checked", change: Change{Users: []Object{reviews}, Waypoints: nil, Labels: nil}, lists: 1},
		{name: "forbidden across the cluster: read again in the scope", change: unenroll, guard: Guard{Scope: []string{"app", "infra"}}, fault: forbidAcross, refused: 2, lists: 3},
		{name: "forbidden without a scope: refused whole, read once", change: unenroll, guard: Guard{Verb: "unenroll"}, fault: forbidAcross, err: "forbidden", forbidden: true, lists: 1},
		{name: "forbidden with Force: unchecked", change: unenroll, guard: Guard{Force: true}, fault: forbidAcross, unchecked: true, lists: 1},
		{name: "a failing read refuses the whole change", change: unenroll, guard: Guard{Verb: "delete"}, fault: failing, err: "add --force to delete without the check", lists: 1},
		{name: "a failing read with Force: unchecked", change: unenroll, guard: Guard{Force: true}, fault: failing, unchecked: true, lists: 1},
	} {
		t.Run(tc.name, func(t *testing.T) {
			c := withPolicies()
			if tc.fault != nil {
				tc.fault(c)
			}
			g := tc.guard
			g.Clients = c.clients()
			v, err := g.Check(context.Background(), tc.change)
			if tc.err != "" {
				var ue *bulk.UncheckedError
				if err == nil || !strings.Contains(err.Error(), tc.err) || !errors.As(err, &ue) || ue.Forbidden != tc.forbidden {
					t.Fatalf("error %#v, want an UncheckedError (forbidden %v) with %q", err, tc.forbidden, tc.err)
				}
			} else if err != nil {
				t.Fatal(err)
			}
			want := tc.by
			if want == (Object{}) {
				want = reviews
			}
			refused := 0
			for by, ls := range v.Refused {
				refused += len(ls)
				if by != want {
					t.Errorf("refused by %s, want %s", by, want)
				}
			}
			if refused != tc.refused || len(v.Forced) != tc.forced || (v.Unchecked != nil) != tc.unchecked {
				t.Errorf("verdict: %d refused, %d forced, unchecked %v; want %d, %d, %v", refused, len(v.Forced), v.Unchecked, tc.refused, tc.forced, tc.unchecked)
			}
			if got := c.count("list", "authorizationpolicies"); got != tc.lists {
				t.Errorf("%d lists of AuthorizationPolicies, want %d", got, tc.lists)
			}
		})
	}
}

func TestRefuse(t *testing.T) {
	losses := []Loss{
		{Policy: Policy{Kind: "AuthorizationPolicy", Namespace: "app", Name: "a"}, Cause: "service app/reviews unenrolled"},
		{Policy: Policy{Kind: "HTTPRoute", Namespace: "app", Name: "r"}, Cause: "service app/reviews unenrolled"},
	}
	rec := Refuse(bulk.Record{Ref: kube.Ref{Kind: "Service", Namespace: "app", Name: "reviews"}, Action: bulk.Enrolled}, losses)
	want := "refused: AuthorizationPolicy app/a would no longer be enforced: service app/reviews unenrolled; HTTPRoute app/r would no longer be enforced: service app/reviews unenrolled"
	if rec.Action != bulk.Skipped || !rec.Refused || rec.Error != want || rec.Name != "reviews" {
		t.Errorf("record %#v\nwant skipped, refused, error %q", rec, want)
	}
	if got := Lines(nil); len(got) != 0 {
		t.Errorf("no losses make lines %q", got)
	}
}
