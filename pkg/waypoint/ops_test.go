package waypoint

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/apimachinery/pkg/util/wait"
	gatewayv1 "sigs.k8s.io/gateway-api/apis/v1"

	"github.com/kubectl-waypoint/kubectl-waypoint/internal/fakecluster"
	"github.com/kubectl-waypoint/kubectl-waypoint/pkg/bulk"
	"github.com/kubectl-waypoint/kubectl-waypoint/pkg/istio"
	"github.com/kubectl-waypoint/kubectl-waypoint/pkg/kube"
	"github.com/kubectl-waypoint/kubectl-waypoint/pkg/policy"
)

// The objects of the operations' unit tests: namespace app with waypoint
// app/wp (bound, service traffic) and app/pods (bound, workload traffic),
// Services reviews (enrolled in wp), ratings (not enrolled), and an
// AuthorizationPolicy on reviews that only wp enforces.

func testCluster(extra ...runtime.Object) *fakecluster.Cluster {
	kinds := map[schema.GroupVersionResource]string{}
	for _, k := range policy.Kinds {
		for _, g := range k.GVRs {
			kinds[g] = k.Name + "List"
		}
	}
	objs := []runtime.Object{
		testNamespace("app", map[string]string{istio.LabelDataplaneMode: istio.DataplaneModeAmbient}),
		testWaypoint("app", "wp", ""),
		testWaypoint("app", "pods", "workload"),
		&gatewayv1.GatewayClass{ObjectMeta: metav1.ObjectMeta{Name: istio.ClassWaypoint},
			Spec: gatewayv1.GatewayClassSpec{ControllerName: "istio.io/mesh-controller"}},
		testService("app", "reviews", map[string]string{istio.LabelUseWaypoint: "wp"}),
		testService("app", "ratings", nil),
	}
	return fakecluster.New(kinds, append(objs, extra...)...)
}

func testNamespace(name string, labels map[string]string) *corev1.Namespace {
	l := map[string]string{"kubernetes.io/metadata.name": name}
	for k, v := range labels {
		l[k] = v
	}
	return &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: name, Labels: l, ResourceVersion: "1"}}
}

func testService(ns, name string, labels map[string]string) *corev1.Service {
	return &corev1.Service{ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: name, Labels: labels, ResourceVersion: "1"}}
}

// testWaypoint is a bound waypoint, for traffic ("" for the default).
func testWaypoint(ns, name, traffic string) *gatewayv1.Gateway {
	g := &gatewayv1.Gateway{
		ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: name, UID: types.UID("uid-" + name), ResourceVersion: "1"},
		Spec: gatewayv1.GatewaySpec{GatewayClassName: istio.ClassWaypoint, Listeners: []gatewayv1.Listener{
			{Name: "mesh", Port: 15008, Protocol: "HBONE"},
		}},
		Status: gatewayv1.GatewayStatus{
			Addresses:  []gatewayv1.GatewayStatusAddress{{Value: "10.0.0.1"}},
			Conditions: []metav1.Condition{{Type: "Programmed", Status: metav1.ConditionTrue, Reason: "Programmed"}},
		},
	}
	if traffic != "" {
		g.Labels = map[string]string{istio.LabelWaypointFor: traffic}
	}
	return g
}

// onReviews is an AuthorizationPolicy with targetRefs to Service app/reviews.
func onReviews() *unstructured.Unstructured {
	u := &unstructured.Unstructured{Object: map[string]any{"spec": map[string]any{
		"targetRefs": []any{map[string]any{"kind": "Service", "group": "", "name": "reviews"}},
	}}}
	u.SetAPIVersion("security.istio.io/v1")
	u.SetKind("AuthorizationPolicy")
	u.SetNamespace("app")
	u.SetName("on-reviews")
	u.SetGeneration(1)
	return u
}

// actions are the records as "Kind ns/name action".
func actions(recs []bulk.Record) []string {
	out := make([]string, len(recs))
	for i, r := range recs {
		out[i] = r.Kind + " " + r.Namespace + "/" + r.Name + " " + string(r.Action)
	}
	return out
}

func sameList(got, want []string) bool {
	return strings.Join(got, "\n") == strings.Join(want, "\n")
}

