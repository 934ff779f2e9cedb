package waypoint

import (
	"context"
	"strings"
	"testing"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/runtime/schema"

	"github.com/kubectl-waypoint/kubectl-waypoint/internal/fakecluster"
	"github.com/kubectl-waypoint/kubectl-waypoint/pkg/enroll"
	"github.com/kubectl-waypoint/kubectl-waypoint/pkg/istio"
	"github.com/kubectl-waypoint/kubectl-waypoint/pkg/kube"
	"github.com/kubectl-waypoint/kubectl-waypoint/pkg/policy"
)

const ingressLabel = istio.LabelIngressUseWaypoint

// labelsOf reads the labels of a Service or Namespace back from the fake
// cluster.
func labelsOf(t *testing.T, c *fakecluster.Cluster, kind, ns, name string) map[string]string {
	t.Helper()
	var (
		m   *metav1.ObjectMeta
		err error
	)
	if kind == "namespace" {
		o, e := c.Kube.CoreV1().Namespaces().Get(context.Background(), name, metav1.GetOptions{})
		if e == nil {
			m = &o.ObjectMeta
		}
		err = e
	} else {
		o, e := c.Kube.CoreV1().Services(ns).Get(context.Background(), name, metav1.GetOptions{})
		if e == nil {
			m = &o.ObjectMeta
		}
		err = e
	}
	if err != nil {
		t.Fatal(err)
	}
	return m.Labels
}

// ingressCluster is testCluster with namespace ns in place of its app
// (when not nil).
func ingressCluster(ns *corev1.Namespace, extra ...runtime.Object) *fakecluster.Cluster {
	if ns == nil {
		return testCluster(extra...)
	}
	objs := []runtime.Object{ns, testWaypoint("app", "wp", ""), testWaypoint("app", "pods", "workload"),
		testService("app", "reviews", map[string]string{istio.LabelUseWaypoint: "wp"}), testService("app", "ratings", nil)}
	return fakecluster.New(policyKinds(), append(objs, extra...)...)
}

// onWaypoint is an AuthorizationPolicy with targetRefs to the waypoint app/wp.
func onWaypoint() *unstructured.Unstructured {
	u := &unstructured.Unstructured{Object: map[string]any{"spec": map[string]any{
		"targetRefs": []any{map[string]any{"kind": "Gateway", "group": "gateway.networking.k8s.io", "name": "wp"}},
	}}}
	u.SetAPIVersion("security.istio.io/v1")
	u.SetKind("AuthorizationPolicy")
	u.SetNamespace("app")
	u.SetName("on-wp")
	u.SetGeneration(1)
	return u
}

