package cli

import (
	"context"
	"encoding/json"
	"fmt"
	"sort"
	"strings"
	"testing"
	"time"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	gatewayv1 "sigs.k8s.io/gateway-api/apis/v1"

	"github.com/kubectl-waypoint/kubectl-waypoint/internal/testenv"
	"github.com/kubectl-waypoint/kubectl-waypoint/pkg/bulk"
	"github.com/kubectl-waypoint/kubectl-waypoint/pkg/enroll"
	"github.com/kubectl-waypoint/kubectl-waypoint/pkg/istio"
	"github.com/kubectl-waypoint/kubectl-waypoint/pkg/kube"
	"github.com/kubectl-waypoint/kubectl-waypoint/pkg/policy"
	"github.com/kubectl-waypoint/kubectl-waypoint/pkg/render"
	"github.com/kubectl-waypoint/kubectl-waypoint/pkg/waypoint"
)

// createServiceRoute creates an HTTPRoute whose parent is the Service
// parent, as the seeds' reviews route.
func createServiceRoute(t *testing.T, ns, name, parent string) {
	t.Helper()
	route := &unstructured.Unstructured{Object: map[string]any{
		"apiVersion": "gateway.networking.k8s.io/v1", "kind": "HTTPRoute",
		"metadata": map[string]any{"name": name, "namespace": ns},
		"spec": map[string]any{"parentRefs": []any{map[string]any{"group": "", "kind": "Service", "name": parent, "port": int64(80)}},
			"rules": []any{map[string]any{"backendRefs": []any{map[string]any{"name": parent, "port": int64(80)}}}}},
	}}
	if _, err := env.Dynamic.Resource(policy.Kinds[4].GVRs[0]).Namespace(ns).Create(context.Background(), route, metav1.CreateOptions{}); err != nil {
		t.Fatalf("creating HTTPRoute %s: %v", name, err)
	}
}

// istiodAgrees waits until istiod's WaypointAccepted on every
// AuthorizationPolicy of ns has the reason want gives it, or fails with
// the differences after a minute and a half.
func istiodAgrees(t *testing.T, c *kube.Clients, ns string, want map[string]string) {
	t.Helper()
	var diffs []string
	for deadline := time.Now().Add(90 * time.Second); ; time.Sleep(300 * time.Millisecond) {
		res, err := policy.NewReader(c).List(context.Background(), ns)
		if err != nil {
			t.Fatal(err)
		}
		diffs = nil
		for _, p := range res.Policies {
			w, ok := want[p.Name]
			if p.Kind != "AuthorizationPolicy" || !ok {
				continue
			}
			switch c := p.Condition; {
			case c == nil:
				diffs = append(diffs, fmt.Sprintf("%s: istiod wrote no condition; we predict %s", p.Name, w))
			case c.Reason != w:
				diffs = append(diffs, fmt.Sprintf("%s: istiod says %s (%s), we predict %s", p.Name, c.Reason, c.Message, w))
			}
		}
		if len(diffs) == 0 || time.Now().After(deadline) {
			break
		}
	}
	sort.Strings(diffs)
	for _, d := range diffs {
		t.Error(d)
	}
}

