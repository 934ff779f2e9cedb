package cli

import (
	"context"
	"encoding/json"
	"maps"
	"reflect"
	"strings"
	"testing"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	gatewayv1 "sigs.k8s.io/gateway-api/apis/v1"

	"github.com/kubectl-waypoint/kubectl-waypoint/internal/testenv"
	"github.com/kubectl-waypoint/kubectl-waypoint/pkg/bulk"
	"github.com/kubectl-waypoint/kubectl-waypoint/pkg/istio"
)

// TestApplyNeverTakesOverAnotherClass: a Gateway of another class that is
// named like the waypoint is never changed by apply, whatever the flags:
// for each of three other classes, every valid combination of
// --force-conflicts, --force, --enroll-namespace, --overwrite,
// --dry-run=server and --for (48 of them) is
// refused with exit 2 naming the class, the Gateway and the namespace's
// label are left alone, and no field of it is ours. Over several
// namespaces the others are applied, with one record for every object.
// Judged by reading the cluster back.
func TestApplyNeverTakesOverAnotherClass(t *testing.T) {
	ctx := context.Background()
	flags := [][]string{{"--force-conflicts"}, {"--force"}, {"--enroll-namespace"}, {"--overwrite"}, {"--dry-run=server"}, {"--for", "workload"}}
	var foreign string
	var unchanged func(what string)
	for _, class := range []string{"istio", "istio-remote", "example-proxy"} {
		ns := env.Namespace(t, nil)
		gw := testenv.WaypointGateway(ns, "waypoint", nil)
		gw.Spec.GatewayClassName = gatewayv1.ObjectName(class)
		gw.Spec.Listeners = []gatewayv1.Listener{{Name: "http", Port: 80, Protocol: gatewayv1.HTTPProtocolType}}
		env.CreateGateway(t, gw)
		before, err := getGateway(t, ns, "waypoint")
		if err != nil {
			t.Fatal(err)
		}
		check := func(what string) {
			t.Helper()
			after, err := getGateway(t, ns, "waypoint")
			if err != nil {
				t.Fatalf("%s: %v", what, err)
			}
			// istiod writes the status of a Gateway of class istio: the
			// spec, the labels and who manages them are what must not
			// change.
			if !reflect.DeepEqual(after.Spec, before.Spec) || !maps.Equal(after.Labels, before.Labels) {
				t.Errorf("%s changed the Gateway of class %s: class %s, %d listeners, labels %v",
					what, class, after.Spec.GatewayClassName, len(after.Spec.Listeners), after.Labels)
			}
			for _, m := range after.ManagedFields {
				if m.Manager == "kubectl-waypoint" {
					t.Errorf("%s: kubectl-waypoint manages fields of the Gateway of class %s (%s)", what, class, m.Operation)
				}
			}
			if l := nsLabels(t, ns)[istio.LabelUseWaypoint]; l != "" {
				t.Errorf("%s enrolled namespace %s (%q)", what, ns, l)
			}
		}
		if class == "istio" {
			foreign, unchanged = ns, check
		}
		for set := 0; set < 1<<len(flags); set++ {
			if set&(1<<3) != 0 && set&(1<<2) == 0 {
				continue // --overwrite needs --enroll-namespace
			}
			args := []string{"apply", "-n", ns}
			for i, f := range flags {
				if set&(1<<i) != 0 {
					args = append(args, f...)
				}
			}
			_, stderr, code := runKube(t, args...)
			if code != ExitUsage || !strings.Contains(stderr, `class "`+class+`"`) || strings.Contains(stderr, "--force-conflicts to take") {
				t.Errorf("%v: exit %d, stderr %q; want exit 2 naming class %q", args, code, stderr, class)
			}
			check(strings.Join(args, " "))
		}
	}

	// Several namespaces: the other one is applied and enrolled, and every
	// object has one record.
	ok := env.Namespace(t, nil)
	stdout, stderr, code := runKube(t, "apply", "-n", ok+","+foreign, "--enroll-namespace", "--force-conflicts", "-o", "json")
	var rep bulk.Report
	if err := json.Unmarshal([]byte(stdout), &rep); err != nil {
		t.Fatalf("exit %d, %v: %s %s", code, err, stdout, stderr)
	}
	if code != ExitFailed {
		t.Errorf("exit %d, want 1 (one namespace refused, the other applied)", code)
	}
	got := actionsByObject(t, &rep)
	for _, r := range rep.Records {
		if r.Namespace == foreign && r.Kind == "Gateway" && !strings.Contains(r.Error, `class "istio"`) {
			t.Errorf("record of the other class: %#v", r)
		}
	}
	want := map[string]bulk.Action{
		"Gateway " + ok + "/waypoint": bulk.Created, "Namespace /" + ok: bulk.Enrolled,
		"Gateway " + foreign + "/waypoint": bulk.Failed, "Namespace /" + foreign: bulk.Skipped,
	}
	for k, a := range want {
		if got[k] != a {
			t.Errorf("%s: %q, want %q (records %v)", k, got[k], a, got)
		}
	}
	if len(got) != len(want) {
		t.Errorf("records %v, want %v", got, want)
	}
	unchanged("apply over two namespaces")
	if _, err := env.Gateway.GatewayV1().Gateways(ok).Get(ctx, "waypoint", metav1.GetOptions{}); err != nil {
		t.Errorf("the waypoint of %s: %v", ok, err)
	}
	if l := nsLabels(t, ok)[istio.LabelUseWaypoint]; l != "waypoint" {
		t.Errorf("namespace %s labelled %q, want waypoint", ok, l)
	}
}