// TestEnrollIngress: --ingress writes istio.io/ingress-use-waypoint=true in
// the same write as the enrollment, and unenroll --ingress removes it
// alone; records, idempotency and the notes about the labels left behind,
// read back from the fake cluster.
func TestEnrollIngress(t *testing.T) {
	ctx := context.Background()
	svc := func(names ...string) EnrollRequest {
		return EnrollRequest{Kind: "service", Namespaces: []string{"app"}, Names: names, Waypoint: "wp", Ingress: true}
	}
	withIngress := func(value string, labels map[string]string) map[string]string {
		out := map[string]string{ingressLabel: value}
		for k, v := range labels {
			out[k] = v
		}
		return out
	}
	enrolledNS := testNamespace("app", map[string]string{istio.LabelDataplaneMode: istio.DataplaneModeAmbient, istio.LabelUseWaypoint: "wp", ingressLabel: "true"})
	for _, tc := range []struct {
		name string
		// ns replaces namespace app of testCluster.
		ns     *corev1.Namespace
		extra  []runtime.Object
		req    EnrollRequest
		want   []string
		writes int
		// labels are the labels to read back: "kind ns/name" -> key -> value ("" for absent).
		labels map[string]map[string]string
		check  func(t *testing.T, res *EnrollResult)
	}{
		{
			name: "enroll --ingress: the enrollment and the ingress label in one write",
			req:  svc("ratings"), want: []string{"Service app/ratings enrolled"}, writes: 1,
			labels: map[string]map[string]string{"service app/ratings": {istio.LabelUseWaypoint: "wp", ingressLabel: "true"}},
			check: func(t *testing.T, res *EnrollResult) {
				if r := res.Written[0]; r.Before[ingressLabel] != "" || r.After[ingressLabel] != "true" {
					t.Errorf("record before %v after %v", r.Before, r.After)
				}
			},
		},
		{
			name: "already enrolled: --ingress adds the label alone",
			req:  svc("reviews"), want: []string{"Service app/reviews enrolled"}, writes: 1,
			labels: map[string]map[string]string{"service app/reviews": {istio.LabelUseWaypoint: "wp", ingressLabel: "true"}},
		},
		{
			name:  "already as asked: no write",
			extra: []runtime.Object{testService("app", "both", withIngress("true", map[string]string{istio.LabelUseWaypoint: "wp"}))},
			req:   svc("both"), want: []string{"Service app/both unchanged"},
		},
		{
			name:  "another value is rewritten to true",
			extra: []runtime.Object{testService("app", "upper", withIngress("TRUE", map[string]string{istio.LabelUseWaypoint: "wp"}))},
			req:   svc("upper"), want: []string{"Service app/upper enrolled"}, writes: 1,
			labels: map[string]map[string]string{"service app/upper": {ingressLabel: "true"}},
		},
		{
			name: "a namespace",
			req:  EnrollRequest{Kind: "namespace", Names: []string{"app"}, Waypoint: "wp", Ingress: true},
			want: []string{"Namespace /app enrolled"}, writes: 1,
			labels: map[string]map[string]string{"namespace app": {istio.LabelUseWaypoint: "wp", ingressLabel: "true"}},
		},
		{
			name:  "unenroll --ingress: the ingress label goes, the enrollment stays",
			extra: []runtime.Object{testService("app", "both", withIngress("true", map[string]string{istio.LabelUseWaypoint: "wp"}))},
			req:   EnrollRequest{Kind: "service", Namespaces: []string{"app"}, Names: []string{"both", "ratings"}, Unenroll: true, Ingress: true},
			want:  []string{"Service app/both unenrolled", "Service app/ratings unchanged"}, writes: 1,
			labels: map[string]map[string]string{"service app/both": {istio.LabelUseWaypoint: "wp", ingressLabel: ""}},
			check: func(t *testing.T, res *EnrollResult) {
				if len(res.IngressKept)+len(res.IngressFromNamespace) != 0 {
					t.Errorf("notes %+v %+v", res.IngressKept, res.IngressFromNamespace)
				}
			},
		},
		{
			name: "unenroll --ingress under a namespace that says true: noted",
			ns:   enrolledNS, extra: []runtime.Object{testService("app", "both", withIngress("false", map[string]string{istio.LabelUseWaypoint: "wp"}))},
			req:  EnrollRequest{Kind: "service", Namespaces: []string{"app"}, Names: []string{"both"}, Unenroll: true, Ingress: true},
			want: []string{"Service app/both unenrolled"}, writes: 1,
			check: func(t *testing.T, res *EnrollResult) {
				if n := res.IngressFromNamespace; len(n) != 1 || n[0].Ref != (kube.Ref{Kind: "Service", Namespace: "app", Name: "both"}) || n[0].Value != "true" {
					t.Errorf("notes %+v", n)
				}
			},
		},
		{
			name:  "plain unenroll keeps the ingress label and notes it: no waypoint left",
			extra: []runtime.Object{testService("app", "both", withIngress("true", map[string]string{istio.LabelUseWaypoint: "wp"}))},
			req:   EnrollRequest{Kind: "service", Namespaces: []string{"app"}, Names: []string{"both"}, Unenroll: true},
			want:  []string{"Service app/both unenrolled"}, writes: 1,
			labels: map[string]map[string]string{"service app/both": {istio.LabelUseWaypoint: "", ingressLabel: "true"}},
			check: func(t *testing.T, res *EnrollResult) {
				if n := res.IngressKept; len(n) != 1 || n[0].Name != "both" || n[0].Value != "true" || n[0].Inherits != "" {
					t.Errorf("notes %+v", n)
				}
			},
		},
		{
			name: "plain unenroll under an enrolled namespace: the label applies to the namespace's waypoint",
			ns:   enrolledNS, extra: []runtime.Object{testService("app", "both", withIngress("true", map[string]string{istio.LabelUseWaypoint: "pods"}))},
			req:  EnrollRequest{Kind: "service", Namespaces: []string{"app"}, Names: []string{"both"}, Unenroll: true},
			want: []string{"Service app/both unenrolled"}, writes: 1,
			check: func(t *testing.T, res *EnrollResult) {
				if n := res.IngressKept; len(n) != 1 || n[0].Inherits != "app/wp" {
					t.Errorf("notes %+v", n)
				}
			},
		},
		{
			name: "plain unenroll of a namespace keeps its ingress label",
			ns:   enrolledNS,
			req:  EnrollRequest{Kind: "namespace", Names: []string{"app"}, Unenroll: true},
			want: []string{"Namespace /app unenrolled"}, writes: 1,
			labels: map[string]map[string]string{"namespace app": {istio.LabelUseWaypoint: "", ingressLabel: "true"}},
			check: func(t *testing.T, res *EnrollResult) {
				if n := res.IngressKept; len(n) != 1 || n[0].Kind != "Namespace" || n[0].Value != "true" {
					t.Errorf("notes %+v", n)
				}
			},
		},
		{
			name:  "a client dry run writes nothing and notes all the same",
			extra: []runtime.Object{testService("app", "both", withIngress("true", map[string]string{istio.LabelUseWaypoint: "wp"}))},
			req:   EnrollRequest{Kind: "service", Namespaces: []string{"app"}, Names: []string{"both"}, Unenroll: true, DryRun: kube.DryRunClient},
			want:  []string{"Service app/both unenrolled"},
			check: func(t *testing.T, res *EnrollResult) {
				if len(res.IngressKept) != 1 {
					t.Errorf("notes %+v", res.IngressKept)
				}
			},
		},
	} {
		t.Run(tc.name, func(t *testing.T) {
			c := ingressCluster(tc.ns, tc.extra...)
			res, err := Enroll(ctx, c.Clients(), tc.req)
			if err != nil {
				t.Fatal(err)
			}
			if got := actions(res.Records()); !sameList(got, tc.want) {
				t.Errorf("records\n%s\nwant\n%s", strings.Join(got, "\n"), strings.Join(tc.want, "\n"))
			}
			if got := c.Writes(); got != tc.writes {
				t.Errorf("%d writes, want %d", got, tc.writes)
			}
			for obj, want := range tc.labels {
				kind, key, _ := strings.Cut(obj, " ")
				ns, name, found := strings.Cut(key, "/")
				if !found {
					name = ns
				}
				got := labelsOf(t, c, kind, ns, name)
				for k, v := range want {
					if got[k] != v {
						t.Errorf("%s: %s=%q, want %q (labels %v)", obj, k, got[k], v, got)
					}
				}
			}
			if tc.check != nil {
				tc.check(t, res)
			}
		})
	}
}

