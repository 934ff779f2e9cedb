package cli

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"testing"

	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"
	gatewayv1 "sigs.k8s.io/gateway-api/apis/v1"

	"github.com/kubectl-waypoint/kubectl-waypoint/internal/testenv"
	"github.com/kubectl-waypoint/kubectl-waypoint/pkg/bulk"
	"github.com/kubectl-waypoint/kubectl-waypoint/pkg/enroll"
	"github.com/kubectl-waypoint/kubectl-waypoint/pkg/kube"
)

func gatewayExists(t *testing.T, ns, name string) bool {
	t.Helper()
	_, err := getGateway(t, ns, name)
	if err != nil && !apierrors.IsNotFound(err) {
		t.Fatal(err)
	}
	return err == nil
}

func nonWaypoint(t *testing.T, ns, name string) {
	t.Helper()
	gw := testenv.WaypointGateway(ns, name, nil)
	gw.Spec.GatewayClassName = "istio"
	gw.Spec.Listeners[0] = gatewayv1.Listener{Name: "http", Port: 80, Protocol: gatewayv1.HTTPProtocolType}
	env.CreateGateway(t, gw)
}

func TestDeleteByName(t *testing.T) {
	ns := env.Namespace(t, nil)
	env.Waypoint(t, ns, "one", nil)
	env.Waypoint(t, ns, "two", nil)
	nonWaypoint(t, ns, "ingress")
	stdout, stderr, code := runKube(t, "delete", "-n", ns, "one", "ingress", "missing", "two")
	if code != 1 {
		t.Fatalf("exit %d, want 1 (one refused, one missing)", code)
	}
	if want := fmt.Sprintf("waypoint %[1]s/one deleted\nwaypoint %[1]s/two deleted\n", ns); stdout != want {
		t.Errorf("stdout %q, want %q", stdout, want)
	}
	for _, w := range []string{`gateway ` + ns + `/ingress is not a waypoint (class "istio")`, "waypoint " + ns + "/missing not found"} {
		if !strings.Contains(stderr, w) {
			t.Errorf("stderr %q lacks %q", stderr, w)
		}
	}
	if gatewayExists(t, ns, "one") || gatewayExists(t, ns, "two") || !gatewayExists(t, ns, "ingress") {
		t.Error("wrong Gateways deleted")
	}
	if _, _, code := runKube(t, "delete", "-n", ns, "missing", "--ignore-not-found"); code != 0 {
		t.Errorf("--ignore-not-found: exit %d", code)
	}
}

func TestDeleteAllOnlyWaypoints(t *testing.T) {
	a := env.Namespace(t, nil)
	b := env.Namespace(t, nil)
	for _, ns := range []string{a, b} {
		env.Waypoint(t, ns, "waypoint", nil)
		env.Waypoint(t, ns, "canary", map[string]string{"istio.io/rev": "canary"})
		agent := testenv.WaypointGateway(ns, "agent", nil)
		agent.Spec.GatewayClassName = "istio-agentgateway-waypoint"
		env.CreateGateway(t, agent)
		nonWaypoint(t, ns, "ingress")
	}
	// --revision deletes only that revision's waypoints, in one namespace.
	stdout, _, code := runKube(t, "delete", "--revision", "canary", "-n", a)
	if code != 0 || stdout != fmt.Sprintf("waypoint %s/canary deleted\n", a) {
		t.Fatalf("--revision: exit %d, stdout %q", code, stdout)
	}
	// --dry-run deletes nothing.
	stdout, _, code = runKube(t, "delete", "--all", "-n", a, "--dry-run=server")
	if code != 0 || !strings.Contains(stdout, "deleted (server dry run)") || !gatewayExists(t, a, "waypoint") {
		t.Fatalf("dry run: exit %d, stdout %q", code, stdout)
	}
	// --all -A deletes every waypoint of both classes, and nothing else.
	stdout, stderr, code := runKube(t, "delete", "--all", "-A")
	if code != 0 {
		t.Fatalf("exit %d: %s", code, stderr)
	}
	for _, ns := range []string{a, b} {
		if gatewayExists(t, ns, "waypoint") || gatewayExists(t, ns, "agent") {
			t.Errorf("waypoints left in %s", ns)
		}
		if !gatewayExists(t, ns, "ingress") {
			t.Errorf("delete --all removed a Gateway that is not a waypoint in %s", ns)
		}
	}
	if !strings.Contains(stdout, b+"/canary deleted") {
		t.Errorf("stdout %q", stdout)
	}
}