func TestEnroll(t *testing.T) {
	ctx := context.Background()
	svc := func(names ...string) EnrollRequest {
		return EnrollRequest{Kind: "service", Namespaces: []string{"app"}, Names: names}
	}
	for _, tc := range []struct {
		name    string
		extra   []runtime.Object
		req     EnrollRequest
		want    []string // records, in stage order
		writes  int
		wantErr bool
		// policyLists is whether the guard listed the policies.
		policyLists bool
		// noGatewayReads: no Gateway may be read.
		noGatewayReads bool
		check          func(t *testing.T, res *EnrollResult)
	}{
		{
			name: "enroll: one written, one already as asked, one missing",
			req:  func() EnrollRequest { r := svc("ratings", "reviews", "gone"); r.Waypoint = "wp"; return r }(),
			want: []string{"Service app/gone failed", "Service app/ratings enrolled", "Service app/reviews unchanged"},
			// ratings relabelled: the guard reads the policies once.
			writes: 1, policyLists: true,
			check: func(t *testing.T, res *EnrollResult) {
				if len(res.Checks) != 1 || res.Checks[0].Key != "app/wp" || res.Checks[0].Result.Missing || res.Checks[0].Result.Blocking() {
					t.Errorf("checks %+v", res.Checks)
				}
				if want := `service "gone" not found in namespace app`; len(res.Missing) != 1 || res.Missing[0].Error != want {
					t.Errorf("missing %+v, want the error %q", res.Missing, want)
				}
			},
		},
		{
			name: "nothing to change: no guard, no check, no write",
			req:  func() EnrollRequest { r := svc("reviews"); r.Waypoint = "wp"; return r }(),
			want: []string{"Service app/reviews unchanged"},
			check: func(t *testing.T, res *EnrollResult) {
				if len(res.Checks) != 0 {
					t.Errorf("checks %+v", res.Checks)
				}
			},
			noGatewayReads: true,
		},
		{
			name:  "opting out a service whose policy only its waypoint enforces is refused",
			extra: []runtime.Object{onReviews()},
			req:   func() EnrollRequest { r := svc("reviews"); r.Waypoint = istio.NoWaypoint; return r }(),
			want:  []string{"Service app/reviews skipped"}, policyLists: true,
			check: func(t *testing.T, res *EnrollResult) {
				r := res.Refused[0]
				if !r.Refused || !strings.Contains(r.Error, "AuthorizationPolicy app/on-reviews would no longer be enforced") ||
					len(res.Policies.Refused[policy.Object{Kind: "Service", Namespace: "app", Name: "reviews"}]) != 1 {
					t.Errorf("refused %+v, verdict %+v", r, res.Policies)
				}
			},
		},
		{
			name:  "--force opts it out and names the loss",
			extra: []runtime.Object{onReviews()},
			req: func() EnrollRequest {
				r := svc("reviews")
				r.Waypoint, r.Force = istio.NoWaypoint, true
				return r
			}(),
			want: []string{"Service app/reviews enrolled"}, writes: 1, policyLists: true,
			check: func(t *testing.T, res *EnrollResult) {
				if len(res.Policies.Forced) != 1 || len(res.Policies.Refused) != 0 {
					t.Errorf("verdict %+v", res.Policies)
				}
			},
		},
		{
			name:    "a waypoint for workloads does not take a service: nothing written",
			req:     func() EnrollRequest { r := svc("ratings"); r.Waypoint = "pods"; return r }(),
			wantErr: true, policyLists: true,
			check: func(t *testing.T, res *EnrollResult) {
				if len(res.Checks) != 1 || !res.Checks[0].Result.TrafficMismatch {
					t.Errorf("checks %+v", res.Checks)
				}
				err := &CheckFailedError{Checks: res.Checks}
				if want := "waypoint app/pods does not fit the objects to enroll"; err.Error() != want {
					t.Errorf("error %q, want %q", err, want)
				}
				err.Checks = append(err.Checks, res.Checks...)
				if want := "2 waypoints do not fit the objects to enroll"; err.Error() != want {
					t.Errorf("error %q, want %q", err, want)
				}
			},
		},
		{
			name: "--force enrolls it anyway",
			req: func() EnrollRequest {
				r := svc("ratings")
				r.Waypoint, r.Force = "pods", true
				return r
			}(),
			want: []string{"Service app/ratings enrolled"}, writes: 1, policyLists: true,
		},
		{
			name: "a waypoint that does not exist yet is no failure",
			req:  func() EnrollRequest { r := svc("ratings"); r.Waypoint = "later"; return r }(),
			want: []string{"Service app/ratings enrolled"}, writes: 1, policyLists: true,
			check: func(t *testing.T, res *EnrollResult) {
				if len(res.Checks) != 1 || !res.Checks[0].Result.Missing {
					t.Errorf("checks %+v", res.Checks)
				}
			},
		},
		{
			name: "unenroll",
			req:  func() EnrollRequest { r := svc("reviews", "ratings"); r.Unenroll = true; return r }(),
			want: []string{"Service app/ratings unchanged", "Service app/reviews unenrolled"}, writes: 1, policyLists: true,
		},
		{
			name: "a namespace that does not exist",
			req:  EnrollRequest{Kind: "namespace", Names: []string{"nope"}, Waypoint: "wp"},
			want: []string{"Namespace /nope failed"},
			check: func(t *testing.T, res *EnrollResult) {
				if want := `namespace "nope" not found`; len(res.Missing) != 1 || res.Missing[0].Error != want {
					t.Errorf("missing %+v, want the error %q", res.Missing, want)
				}
			},
		},
		{
			name: "nothing selected",
			req:  EnrollRequest{Kind: "service", Namespaces: []string{"app"}, Selector: "app=none", Waypoint: "wp"},
			check: func(t *testing.T, res *EnrollResult) {
				if !res.None {
					t.Errorf("None is false")
				}
			},
		},
	} {
		t.Run(tc.name, func(t *testing.T) {
			c := testCluster(tc.extra...)
			res, err := Enroll(ctx, c.Clients(), tc.req)
			var failed *CheckFailedError
			if tc.wantErr != errors.As(err, &failed) || (err != nil && !tc.wantErr) {
				t.Fatalf("error %v", err)
			}
			if got := actions(res.Records()); !sameList(got, tc.want) {
				t.Errorf("records\n%s\nwant\n%s", strings.Join(got, "\n"), strings.Join(tc.want, "\n"))
			}
			if got := c.Writes(); got != tc.writes {
				t.Errorf("%d writes, want %d", got, tc.writes)
			}
			if got := c.Requests("list", "authorizationpolicies") > 0; got != tc.policyLists {
				t.Errorf("policies listed: %v, want %v", got, tc.policyLists)
			}
			if got := c.Requests("get", "gateways") + c.Requests("list", "gateways"); tc.noGatewayReads && got != 0 {
				t.Errorf("%d reads of Gateways, want none", got)
			}
			if tc.check != nil {
				tc.check(t, res)
			}
		})
	}
}

