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

// TestDeleteUnenrollConverges: delete --unenroll finds every label that
// names a waypoint gone from its scope, also those an earlier run left, so
// a re-run cleans up; the report and the exit code agree.
func TestDeleteUnenrollConverges(t *testing.T) {
	ns := env.Namespace(t, nil)
	env.Waypoint(t, ns, "w", nil)
	env.Waypoint(t, ns, "kept", nil)
	env.Service(t, ns, "a", map[string]string{"istio.io/use-waypoint": "w"})
	env.Service(t, ns, "b", map[string]string{"istio.io/use-waypoint": "kept"})
	env.Pod(t, ns, "p", map[string]string{"istio.io/use-waypoint": "gone-long-ago"})
	// A first delete without --unenroll leaves the label behind.
	if _, stderr, code := runKube(t, "delete", "w", "-n", ns); code != 0 {
		t.Fatalf("exit %d: %s", code, stderr)
	}
	// Named: only labels of the named waypoint.
	stdout, stderr, code := runKube(t, "delete", "w", "-n", ns, "--unenroll", "--ignore-not-found", "-o", "json")
	var report bulk.Report
	if err := json.Unmarshal([]byte(stdout), &report); err != nil || code != 0 {
		t.Fatalf("exit %d, stdout %q, stderr %q", code, stdout, stderr)
	}
	if report.Summary.Counts[bulk.Unenrolled] != 1 || report.Records[1].Kind != "Service" || report.Records[1].Name != "a" {
		t.Errorf("records %+v", report.Records)
	}
	// --all: every dangling label of the namespace, but not one naming a
	// waypoint that exists.
	if _, _, code := runKube(t, "delete", "kept", "-n", ns); code != 0 {
		t.Fatal("delete kept")
	}
	env.Waypoint(t, ns, "kept", nil) // back again: its label is not dangling
	stdout, stderr, code = runKube(t, "delete", "--all", "-r", "nope", "-n", ns, "--unenroll")
	if code != 0 || !strings.Contains(stderr, "No waypoints of revision nope found in namespace "+ns) {
		t.Errorf("exit %d, stderr %q", code, stderr)
	}
	if !strings.Contains(stdout, "pod "+ns+"/p unenrolled from waypoint "+ns+"/gone-long-ago") || strings.Contains(stdout, "service "+ns+"/b") {
		t.Errorf("stdout %q", stdout)
	}
	if enrollment(t, "service", ns, "b") != "kept -" || enrollment(t, "pod", ns, "p") != "- -" {
		t.Errorf("service b %q, pod p %q; stdout %q", enrollment(t, "service", ns, "b"), enrollment(t, "pod", ns, "p"), stdout)
	}
}