func TestDeleteWarnsAndUnenrolls(t *testing.T) {
	ns := env.Namespace(t, map[string]string{"istio.io/use-waypoint": "waypoint"})
	consumer := env.Namespace(t, nil)
	env.Waypoint(t, ns, "waypoint", nil)
	env.Waypoint(t, ns, "reviews-svc-waypoint", nil)
	env.Service(t, ns, "reviews", map[string]string{"istio.io/use-waypoint": "reviews-svc-waypoint", "app": "reviews"})
	env.Pod(t, ns, "reviews-v2", map[string]string{"istio.io/use-waypoint": "waypoint", "version": "v2"})
	env.ServiceEntry(t, consumer, "istio-site", map[string]string{"istio.io/use-waypoint": "waypoint", "istio.io/use-waypoint-namespace": ns})
	// A same-named waypoint of another namespace is not affected.
	env.Service(t, consumer, "unrelated", map[string]string{"istio.io/use-waypoint": "waypoint"})

	stdout, stderr, code := runKube(t, "delete", "--all", "-n", ns)
	if code != 0 {
		t.Fatalf("exit %d: %s", code, stderr)
	}
	for _, w := range []string{
		"4 resources still use waypoints that no longer exist",
		"kubectl label namespace " + ns + " istio.io/use-waypoint- istio.io/use-waypoint-namespace-",
		"kubectl label service reviews -n " + ns + " istio.io/use-waypoint-",
		"kubectl label pod reviews-v2 -n " + ns,
		"kubectl label serviceentries.networking.istio.io istio-site -n " + consumer,
	} {
		if !strings.Contains(stderr, w) {
			t.Errorf("stderr lacks %q:\n%s", w, stderr)
		}
	}
	if strings.Contains(stderr, "unrelated") {
		t.Errorf("a resource enrolled in another namespace's waypoint was listed:\n%s", stderr)
	}
	_ = stdout

	// The labels are still there; recreate the waypoints and let --unenroll clean up.
	env.Waypoint(t, ns, "waypoint", nil)
	env.Waypoint(t, ns, "reviews-svc-waypoint", nil)
	stdout, stderr, code = runKube(t, "delete", "--all", "-n", ns, "--unenroll")
	if code != 0 || stderr != "" {
		t.Fatalf("exit %d, stderr %q", code, stderr)
	}
	for _, w := range []string{"namespace " + ns + " unenrolled", "service " + ns + "/reviews unenrolled", "pod " + ns + "/reviews-v2 unenrolled", "serviceentry " + consumer + "/istio-site unenrolled"} {
		if !strings.Contains(stdout, w) {
			t.Errorf("stdout lacks %q:\n%s", w, stdout)
		}
	}
	if l := nsLabels(t, ns); l["istio.io/use-waypoint"] != "" {
		t.Errorf("namespace still enrolled: %v", l)
	}
	svc, _ := env.Kube.CoreV1().Services(ns).Get(context.Background(), "reviews", metav1.GetOptions{})
	if svc.Labels["istio.io/use-waypoint"] != "" || svc.Labels["app"] != "reviews" {
		t.Errorf("service labels %v", svc.Labels)
	}
	other, _ := env.Kube.CoreV1().Services(consumer).Get(context.Background(), "unrelated", metav1.GetOptions{})
	if other.Labels["istio.io/use-waypoint"] != "waypoint" {
		t.Errorf("--unenroll touched a resource of another waypoint")
	}
}

func TestDeleteBadInput(t *testing.T) {
	for _, args := range [][]string{
		{"delete"},
		{"delete", "x", "--all"},
		{"delete", "x", "-A"},
		{"delete", "--all", "--dry-run=maybe"},
	} {
		_, stderr, code := runKube(t, args...)
		if code != ExitUsage || strings.Count(stderr, "\n") != 1 {
			t.Errorf("%v: exit %d, stderr %q", args, code, stderr)
		}
	}
}