// TestEnrollProgress: progress is reported for two targets or more, never
// for one.
func TestEnrollProgress(t *testing.T) {
	for _, tc := range []struct {
		names []string
		calls bool
	}{{[]string{"ratings"}, false}, {[]string{"ratings", "reviews"}, true}} {
		calls := 0
		req := EnrollRequest{Kind: "service", Namespaces: []string{"app"}, Names: tc.names, Waypoint: "wp", Progress: func(int, int) { calls++ }}
		if _, err := Enroll(context.Background(), testCluster().Clients(), req); err != nil {
			t.Fatal(err)
		}
		if (calls > 0) != tc.calls {
			t.Errorf("%v: %d calls of Progress", tc.names, calls)
		}
	}
}

func TestEnrollUncheckedWaypoint(t *testing.T) {
	// A waypoint that cannot be read (not for want of rights) is not
	// enrolled into unchecked.
	c := testCluster()
	c.Fail("get", "gateways", apierrors.NewBadRequest("gateways broke"))
	res, err := Enroll(context.Background(), c.Clients(), EnrollRequest{Kind: "service", Namespaces: []string{"app"}, Names: []string{"ratings"}, Waypoint: "wp"})
	if err != nil {
		t.Fatal(err)
	}
	if got := actions(res.Records()); !sameList(got, []string{"Service app/ratings failed"}) || len(res.Unchecked) != 1 || c.Writes() != 0 {
		t.Errorf("records %v, unchecked %v, %d writes", got, res.Unchecked, c.Writes())
	}
}