// TestEnrollIngressGuard: unenroll --ingress of a service whose ingress
// traffic takes its waypoint is refused when a policy on the service or on
// the waypoint would stop applying to that traffic, and the cause says so.
func TestEnrollIngressGuard(t *testing.T) {
	ctx := context.Background()
	both := testService("app", "reviews", map[string]string{istio.LabelUseWaypoint: "wp", ingressLabel: "true"})
	for _, tc := range []struct {
		name   string
		policy *unstructured.Unstructured
		want   string
	}{
		{"a policy on the service", onReviews(),
			"AuthorizationPolicy app/on-reviews would no longer be enforced for ingress traffic to service app/reviews: service app/reviews unlabeled istio.io/ingress-use-waypoint"},
		{"a policy on the waypoint", onWaypoint(),
			"AuthorizationPolicy app/on-wp would no longer be enforced for ingress traffic to service app/reviews: service app/reviews unlabeled istio.io/ingress-use-waypoint"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			c := fakecluster.New(policyKinds(), testNamespace("app", nil), testWaypoint("app", "wp", ""), both.DeepCopy(), tc.policy)
			req := EnrollRequest{Kind: "service", Namespaces: []string{"app"}, Names: []string{"reviews"}, Unenroll: true, Ingress: true}
			res, err := Enroll(ctx, c.Clients(), req)
			if err != nil {
				t.Fatal(err)
			}
			if len(res.Refused) != 1 || res.Refused[0].Error != "refused: "+tc.want || c.Writes() != 0 {
				t.Errorf("refused %+v, %d writes; want %q", res.Refused, c.Writes(), tc.want)
			}
			// A plain enroll --ingress loses nothing: not refused.
			req = EnrollRequest{Kind: "service", Namespaces: []string{"app"}, Names: []string{"ratings"}, Waypoint: "wp", Ingress: true}
			c = fakecluster.New(policyKinds(), testNamespace("app", nil), testWaypoint("app", "wp", ""), testService("app", "ratings", nil), tc.policy)
			if res, err = Enroll(ctx, c.Clients(), req); err != nil || len(res.Refused) != 0 || c.Writes() != 1 {
				t.Errorf("enroll --ingress: %v, refused %+v, %d writes", err, res.Refused, c.Writes())
			}
		})
	}
}

// policyKinds are the list kinds of the policies, for fakecluster.New.
func policyKinds() map[schema.GroupVersionResource]string {
	kinds := map[schema.GroupVersionResource]string{}
	for _, k := range policy.Kinds {
		for _, g := range k.GVRs {
			kinds[g] = k.Name + "List"
		}
	}
	return kinds
}

// TestEnrollIngressPolicyCause: the words of each change, as the guard's
// lines give them.
func TestEnrollIngressPolicyCause(t *testing.T) {
	target := enroll.Target{Kind: enroll.KindService, Namespace: "app", Name: "reviews", Labels: map[string]string{istio.LabelUseWaypoint: "wp", ingressLabel: "true"}}
	obj := policy.Object{Kind: "Service", Namespace: "app", Name: "reviews"}
	for _, tc := range []struct {
		req   EnrollRequest
		cause string
		label string // the ingress label after
	}{
		{EnrollRequest{Unenroll: true, Ingress: true}, "service app/reviews unlabeled istio.io/ingress-use-waypoint", ""},
		{EnrollRequest{Unenroll: true}, "service app/reviews unenrolled", "true"},
		{EnrollRequest{Waypoint: "other", Ingress: true}, "service app/reviews enrolled in waypoint app/other", "true"},
	} {
		ch := tc.req.PolicyChange([]enroll.Target{target})
		if ch.Causes[obj] != tc.cause || ch.Labels[obj][ingressLabel] != tc.label {
			t.Errorf("%+v: cause %q, labels after %v; want %q and ingress %q", tc.req, ch.Causes[obj], ch.Labels[obj], tc.cause, tc.label)
		}
	}
}