// TestUnenrollKeepsANewerEnrollment: a conditional label write removes a
// label only if it still holds what was read when the patch arrives; a change
// of another label in between is kept and does not stop it.
func TestUnenrollKeepsANewerEnrollment(t *testing.T) {
	ctx := context.Background()
	ns := env.Namespace(t, nil)
	env.Service(t, ns, "reviews", map[string]string{"istio.io/use-waypoint": "old"})
	c, err := kube.NewClients(env.Config)
	if err != nil {
		t.Fatal(err)
	}
	read, err := env.Kube.CoreV1().Services(ns).Get(ctx, "reviews", metav1.GetOptions{})
	if err != nil {
		t.Fatal(err)
	}
	unenroll := enroll.Write{Kind: enroll.KindService, Namespace: ns, Name: "reviews", Labels: read.Labels,
		ResourceVersion: read.ResourceVersion, Change: enroll.UnenrollChange()}
	// Another writer moves the service to a new waypoint in between.
	relabel(t, ns, "reviews", `{"metadata":{"labels":{"istio.io/use-waypoint":"new"}}}`)
	if _, err := unenroll.Do(ctx, c); !errors.Is(err, enroll.ErrChangedSince) {
		t.Fatalf("err %v, want ErrChangedSince", err)
	}
	svc, _ := env.Kube.CoreV1().Services(ns).Get(ctx, "reviews", metav1.GetOptions{})
	if svc.Labels["istio.io/use-waypoint"] != "new" {
		t.Errorf("the newer enrollment was lost: %v", svc.Labels)
	}
	// Read again, and another writer changes only an unrelated label: the
	// write conflicts, reads again, and goes through, keeping that label.
	unenroll.Labels, unenroll.ResourceVersion = svc.Labels, svc.ResourceVersion
	relabel(t, ns, "reviews", `{"metadata":{"labels":{"team":"payments"}}}`)
	out, err := unenroll.Do(ctx, c)
	if err != nil || !out.Changed {
		t.Fatalf("changed %v, err %v", out.Changed, err)
	}
	svc, _ = env.Kube.CoreV1().Services(ns).Get(ctx, "reviews", metav1.GetOptions{})
	if _, ok := svc.Labels["istio.io/use-waypoint"]; ok || svc.Labels["team"] != "payments" {
		t.Errorf("labels %v, want only team=payments", svc.Labels)
	}
}

// relabel patches a service's labels as another writer would.
func relabel(t *testing.T, ns, name, patch string) {
	t.Helper()
	if _, err := env.Kube.CoreV1().Services(ns).Patch(context.Background(), name, types.MergePatchType, []byte(patch), metav1.PatchOptions{}); err != nil {
		t.Fatal(err)
	}
}

// TestDeleteUnenrollRule: --unenroll removes the labels that name a
// waypoint this call deletes, and does so before it deletes it; labels that
// name a waypoint that did not exist (enrolled ahead of it, or left by an
// earlier delete) are named and kept, and removed only with
// --unenroll-missing. Judged by the objects in the API server.
func TestDeleteUnenrollRule(t *testing.T) {
	ns := env.Namespace(t, nil)
	other := env.Namespace(t, nil)
	env.Waypoint(t, ns, "w", nil)
	env.Waypoint(t, ns, "kept", nil)
	env.Service(t, ns, "a", map[string]string{"istio.io/use-waypoint": "w"})
	env.Service(t, other, "c", map[string]string{"istio.io/use-waypoint": "w", "istio.io/use-waypoint-namespace": ns})
	env.Service(t, ns, "b", map[string]string{"istio.io/use-waypoint": "kept"})
	env.Pod(t, ns, "ahead", map[string]string{"istio.io/use-waypoint": "not-yet"})

	// Deleting nothing unenrolls nothing: the pod enrolled ahead of its
	// waypoint is named, with the flag that would remove its labels.
	stdout, stderr, code := runKube(t, "delete", "--all", "-r", "nope", "-n", ns, "--unenroll", "-o", "json")
	var report bulk.Report
	if err := json.Unmarshal([]byte(stdout), &report); err != nil || code != 0 {
		t.Fatalf("exit %d, stdout %q, stderr %q", code, stdout, stderr)
	}
	if len(report.Records) != 1 || report.Records[0].Name != "ahead" || report.Records[0].Action != bulk.Skipped ||
		!strings.Contains(report.Records[0].Error, "--unenroll-missing") {
		t.Errorf("records %+v", report.Records)
	}
	if got := enrollment(t, "pod", ns, "ahead"); got != "not-yet -" {
		t.Errorf("pod ahead %q: --unenroll removed a label naming a waypoint it did not delete", got)
	}

	// A named delete unenrolls the users of that waypoint, in any
	// namespace, and nothing else.
	if _, stderr, code := runKube(t, "delete", "w", "-n", ns, "--unenroll"); code != 0 {
		t.Fatalf("exit %d: %s", code, stderr)
	}
	if gatewayExists(t, ns, "w") {
		t.Error("waypoint w not deleted")
	}
	for _, c := range []struct{ kind, ns, name, want string }{
		{"service", ns, "a", "- -"}, {"service", other, "c", "- -"},
		{"service", ns, "b", "kept -"}, {"pod", ns, "ahead", "not-yet -"},
	} {
		if got := enrollment(t, c.kind, c.ns, c.name); got != c.want {
			t.Errorf("%s %s/%s: labels %q, want %q", c.kind, c.ns, c.name, got, c.want)
		}
	}

	// Without --unenroll the users stay, each named; a rerun of the named
	// delete with --unenroll does not remove them (the call deleted
	// nothing); --unenroll-missing does.
	env.Service(t, ns, "d", map[string]string{"istio.io/use-waypoint": "kept"})
	if _, stderr, code := runKube(t, "delete", "kept", "-n", ns); code != 0 || !strings.Contains(stderr, "2 resources still use waypoints that no longer exist") {
		t.Fatalf("exit %d: %s", code, stderr)
	}
	if _, _, code := runKube(t, "delete", "kept", "-n", ns, "--unenroll", "--ignore-not-found"); code != 0 {
		t.Fatalf("exit %d", code)
	}
	if got := enrollment(t, "service", ns, "b"); got != "kept -" {
		t.Errorf("service b %q: --unenroll removed the label of a waypoint it did not delete", got)
	}
	stdout, stderr, code = runKube(t, "delete", "--all", "-n", ns, "--unenroll-missing")
	if code != 0 || !strings.Contains(stdout, "pod "+ns+"/ahead unenrolled from waypoint "+ns+"/not-yet") {
		t.Errorf("exit %d, stdout %q, stderr %q", code, stdout, stderr)
	}
	for _, name := range []string{"b", "d"} {
		if got := enrollment(t, "service", ns, name); got != "- -" {
			t.Errorf("service %s %q after --unenroll-missing", name, got)
		}
	}
	if got := enrollment(t, "pod", ns, "ahead"); got != "- -" {
		t.Errorf("pod ahead %q after --unenroll-missing", got)
	}
}