func TestDeleteGuard(t *testing.T) {
	ctx := context.Background()
	req := DeleteRequest{Namespaces: []string{"app"}, Names: []string{"wp", "pods"}}
	c := testCluster(onReviews())
	res, err := Delete(ctx, c.Clients(), req)
	if err != nil {
		t.Fatal(err)
	}
	var gws []string
	for _, r := range res.Records {
		if r.Kind == "Gateway" {
			gws = append(gws, r.Name+" "+string(r.Action))
		}
	}
	if !sameList(gws, []string{"pods deleted", "wp skipped"}) || c.GatewayNamed("app", "wp") == nil || c.GatewayNamed("app", "pods") != nil {
		t.Errorf("gateways %v", gws)
	}
	if l := res.Policies.Refused[policy.WaypointObject("app/wp")]; len(l) != 1 || l[0].Policy.Name != "on-reviews" {
		t.Errorf("verdict %+v", res.Policies)
	}

	req.Force = true
	c = testCluster(onReviews())
	if res, err = Delete(ctx, c.Clients(), req); err != nil {
		t.Fatal(err)
	}
	if c.GatewayNamed("app", "wp") != nil || len(res.Policies.Forced) != 1 {
		t.Errorf("--force: wp left, or verdict %+v", res.Policies)
	}
}

func TestApplyManyGuardsUsers(t *testing.T) {
	// Applying app/wp for workloads would cut reviews off: refused whole,
	// nothing written.
	ctx := context.Background()
	c := testCluster(onReviews())
	gw := testWaypoint("app", "wp", "workload")
	gw.Status = gatewayv1.GatewayStatus{}
	var heard UsersVerdict
	_, err := ApplyMany(ctx, c.Clients(), ApplyManyRequest{Gateways: []*gatewayv1.Gateway{gw},
		Events: ApplyManyEvents{Guarded: func(v UsersVerdict) { heard = v }}})
	var inUse *InUseError
	if !errors.As(err, &inUse) || c.Writes() != 0 {
		t.Fatalf("error %v, %d writes", err, c.Writes())
	}
	want := []string{
		"service app/reviews would lose waypoint app/wp",
		"AuthorizationPolicy app/on-reviews would no longer be enforced",
	}
	if len(heard.Lost) != len(want) {
		t.Fatalf("lost %q", heard.Lost)
	}
	for i, w := range want {
		if !strings.HasPrefix(heard.Lost[i], w) {
			t.Errorf("lost[%d] = %q, want %q...", i, heard.Lost[i], w)
		}
	}
	// The same traffic type: nobody is cut off, nothing is refused.
	v, err := GuardUsers(ctx, c.Clients(), []*gatewayv1.Gateway{testWaypoint("app", "wp", "")}, []string{"app"}, false)
	if err != nil || len(v.Lost) != 0 {
		t.Errorf("unchanged binding: %v, %q", err, v.Lost)
	}
	// --force lets it through and names what is lost.
	v, err = GuardUsers(ctx, c.Clients(), []*gatewayv1.Gateway{gw}, []string{"app"}, true)
	if err != nil || len(v.Lost) != 1 || len(v.Policies.Forced) != 1 {
		t.Errorf("--force: %v, %q, %+v", err, v.Lost, v.Policies)
	}
	// A read of the users that fails after its retries: nothing can be
	// known, so the apply is refused whole as unchecked, unless --force.
	c.Fail("list", "services", apierrors.NewInternalError(errors.New("boom")))
	ctx = kube.WithBackoff(ctx, wait.Backoff{Steps: kube.Backoff.Steps, Duration: time.Millisecond})
	_, err = ApplyMany(ctx, c.Clients(), ApplyManyRequest{Gateways: []*gatewayv1.Gateway{gw}})
	var unchecked *bulk.UncheckedError
	if !errors.As(err, &unchecked) || unchecked.Forbidden || !strings.Contains(err.Error(), "; nothing was changed; add --force to apply without the check") || c.Writes() != 0 {
		t.Errorf("a failed read of the users: %v, %d writes", err, c.Writes())
	}
	// (The fake cannot take the server-side apply that follows: the
	// guard alone says --force goes on.)
	if _, err := GuardUsers(ctx, c.Clients(), []*gatewayv1.Gateway{gw}, []string{"app"}, true); err != nil {
		t.Errorf("--force with a failed read of the users: %v", err)
	}
}