// TestApplyRecordsEveryObject: with --enroll-namespace, a namespace that
// uses another waypoint gets no waypoint, and both of its objects have a
// record: the Gateway skipped (not applied), the namespace failed. Read
// back: no Gateway there, its label as it was.
func TestApplyRecordsEveryObject(t *testing.T) {
	ok := env.Namespace(t, nil)
	elsewhere := env.Namespace(t, map[string]string{istio.LabelUseWaypoint: "other"})
	stdout, stderr, code := runKube(t, "apply", "-n", ok+","+elsewhere, "--enroll-namespace", "-o", "json")
	var rep bulk.Report
	if err := json.Unmarshal([]byte(stdout), &rep); err != nil {
		t.Fatalf("exit %d, %v: %s %s", code, err, stdout, stderr)
	}
	got := actionsByObject(t, &rep)
	want := map[string]bulk.Action{
		"Gateway " + ok + "/waypoint": bulk.Created, "Namespace /" + ok: bulk.Enrolled,
		"Gateway " + elsewhere + "/waypoint": bulk.Skipped, "Namespace /" + elsewhere: bulk.Failed,
	}
	if !maps.Equal(got, want) {
		t.Errorf("records %v, want %v", got, want)
	}
	if code != ExitFailed {
		t.Errorf("exit %d, want 1", code)
	}
	if _, err := getGateway(t, elsewhere, "waypoint"); err == nil {
		t.Errorf("a waypoint was applied in %s, which uses another", elsewhere)
	}
	if l := nsLabels(t, elsewhere)[istio.LabelUseWaypoint]; l != "other" {
		t.Errorf("namespace %s labelled %q, want other", elsewhere, l)
	}
}

// actionsByObject maps "Kind namespace/name" to the action of its record,
// and fails the test for an object with two records.
func actionsByObject(t *testing.T, rep *bulk.Report) map[string]bulk.Action {
	t.Helper()
	got := map[string]bulk.Action{}
	for _, r := range rep.Records {
		key := r.Kind + " " + r.Namespace + "/" + r.Name
		if _, dup := got[key]; dup {
			t.Errorf("two records of %s", key)
		}
		got[key] = r.Action
	}
	return got
}