// TestDeleteUnenrollKeepsAWaypointInUse: a waypoint whose users could not
// all be unenrolled is not deleted, so nothing is left naming a waypoint
// that is gone and the same command, run again with the rights, finishes.
func TestDeleteUnenrollKeepsAWaypointInUse(t *testing.T) {
	ns := env.Namespace(t, nil)
	env.Waypoint(t, ns, "w", nil)
	env.Waypoint(t, ns, "free", nil)
	env.Service(t, ns, "a", map[string]string{"istio.io/use-waypoint": "w"})
	env.Pod(t, ns, "p", map[string]string{"istio.io/use-waypoint": "w"})
	env.Service(t, ns, "f", map[string]string{"istio.io/use-waypoint": "free"})
	// Every right of the admin of docs/rbac.md but patching pods.
	kc := env.UserWithRole(t, "delete-nopatch-pods", withoutVerb(t, rbacGuide(t)["waypoint-admin"], "", "pods", "patch"), "")
	stdout, stderr, code := run(t, false, "delete", "--all", "-n", ns, "--unenroll", "-o", "json", "--kubeconfig", kc)
	var report bulk.Report
	if err := json.Unmarshal([]byte(stdout), &report); err != nil || code != ExitFailed {
		t.Fatalf("exit %d, stdout %q, stderr %q", code, stdout, stderr)
	}
	if !gatewayExists(t, ns, "w") || gatewayExists(t, ns, "free") {
		t.Errorf("w exists %v (want true), free exists %v (want false)", gatewayExists(t, ns, "w"), gatewayExists(t, ns, "free"))
	}
	if got := enrollment(t, "pod", ns, "p"); got != "w -" {
		t.Errorf("pod p %q", got)
	}
	if got := enrollment(t, "service", ns, "f"); got != "- -" {
		t.Errorf("service f %q", got)
	}
	// The report says what the server holds: one record per object.
	want := map[string]bulk.Action{"Gateway/w": bulk.Skipped, "Gateway/free": bulk.Deleted, "Pod/p": bulk.Failed, "Service/f": bulk.Unenrolled}
	for _, r := range report.Records {
		key := r.Kind + "/" + r.Name
		if a, ok := want[key]; ok && a == r.Action {
			delete(want, key)
			continue
		}
		if key != "Service/a" {
			t.Errorf("record %s: %s %q", key, r.Action, r.Error)
		}
	}
	if len(want) > 0 {
		t.Errorf("records missing or wrong: %v; report %+v", want, report.Records)
	}
	// The same command with the rights finishes the work.
	if _, stderr, code := runKube(t, "delete", "--all", "-n", ns, "--unenroll"); code != 0 {
		t.Fatalf("rerun: exit %d: %s", code, stderr)
	}
	if gatewayExists(t, ns, "w") || enrollment(t, "pod", ns, "p") != "- -" || enrollment(t, "service", ns, "a") != "- -" {
		t.Errorf("after the rerun: w exists %v, pod p %q, service a %q", gatewayExists(t, ns, "w"), enrollment(t, "pod", ns, "p"), enrollment(t, "service", ns, "a"))
	}
}