// TestApplyChange: the change apply's guard predicts is the waypoints
// whose binding changes and who would lose them, with the cause in words;
// a waypoint that changes but has no users to lose is no change.
func TestApplyChange(t *testing.T) {
	ctx := context.Background()
	c := testCluster(onReviews())
	ch, err := ApplyChange(ctx, c.Clients(), []*gatewayv1.Gateway{testWaypoint("app", "wp", "workload")}, []string{"app"})
	if err != nil {
		t.Fatal(err)
	}
	wantUsers := []policy.Object{{Kind: "Service", Namespace: "app", Name: "reviews"}}
	if len(ch.Users) != 1 || ch.Users[0] != wantUsers[0] {
		t.Errorf("users %v, want %v", ch.Users, wantUsers)
	}
	if next := ch.Waypoints["app/wp"]; len(ch.Waypoints) != 1 || next == nil || next.TrafficType != "workload" {
		t.Errorf("waypoints %v, want app/wp for workloads", ch.Waypoints)
	}
	if got, want := ch.Causes[policy.WaypointObject("app/wp")], "waypoint app/wp would serve workload traffic"; got != want {
		t.Errorf("cause %q, want %q", got, want)
	}
	var v UsersVerdict
	if _, err := cutOff(ctx, c.Clients(), []*gatewayv1.Gateway{testWaypoint("app", "wp", "workload")}, []string{"app"}, &v); err != nil || len(v.Gaps) != 0 || len(v.Lost) != 1 {
		t.Errorf("verdict %+v (%v): one user lost and no gaps", v, err)
	}

	// app/pods serves workloads and nobody uses it: serving services
	// instead loses no one.
	ch, err = ApplyChange(ctx, c.Clients(), []*gatewayv1.Gateway{testWaypoint("app", "pods", "service")}, []string{"app"})
	if err != nil || len(ch.Waypoints) != 0 || len(ch.Users) != 0 || len(ch.Causes) != 0 {
		t.Errorf("unused waypoint: %+v (%v), want no change", ch, err)
	}
}

// TestApplyManyOtherClass: a Gateway of another class with the waypoint's
// name is never written, whatever the flags: its record fails naming the
// class, its namespace is not enrolled, and the guard's one list found it.
func TestApplyManyOtherClass(t *testing.T) {
	ingress := testWaypoint("app", "ingress", "")
	ingress.Spec.GatewayClassName = "istio"
	c := testCluster(ingress)
	res, err := ApplyMany(context.Background(), c.Clients(), ApplyManyRequest{
		Gateways:       []*gatewayv1.Gateway{testWaypoint("app", "ingress", "")},
		ForceConflicts: true, Force: true, EnrollNamespace: true, Overwrite: true,
	})
	if err != nil {
		t.Fatal(err)
	}
	if got := actions(res.Records); !sameList(got, []string{"Gateway app/ingress failed", "Namespace /app skipped"}) {
		t.Errorf("records %q", got)
	}
	var other *OtherClassError
	if !errors.As(res.Records[0].Err, &other) || other.Class != "istio" || !strings.Contains(res.Records[0].Error, `class "istio"`) {
		t.Errorf("error %v", res.Records[0].Err)
	}
	if c.Writes() != 0 {
		t.Errorf("%d writes", c.Writes())
	}
}