// TestRefusalsAgainstIstiod holds the refusals against the seeds' L7
// example (the viewer AuthorizationPolicy on the waypoint, the reviews
// HTTPRoute on the Service, and an AuthorizationPolicy on the Service,
// where istiod writes its condition): every change that would switch one
// off is refused with exit 2 and names them, leaving the cluster as it was;
// bulk work skips only those objects; and each change forced through with
// --force ends with istiod's WaypointAccepted equal to the prediction made
// before it.
func TestRefusalsAgainstIstiod(t *testing.T) {
	t.Parallel()
	ns := env.Namespace(t, testenv.AmbientLabels())
	spare := env.Namespace(t, testenv.AmbientLabels())
	mustRun := func(args ...string) {
		t.Helper()
		if _, stderr, code := runKube(t, args...); code != 0 {
			t.Fatalf("%v: exit %d: %s", args, code, stderr)
		}
	}
	mustRun("apply", "-n", ns, "--enroll-namespace", "--wait")
	mustRun("apply", "-n", ns, "--name", "wl", "--for", "workload", "--wait")
	mustRun("apply", "-n", spare, "--wait")
	env.Service(t, ns, "reviews", nil)
	createPolicy(t, authzGVR, "AuthorizationPolicy", ns, "viewer", ref("Gateway", "waypoint"))
	createPolicy(t, authzGVR, "AuthorizationPolicy", ns, "reviews-authz", ref("Service", "reviews"))
	createServiceRoute(t, ns, "reviews", "reviews")
	c, err := kube.NewClients(env.Config)
	if err != nil {
		t.Fatal(err)
	}
	accepted := map[string]string{"viewer": policy.ReasonAccepted, "reviews-authz": policy.ReasonAccepted}
	istiodAgrees(t, c, ns, accepted)

	r := strings.NewReplacer("NS", ns)
	viewer := r.Replace("AuthorizationPolicy NS/viewer would no longer be enforced")
	route := r.Replace("HTTPRoute NS/reviews would no longer be enforced")
	authz := r.Replace("AuthorizationPolicy NS/reviews-authz would no longer be enforced")
	for _, tc := range []struct {
		args []string
		want []string
	}{
		{[]string{"delete", "waypoint", "-n", ns}, []string{r.Replace("refusing to delete waypoint NS/waypoint:"),
			viewer + r.Replace(": waypoint NS/waypoint deleted"),
			route + r.Replace(": Service NS/reviews would be bound to no waypoint: waypoint NS/waypoint deleted"), authz, "nothing changed"}},
		{[]string{"delete", "--all", "-n", ns + "," + spare, "--dry-run=server"}, []string{viewer, route}},
		{[]string{"unenroll", "namespace", ns}, []string{r.Replace("refusing to unenroll namespace NS:"),
			viewer + r.Replace(" for service NS/reviews: namespace NS unenrolled"),
			route + r.Replace(": Service NS/reviews would be bound to no waypoint: namespace NS unenrolled")}},
		{[]string{"enroll", "service", "reviews", "-n", ns, "--waypoint", "none"}, []string{
			viewer + r.Replace(" for service NS/reviews: service NS/reviews opted out of waypoints"), authz, route}},
		{[]string{"enroll", "service", "reviews", "-n", ns, "--waypoint", "wl"}, []string{
			viewer + r.Replace(" for service NS/reviews: service NS/reviews enrolled in waypoint NS/wl"), authz, route}},
		{[]string{"apply", "-n", ns, "--for", "workload"}, []string{
			route + r.Replace(": Service NS/reviews would be bound to no waypoint: waypoint NS/waypoint would serve workload traffic"),
			viewer + r.Replace(" for service NS/reviews")}},
	} {
		_, stderr, code := runKube(t, tc.args...)
		wantCode := ExitUsage
		if tc.args[1] == "--all" {
			wantCode = ExitFailed // spare's waypoint is deleted (dry run), ns's refused
		}
		if code != wantCode {
			t.Errorf("%v: exit %d, want %d\n%s", tc.args, code, wantCode, stderr)
		}
		for _, w := range tc.want {
			if !strings.Contains(stderr, w) {
				t.Errorf("%v: stderr lacks %q:\n%s", tc.args, w, stderr)
			}
		}
	}
	// Nothing changed.
	gw, err := getGateway(t, ns, "waypoint")
	if err != nil || gw.Labels[istio.LabelWaypointFor] != "" || nsLabels(t, ns)[istio.LabelUseWaypoint] != "waypoint" || !gatewayExists(t, spare, "waypoint") {
		t.Fatalf("a refused change changed the cluster: %v %v %v", err, gw.Labels, nsLabels(t, ns))
	}
	if svc, _ := env.Kube.CoreV1().Services(ns).Get(context.Background(), "reviews", metav1.GetOptions{}); svc.Labels[istio.LabelUseWaypoint] != "" {
		t.Fatalf("a refused enroll labelled the service: %v", svc.Labels)
	}

	// Bulk: the refused object is a skipped record, the rest is done (exit
	// 1); refused as a whole, exit 2. The report says why.
	stdout, _, code := runKube(t, "delete", "--all", "-n", ns+","+spare, "--dry-run=server", "-o", "json")
	var rep bulk.Report
	if err := json.Unmarshal([]byte(stdout), &rep); err != nil {
		t.Fatal(err)
	}
	if code != ExitFailed || rep.Summary.Refused != 1 || rep.Summary.Counts[bulk.Deleted] != 2 {
		t.Errorf("delete --all over two namespaces: exit %d, summary %+v", code, rep.Summary)
	}
	for _, rec := range rep.Records {
		if rec.Refused != (rec.Namespace == ns && rec.Name == "waypoint") || (rec.Refused && (rec.Action != bulk.Skipped || !strings.Contains(rec.Error, viewer))) {
			t.Errorf("record %#v", rec)
		}
	}
	stdout, _, code = runKube(t, "unenroll", "namespace", ns, "-o", "json")
	rep = bulk.Report{}
	if err := json.Unmarshal([]byte(stdout), &rep); err != nil || code != ExitUsage || rep.Summary.Refused != 1 {
		t.Errorf("unenroll -o json: exit %d, %v, %s", code, err, stdout)
	}

	// Each change forced through: istiod ends where the prediction said.
	targets := func(kind enroll.Kind, name string) []enroll.Target {
		return enroll.SelectIn(context.Background(), c, kind, []string{ns}, []string{name}, "", 1).Targets
	}
	applyChange := func() policy.Change {
		o := &ApplyOptions{IO: f0(), clients: c, namespaces: []string{ns}, Gateway: gatewayFlags{name: "waypoint", trafficType: "workload"}}
		gw, err := render.Gateway(o.Gateway.request(ns))
		if err != nil {
			t.Fatal(err)
		}
		ch, err := waypoint.ApplyChange(context.Background(), c, []*gatewayv1.Gateway{gw}, []string{ns})
		if err != nil {
			t.Fatal(err)
		}
		return ch
	}
	for _, step := range []struct {
		args    []string
		change  func() policy.Change
		restore []string
	}{
		{[]string{"enroll", "service", "reviews", "-n", ns, "--waypoint", "none"},
			func() policy.Change {
				return (waypoint.EnrollRequest{Kind: enroll.KindService, Waypoint: "none"}).PolicyChange(targets(enroll.KindService, "reviews"))
			},
			[]string{"unenroll", "service", "reviews", "-n", ns}},
		{[]string{"enroll", "service", "reviews", "-n", ns, "--waypoint", "wl"},
			func() policy.Change {
				return (waypoint.EnrollRequest{Kind: enroll.KindService, Waypoint: "wl"}).PolicyChange(targets(enroll.KindService, "reviews"))
			},
			[]string{"unenroll", "service", "reviews", "-n", ns}},
		{[]string{"apply", "-n", ns, "--for", "workload"}, applyChange, []string{"apply", "-n", ns}},
		{[]string{"unenroll", "namespace", ns},
			func() policy.Change {
				return (waypoint.EnrollRequest{Kind: enroll.KindNamespace, Unenroll: true}).PolicyChange(targets(enroll.KindNamespace, ns))
			},
			[]string{"enroll", "namespace", ns, "--waypoint", "waypoint"}},
		{[]string{"delete", "waypoint", "-n", ns}, func() policy.Change { return waypoint.DeleteChange([]string{ns + "/waypoint"}) }, nil},
	} {
		im, err := policy.NewReader(c).Impact(context.Background(), []string{ns}, step.change())
		if err != nil {
			t.Fatal(err)
		}
		want := map[string]string{}
		for _, p := range im.After {
			if p.Kind == "AuthorizationPolicy" {
				want[p.Name] = p.Reason
			}
		}
		if want["reviews-authz"] == policy.ReasonAccepted || len(im.Losses) == 0 {
			t.Errorf("%v: the prediction loses nothing: %v", step.args, want)
		}
		_, stderr, code := runKube(t, append(step.args, "--force")...)
		if code != 0 || !strings.Contains(stderr, "(--force: ") {
			t.Fatalf("%v --force: exit %d\n%s", step.args, code, stderr)
		}
		t.Logf("%v --force: predicted %v", step.args, want)
		istiodAgrees(t, c, ns, want)
		if step.restore != nil {
			mustRun(step.restore...)
			istiodAgrees(t, c, ns, accepted)
		}
	}
}

// f0 is a quiet IOStreams for options built by a test.
func f0() *IOStreams {
	s, _, _ := TestStreams(false)
	return s
}