// TestWaitTimeoutErrorSummarises: the timeout of a wait over many
// waypoints names the first few and counts the rest.
func TestWaitTimeoutErrorSummarises(t *testing.T) {
	var notReady []string
	for i := range 150 {
		notReady = append(notReady, fmt.Sprintf("ns-%03d/waypoint (NotProgrammed)", i))
	}
	e := &WaitTimeoutError{Timeout: time.Minute, NotReady: notReady, Total: 200}
	want := "timed out after 1m0s: 150 of 200 waypoints not ready: ns-000/waypoint (NotProgrammed), ns-001/waypoint (NotProgrammed), ns-002/waypoint (NotProgrammed), ns-003/waypoint (NotProgrammed), ns-004/waypoint (NotProgrammed) and 145 more (status shows each)"
	if e.Error() != want {
		t.Errorf("got %q\nwant %q", e.Error(), want)
	}
	e = &WaitTimeoutError{Timeout: time.Minute, NotReady: notReady[:2], Total: 4}
	if want := "timed out after 1m0s: 2 of 4 waypoints not ready: ns-000/waypoint (NotProgrammed), ns-001/waypoint (NotProgrammed)"; e.Error() != want {
		t.Errorf("got %q\nwant %q", e.Error(), want)
	}
}

// TestDeleteUnenroll: with Unenroll the users of a waypoint are unenrolled
// before it is deleted, and a waypoint whose user could not be unenrolled is
// left; labels naming a waypoint that was not there are kept (and named)
// unless UnenrollMissing; a search that may not be made refuses the whole
// call before any write, where without Unenroll it only leaves
// EnrolledUnknown.
func TestDeleteUnenroll(t *testing.T) {
	ctx := context.Background()
	ahead := testService("app", "ahead", map[string]string{istio.LabelUseWaypoint: "not-yet"})
	labels := func(c *fakecluster.Cluster, name string) string {
		svc, err := c.Clients().Kube.CoreV1().Services("app").Get(ctx, name, metav1.GetOptions{})
		if err != nil {
			t.Fatal(err)
		}
		return svc.Labels[istio.LabelUseWaypoint]
	}
	for _, tc := range []struct {
		name      string
		req       DeleteRequest
		fault     func(*fakecluster.Cluster)
		want      []string
		wp        bool   // app/wp still there
		reviews   string // its label after
		ahead     string
		forbidden bool // refused whole as forbidden
	}{
		{name: "users first, then the waypoint", req: DeleteRequest{Names: []string{"wp"}, Unenroll: true},
			want: []string{"Gateway app/wp deleted", "Service app/reviews unenrolled"}, ahead: "not-yet"},
		{name: "a user that cannot be unenrolled keeps its waypoint", req: DeleteRequest{Names: []string{"wp"}, Unenroll: true},
			fault: func(c *fakecluster.Cluster) { c.Fail("patch", "services", apierrors.NewBadRequest("no")) },
			want:  []string{"Gateway app/wp skipped", "Service app/reviews failed"}, wp: true, reviews: "wp", ahead: "not-yet"},
		{name: "a label ahead of its waypoint is named, not removed", req: DeleteRequest{All: true, Unenroll: true},
			want: []string{"Gateway app/pods deleted", "Gateway app/wp deleted", "Service app/ahead skipped", "Service app/reviews unenrolled"}, ahead: "not-yet"},
		{name: "UnenrollMissing removes it", req: DeleteRequest{All: true, Revision: "nope", UnenrollMissing: true},
			want: []string{"Service app/ahead unenrolled"}, wp: true, reviews: "wp"},
		{name: "a search that may not be made refuses the call", req: DeleteRequest{Names: []string{"wp"}, Unenroll: true},
			fault: func(c *fakecluster.Cluster) {
				c.Fail("list", "pods", apierrors.NewForbidden(schema.GroupResource{Resource: "pods"}, "", errors.New("no")))
			},
			wp: true, reviews: "wp", ahead: "not-yet", forbidden: true},
		{name: "without Unenroll a failed search only says so", req: DeleteRequest{Names: []string{"wp"}},
			fault: func(c *fakecluster.Cluster) { c.Fail("list", "pods", apierrors.NewBadRequest("no")) },
			want:  []string{"Gateway app/wp deleted"}, reviews: "wp", ahead: "not-yet"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			c := testCluster(ahead.DeepCopy())
			if tc.fault != nil {
				tc.fault(c)
			}
			tc.req.Namespaces = []string{"app"}
			res, err := Delete(ctx, c.Clients(), tc.req)
			var ue *bulk.UncheckedError
			switch {
			case tc.forbidden:
				if !errors.As(err, &ue) || !ue.Forbidden || c.Writes() != 0 {
					t.Fatalf("err %v, %d writes; want a forbidden UncheckedError and none", err, c.Writes())
				}
			case err != nil:
				t.Fatal(err)
			default:
				if got := actions(res.Records); !sameList(got, tc.want) {
					t.Errorf("records %v, want %v", got, tc.want)
				}
				if tc.req.Unenroll == false && tc.fault != nil && res.EnrolledUnknown == nil {
					t.Error("the failed search was not said")
				}
			}
			if (c.GatewayNamed("app", "wp") != nil) != tc.wp || labels(c, "reviews") != tc.reviews || labels(c, "ahead") != tc.ahead {
				t.Errorf("wp there %v, reviews %q, ahead %q", c.GatewayNamed("app", "wp") != nil, labels(c, "reviews"), labels(c, "ahead"))
			}
		})
	}
}

// TestEnrollUnreadableWaypoint: a waypoint the user may not read cannot be
// checked, so the enrollment is refused whole; Force enrolls unchecked.
func TestEnrollUnreadableWaypoint(t *testing.T) {
	forbid := func(c *fakecluster.Cluster) {
		c.Fail("get", "gateways", apierrors.NewForbidden(schema.GroupResource{Resource: "gateways"}, "wp", errors.New("no")))
	}
	c := testCluster()
	forbid(c)
	req := EnrollRequest{Kind: "service", Namespaces: []string{"app"}, Names: []string{"ratings"}, Waypoint: "wp"}
	_, err := Enroll(context.Background(), c.Clients(), req)
	var ue *bulk.UncheckedError
	if !errors.As(err, &ue) || !ue.Forbidden || !strings.Contains(err.Error(), "add --force to enroll without the check") || c.Writes() != 0 {
		t.Fatalf("err %v, %d writes", err, c.Writes())
	}
	c = testCluster()
	forbid(c)
	req.Force = true
	res, err := Enroll(context.Background(), c.Clients(), req)
	if err != nil || !sameList(actions(res.Records()), []string{"Service app/ratings enrolled"}) {
		t.Fatalf("--force: err %v, records %v", err, res)
	}
}

// TestDeleteRecords: every way a delete ends has its record, and the
// cluster agrees: a named waypoint missing (failed, or skipped with
// IgnoreNotFound), a named Gateway of another class refused, a read or a
// list that fails, a delete that meets a replaced Gateway or one already
// gone, an interrupted call, and without Unenroll the users left naming a
// deleted or missing waypoint.
func TestDeleteRecords(t *testing.T) {
	ctx := context.Background()
	other := testWaypoint("app", "ingress", "")
	other.Spec.GatewayClassName = "istio"
	ahead := testService("app", "ahead", map[string]string{istio.LabelUseWaypoint: "not-yet"})
	stop := make(chan struct{})
	close(stop)
	stopped := bulk.WithStop(ctx, stop) // interrupted before it starts
	for _, tc := range []struct {
		name  string
		ctx   context.Context
		req   DeleteRequest
		fault func(*fakecluster.Cluster)
		want  []string
		wp    bool // app/wp still there
	}{
		{name: "named and missing", req: DeleteRequest{Names: []string{"gone"}},
			want: []string{"Gateway app/gone failed"}, wp: true},
		{name: "named and missing, ignored", req: DeleteRequest{Names: []string{"gone"}, IgnoreNotFound: true},
			want: []string{"Gateway app/gone skipped"}, wp: true},
		{name: "a Gateway of another class", req: DeleteRequest{Names: []string{"ingress"}},
			want: []string{"Gateway app/ingress failed"}, wp: true},
		{name: "a read that fails", req: DeleteRequest{Names: []string{"wp"}},
			fault: func(c *fakecluster.Cluster) { c.Fail("get", "gateways", apierrors.NewBadRequest("no")) },
			want:  []string{"Gateway app/wp failed"}, wp: true},
		{name: "a list that fails", req: DeleteRequest{All: true},
			fault: func(c *fakecluster.Cluster) { c.Fail("list", "gateways", apierrors.NewBadRequest("no")) },
			want:  []string{"Gateway app/ failed"}, wp: true},
		{name: "replaced since it was read", req: DeleteRequest{Names: []string{"wp"}},
			fault: func(c *fakecluster.Cluster) {
				c.Fail("delete", "gateways", apierrors.NewConflict(schema.GroupResource{Resource: "gateways"}, "wp", errors.New("uid")))
			},
			want: []string{"Gateway app/wp failed"}, wp: true},
		{name: "already deleted by someone else", req: DeleteRequest{All: true, Revision: ""},
			fault: func(c *fakecluster.Cluster) {
				c.Fail("delete", "gateways", apierrors.NewNotFound(schema.GroupResource{Resource: "gateways"}, "wp"))
			},
			want: []string{"Gateway app/pods skipped", "Gateway app/wp skipped", "Service app/ahead skipped", "Service app/reviews skipped"}, wp: true},
		{name: "interrupted", ctx: stopped, req: DeleteRequest{Names: []string{"wp"}},
			want: []string{"Gateway app/wp not started"}, wp: true},
		{name: "users left without Unenroll", req: DeleteRequest{Names: []string{"wp", "not-yet"}},
			want: []string{"Gateway app/not-yet failed", "Gateway app/wp deleted", "Service app/ahead skipped", "Service app/reviews skipped"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			c := testCluster(other.DeepCopy(), ahead.DeepCopy())
			if tc.fault != nil {
				tc.fault(c)
			}
			if tc.ctx == nil {
				tc.ctx = ctx
			}
			tc.req.Namespaces = []string{"app"}
			res, err := Delete(tc.ctx, c.Clients(), tc.req)
			if err != nil {
				t.Fatal(err)
			}
			if got := actions(res.Records); !sameList(got, tc.want) {
				t.Errorf("records %v, want %v", got, tc.want)
			}
			if (c.GatewayNamed("app", "wp") != nil) != tc.wp || c.GatewayNamed("app", "ingress") == nil {
				t.Errorf("wp there %v, want %v; ingress there %v", c.GatewayNamed("app", "wp") != nil, tc.wp, c.GatewayNamed("app", "ingress") != nil)
			}
		})
	}
}

// TestEnrollRefusesToUnbind: enrolling what a waypoint serves now into a
// waypoint that does not exist is refused before any write, naming the
// objects, the waypoint that serves them and where a waypoint of that
// name would take them; what uses none may be enrolled ahead; Force
// insists.
func TestEnrollRefusesToUnbind(t *testing.T) {
	ctx := context.Background()
	elsewhere := testWaypoint("infra", "gone", "")
	from := gatewayv1.NamespacesFromAll
	elsewhere.Spec.Listeners[0].AllowedRoutes = &gatewayv1.AllowedRoutes{Namespaces: &gatewayv1.RouteNamespaces{From: &from}}
	c := testCluster(testNamespace("infra", nil), elsewhere)
	req := EnrollRequest{Kind: "service", Namespaces: []string{"app"}, Names: []string{"reviews"}, Waypoint: "gone"}
	_, err := Enroll(ctx, c.Clients(), req)
	var e *WouldUnbindError
	if !errors.As(err, &e) || !sameList(e.Objects, []string{"service app/reviews"}) || !sameList(e.Now, []string{"app/wp"}) ||
		!sameList(e.Elsewhere, []string{"infra"}) || c.Writes() != 0 {
		t.Fatalf("err %v, %d writes", err, c.Writes())
	}
	req.Names = []string{"ratings"}
	res, err := Enroll(ctx, c.Clients(), req)
	if err != nil || !sameList(actions(res.Records()), []string{"Service app/ratings enrolled"}) {
		t.Fatalf("enroll ahead: err %v", err)
	}
	req.Names, req.Force = []string{"reviews"}, true
	if res, err = Enroll(ctx, c.Clients(), req); err != nil || !sameList(actions(res.Records()), []string{"Service app/reviews enrolled"}) {
		t.Fatalf("--force: err %v", err)
	}
}
