package cli

import (
	"context"
	"encoding/json"
	"fmt"
	"strings"
	"testing"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/kubectl-waypoint/kubectl-waypoint/internal/testenv"
	"github.com/kubectl-waypoint/kubectl-waypoint/pkg/bulk"
)

const (
	useWaypoint   = "istio.io/use-waypoint"
	useWaypointNS = "istio.io/use-waypoint-namespace"
)

// labelsOf reads the labels of a namespace, service, pod or ServiceEntry.
func labelsOf(t *testing.T, kind, ns, name string) map[string]string {
	t.Helper()
	c := context.Background()
	var l map[string]string
	var err error
	switch kind {
	case "namespace":
		var o *corev1.Namespace
		if o, err = env.Kube.CoreV1().Namespaces().Get(c, name, metav1.GetOptions{}); err == nil {
			l = o.Labels
		}
	case "service":
		var o *corev1.Service
		if o, err = env.Kube.CoreV1().Services(ns).Get(c, name, metav1.GetOptions{}); err == nil {
			l = o.Labels
		}
	case "pod":
		var o *corev1.Pod
		if o, err = env.Kube.CoreV1().Pods(ns).Get(c, name, metav1.GetOptions{}); err == nil {
			l = o.Labels
		}
	case "serviceentry":
		o, gerr := env.Dynamic.Resource(testenv.ServiceEntryResource).Namespace(ns).Get(c, name, metav1.GetOptions{})
		if err = gerr; err == nil {
			l = o.GetLabels()
		}
	}
	if err != nil {
		t.Fatalf("reading %s %s/%s: %v", kind, ns, name, err)
	}
	return l
}

// enrollment is the two enrollment labels of an object, "-" when unset.
func enrollment(t *testing.T, kind, ns, name string) string {
	t.Helper()
	l := labelsOf(t, kind, ns, name)
	get := func(k string) string {
		if v, ok := l[k]; ok {
			return v
		}
		return "-"
	}
	return get(useWaypoint) + " " + get(useWaypointNS)
}

// seedNamespace creates a namespace with a fixed name from the Istio docs
// and deletes it when the test ends. Tests that use one must not run in
// parallel with others that use the same name.
func seedNamespace(t *testing.T, name string, labels map[string]string) {
	t.Helper()
	_ = env.DeleteNamespace(name) // left over from an interrupted run
	_, err := env.Kube.CoreV1().Namespaces().Create(context.Background(),
		&corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: name, Labels: labels}}, metav1.CreateOptions{})
	if err != nil {
		t.Fatalf("creating namespace %s: %v", name, err)
	}
	t.Cleanup(func() {
		if err := env.DeleteNamespace(name); err != nil {
			t.Errorf("deleting namespace %s: %v", name, err)
		}
	})
}

// squash collapses the blanks of every line of a table to one.
func squash(s string) string {
	lines := strings.Split(s, "\n")
	for i, l := range lines {
		lines[i] = strings.Join(strings.Fields(l), " ")
	}
	return strings.Join(lines, "\n")
}

// mustRun runs the tool against the test server and fails unless it exits
// with want.
func mustRun(t *testing.T, want int, args ...string) (stdout, stderr string) {
	t.Helper()
	stdout, stderr, code := runKube(t, args...)
	if code != want {
		t.Fatalf("%s: exit %d, want %d\nstdout:\n%s\nstderr:\n%s", strings.Join(args, " "), code, want, stdout, stderr)
	}
	return stdout, stderr
}

// TestEnrollSeedService is the Istio docs' example: a waypoint for the
// reviews service only.
func TestEnrollSeedService(t *testing.T) {
	t.Parallel()
	ns := env.Namespace(t, testenv.AmbientLabels())
	env.Service(t, ns, "reviews", map[string]string{"app": "reviews"})

	stdout, _ := mustRun(t, 0, "apply", "-n", ns, "--name", "reviews-svc-waypoint")
	if stdout != "waypoint "+ns+"/reviews-svc-waypoint applied\n" {
		t.Errorf("apply: %q", stdout)
	}
	env.WaitProgrammed(t, ns, "reviews-svc-waypoint")

	stdout, stderr := mustRun(t, 0, "enroll", "service", "reviews", "--waypoint", "reviews-svc-waypoint", "-n", ns)
	if want := fmt.Sprintf("service %[1]s/reviews enrolled in waypoint %[1]s/reviews-svc-waypoint\n", ns); stdout != want || stderr != "" {
		t.Errorf("enroll: stdout %q, stderr %q; want %q", stdout, stderr, want)
	}
	if got := enrollment(t, "service", ns, "reviews"); got != "reviews-svc-waypoint -" {
		t.Errorf("labels %q", got)
	}
	// The service's other labels are untouched.
	if labelsOf(t, "service", ns, "reviews")["app"] != "reviews" {
		t.Error("enroll lost the app label")
	}

	// Again: nothing is written. (First let istiod write its condition on
	// the service, which changes its resourceVersion.)
	env.WaitForCondition(t, testenv.ServiceResource, ns, "reviews", "istio.io/WaypointBound",
		func(c metav1.Condition) bool { return c.Status == metav1.ConditionTrue })
	before := mustGetService(t, ns, "reviews").ResourceVersion
	stdout, _ = mustRun(t, 0, "enroll", "svc", "reviews", "--waypoint", "reviews-svc-waypoint", "-n", ns)
	if want := fmt.Sprintf("service %[1]s/reviews unchanged (already enrolled in waypoint %[1]s/reviews-svc-waypoint)\n", ns); stdout != want {
		t.Errorf("re-enroll: %q, want %q", stdout, want)
	}
	if after := mustGetService(t, ns, "reviews").ResourceVersion; after != before {
		t.Errorf("re-enroll wrote the service: resourceVersion %s -> %s", before, after)
	}

	stdout, _ = mustRun(t, 0, "explain", "service", "reviews", "-n", ns)
	if !strings.HasPrefix(stdout, fmt.Sprintf("service %[1]s/reviews: uses waypoint %[1]s/reviews-svc-waypoint (WaypointAccepted)\n", ns)) {
		t.Errorf("explain:\n%s", stdout)
	}
}

func mustGetService(t *testing.T, ns, name string) *corev1.Service {
	t.Helper()
	svc, err := env.Kube.CoreV1().Services(ns).Get(context.Background(), name, metav1.GetOptions{})
	if err != nil {
		t.Fatal(err)
	}
	return svc
}

// TestEnrollSeedPods is the Istio docs' example: a workload waypoint for the
// pods of reviews v2, selected by label.
func TestEnrollSeedPods(t *testing.T) {
	t.Parallel()
	ns := env.Namespace(t, testenv.AmbientLabels())
	env.Pod(t, ns, "reviews-v1-7d4f8c9b5-abcde", map[string]string{"app": "reviews", "version": "v1"})
	env.Pod(t, ns, "reviews-v2-5b667bcbf8-spnnh", map[string]string{"app": "reviews", "version": "v2"})
	env.Pod(t, ns, "reviews-v2-5b667bcbf8-xyz12", map[string]string{"app": "reviews", "version": "v2"})
	mustRun(t, 0, "apply", "-n", ns, "--name", "reviews-v2-pod-waypoint", "--for", "workload")
	mustRun(t, 0, "apply", "-n", ns, "--name", "reviews-svc-waypoint")

	// A service waypoint does not take pod traffic: refused, nothing written.
	_, stderr := mustRun(t, ExitUsage, "enroll", "pod", "-l", "version=v2,app=reviews", "--waypoint", "reviews-svc-waypoint", "-n", ns)
	for _, want := range []string{
		"waypoint " + ns + "/reviews-svc-waypoint has traffic type service",
		"pods need a waypoint for workload or all traffic",
		"kubectl-waypoint apply -n " + ns + " --name reviews-svc-waypoint --for all",
		// The two fixes are alternatives, and say so.
		"--for all\nor enroll into a waypoint applied with --for workload",
		"--force",
	} {
		if !strings.Contains(stderr, want) {
			t.Errorf("stderr lacks %q:\n%s", want, stderr)
		}
	}
	if got := enrollment(t, "pod", ns, "reviews-v2-5b667bcbf8-spnnh"); got != "- -" {
		t.Fatalf("a refused enroll wrote labels: %q", got)
	}

	stdout, stderr := mustRun(t, 0, "enroll", "pod", "-l", "version=v2,app=reviews", "--waypoint", "reviews-v2-pod-waypoint", "-n", ns)
	want := fmt.Sprintf("pod %[1]s/reviews-v2-5b667bcbf8-spnnh enrolled in waypoint %[1]s/reviews-v2-pod-waypoint\n"+
		"pod %[1]s/reviews-v2-5b667bcbf8-xyz12 enrolled in waypoint %[1]s/reviews-v2-pod-waypoint\n", ns)
	if stdout != want || stderr != "" {
		t.Errorf("stdout %q\nwant %q\nstderr %q", stdout, want, stderr)
	}
	if got := enrollment(t, "pod", ns, "reviews-v1-7d4f8c9b5-abcde"); got != "- -" {
		t.Errorf("v1 pod was enrolled: %q", got)
	}

	// --force writes despite the traffic type, with a warning.
	stdout, stderr = mustRun(t, 0, "enroll", "po", "reviews-v1-7d4f8c9b5-abcde", "--waypoint", "reviews-svc-waypoint", "-n", ns, "--force")
	if !strings.Contains(stderr, "Warning: waypoint "+ns+"/reviews-svc-waypoint has traffic type service") || !strings.Contains(stdout, "enrolled") {
		t.Errorf("--force: stdout %q, stderr %q", stdout, stderr)
	}
}

// TestEnrollSeedCrossNamespace is the Istio docs' cross-namespace example: the
// egress-gateway in common-infrastructure, used by the ServiceEntry
// istio-site of cross-namespace-waypoint-consumer.
func TestEnrollSeedCrossNamespace(t *testing.T) {
	const infra, consumer = "common-infrastructure", "cross-namespace-waypoint-consumer"
	seedNamespace(t, infra, testenv.AmbientLabels())
	seedNamespace(t, consumer, testenv.AmbientLabels())
	env.ServiceEntry(t, consumer, "istio-site", nil)
	mustRun(t, 0, "apply", "-n", infra, "--name", "egress-gateway")
	env.WaitProgrammed(t, infra, "egress-gateway")

	enroll := []string{"enroll", "se", "istio-site", "-n", consumer, "--waypoint", "egress-gateway", "--waypoint-namespace", infra}
	// The waypoint does not let the consumer in yet: refused, with the fix.
	_, stderr := mustRun(t, ExitUsage, enroll...)
	fix := "kubectl-waypoint apply -n common-infrastructure --name egress-gateway --allow-namespace cross-namespace-waypoint-consumer"
	if !strings.Contains(stderr, "does not allow namespace "+consumer) || !strings.Contains(stderr, "\n  "+fix+"\n") {
		t.Fatalf("stderr:\n%s", stderr)
	}
	if got := enrollment(t, "serviceentry", consumer, "istio-site"); got != "- -" {
		t.Fatalf("a refused enroll wrote labels: %q", got)
	}

	// The suggested command is the fix.
	mustRun(t, 0, strings.Fields(fix)[1:]...)
	stdout, stderr := mustRun(t, 0, enroll...)
	if want := "serviceentry cross-namespace-waypoint-consumer/istio-site enrolled in waypoint common-infrastructure/egress-gateway\n"; stdout != want || stderr != "" {
		t.Errorf("stdout %q, stderr %q", stdout, stderr)
	}
	if got := enrollment(t, "serviceentry", consumer, "istio-site"); got != "egress-gateway common-infrastructure" {
		t.Errorf("labels %q", got)
	}

	// istiod binds it, and says so on the ServiceEntry.
	env.WaitForCondition(t, testenv.ServiceEntryResource, consumer, "istio-site", "istio.io/WaypointBound",
		func(c metav1.Condition) bool { return c.Status == metav1.ConditionTrue })
	stdout, _ = mustRun(t, 0, "explain", "se", "istio-site", "-n", consumer)
	for _, want := range []string{
		"serviceentry cross-namespace-waypoint-consumer/istio-site: uses waypoint common-infrastructure/egress-gateway (WaypointAccepted)",
		"waypoint common-infrastructure/egress-gateway allows namespace cross-namespace-waypoint-consumer",
		"istiod reports istio.io/WaypointBound=True, reason WaypointAccepted: Successfully attached to waypoint common-infrastructure/egress-gateway",
	} {
		if !strings.Contains(stdout, want) {
			t.Errorf("explain lacks %q:\n%s", want, stdout)
		}
	}
	stdout, _ = mustRun(t, 0, "explain", "waypoint", "egress-gateway", "-n", infra)
	if !strings.Contains(squash(stdout), "serviceentry cross-namespace-waypoint-consumer istio-site own label yes WaypointAccepted") {
		t.Errorf("explain waypoint:\n%s", stdout)
	}
	stdout, _ = mustRun(t, 0, "list", "-n", infra, "-o", "wide")
	if !strings.Contains(stdout, "ns:0 svc:0 po:0 se:1") {
		t.Errorf("list -o wide:\n%s", stdout)
	}

	// Unenroll removes both labels; again, it changes nothing.
	stdout, _ = mustRun(t, 0, "unenroll", "se", "istio-site", "-n", consumer)
	if stdout != "serviceentry cross-namespace-waypoint-consumer/istio-site unenrolled from waypoint common-infrastructure/egress-gateway\n" {
		t.Errorf("unenroll: %q", stdout)
	}
	if got := enrollment(t, "serviceentry", consumer, "istio-site"); got != "- -" {
		t.Errorf("labels after unenroll %q", got)
	}
	stdout, _ = mustRun(t, 0, "unenroll", "se", "istio-site", "-n", consumer)
	if stdout != "serviceentry cross-namespace-waypoint-consumer/istio-site unchanged (not enrolled)\n" {
		t.Errorf("unenroll again: %q", stdout)
	}
}

// TestEnrollNamespaceAndServiceThenCleanup follows the docs from a namespace
// waypoint to a service's own, then cleans up with delete --all --unenroll.
func TestEnrollNamespaceAndServiceThenCleanup(t *testing.T) {
	t.Parallel()
	ns := env.Namespace(t, testenv.AmbientLabels())
	env.Service(t, ns, "reviews", map[string]string{"app": "reviews"})
	env.Service(t, ns, "ratings", nil)
	env.Pod(t, ns, "reviews-v1-abc", map[string]string{"app": "reviews"})
	mustRun(t, 0, "apply", "-n", ns)
	mustRun(t, 0, "apply", "-n", ns, "--name", "reviews-svc-waypoint")
	env.WaitProgrammed(t, ns, "waypoint")
	env.WaitProgrammed(t, ns, "reviews-svc-waypoint")

	stdout, stderr := mustRun(t, 0, "enroll", "namespace", "--waypoint", "waypoint", "-n", ns)
	if stdout != "namespace "+ns+` labeled with "istio.io/use-waypoint: waypoint"`+"\n" || stderr != "" {
		t.Errorf("enroll namespace: %q %q", stdout, stderr)
	}
	stdout, _ = mustRun(t, 0, "enroll", "ns", ns, "--waypoint", "waypoint")
	if stdout != "namespace "+ns+` already labeled with "istio.io/use-waypoint: waypoint"`+"\n" {
		t.Errorf("enroll namespace again: %q", stdout)
	}
	mustRun(t, 0, "enroll", "service", "reviews", "--waypoint", "reviews-svc-waypoint", "-n", ns)

	// Both labelled: the service's own wins.
	stdout, _ = mustRun(t, 0, "explain", "service", "reviews", "-n", ns)
	for _, want := range []string{
		fmt.Sprintf("service %[1]s/reviews: uses waypoint %[1]s/reviews-svc-waypoint (WaypointAccepted)", ns),
		fmt.Sprintf("it wins over the label of namespace %[1]s (%[1]s/waypoint)", ns),
	} {
		if !strings.Contains(stdout, want) {
			t.Errorf("explain service lacks %q:\n%s", want, stdout)
		}
	}
	// ratings inherits the namespace's.
	stdout, _ = mustRun(t, 0, "explain", "svc", "ratings", "-n", ns)
	if !strings.Contains(stdout, fmt.Sprintf("service %[1]s/ratings: uses waypoint %[1]s/waypoint (WaypointAccepted)", ns)) {
		t.Errorf("explain ratings:\n%s", stdout)
	}
	// The pod inherits nothing (service waypoint), but its service does.
	stdout, _ = mustRun(t, 0, "explain", "pod", "reviews-v1-abc", "-n", ns)
	for _, want := range []string{
		fmt.Sprintf("pod %[1]s/reviews-v1-abc: uses no waypoint: the namespace's waypoint %[1]s/waypoint does not take workload traffic (NoWaypoint)", ns),
		"traffic addressed to its services:\n",
		fmt.Sprintf("  service %[1]s/reviews: uses waypoint %[1]s/reviews-svc-waypoint (WaypointAccepted)", ns),
	} {
		if !strings.Contains(stdout, want) {
			t.Errorf("explain pod lacks %q:\n%s", want, stdout)
		}
	}
	stdout, _ = mustRun(t, 0, "explain", "waypoint", "waypoint", "-n", ns)
	for _, want := range []string{
		"namespace - " + ns + " own label yes WaypointAccepted",
		"service " + ns + " ratings namespace yes WaypointAccepted",
	} {
		if !strings.Contains(squash(stdout), want) {
			t.Errorf("explain waypoint lacks %q:\n%s", want, stdout)
		}
	}
	if strings.Contains(stdout, "reviews ") {
		t.Errorf("explain waypoint lists reviews, which uses its own waypoint:\n%s", stdout)
	}
	stdout, _ = mustRun(t, 0, "list", "-n", ns, "-o", "wide")
	for _, want := range []string{"ENROLLED", "ns:1 svc:0 po:0 se:0", "ns:0 svc:1 po:0 se:0"} {
		if !strings.Contains(stdout, want) {
			t.Errorf("list -o wide lacks %q:\n%s", want, stdout)
		}
	}

	// The docs' cleanup: every waypoint goes, and so do the labels naming them.
	stdout, _ = mustRun(t, 0, "delete", "--all", "--unenroll", "-n", ns)
	for _, want := range []string{
		"namespace " + ns + " unenrolled from waypoint " + ns + "/waypoint",
		"service " + ns + "/reviews unenrolled from waypoint " + ns + "/reviews-svc-waypoint",
	} {
		if !strings.Contains(stdout, want) {
			t.Errorf("delete --unenroll lacks %q:\n%s", want, stdout)
		}
	}
	if enrollment(t, "namespace", "", ns) != "- -" || enrollment(t, "service", ns, "reviews") != "- -" {
		t.Error("labels left after delete --all --unenroll")
	}
}

func TestEnrollLabelRules(t *testing.T) {
	t.Parallel()
	ns := env.Namespace(t, testenv.AmbientLabels())
	other := env.Namespace(t, testenv.AmbientLabels())
	env.Service(t, ns, "stale", map[string]string{useWaypoint: "old", useWaypointNS: other, "keep": "me"})
	env.Service(t, ns, "optout", nil)
	env.Waypoint(t, ns, "waypoint", nil)

	// --waypoint-namespace equal to the service's own sets no namespace
	// label, and removes a stale one.
	mustRun(t, 0, "enroll", "service", "stale", "--waypoint", "waypoint", "--waypoint-namespace", ns, "-n", ns)
	if got := enrollment(t, "service", ns, "stale"); got != "waypoint -" {
		t.Errorf("labels %q", got)
	}
	if labelsOf(t, "service", ns, "stale")["keep"] != "me" {
		t.Error("other labels lost")
	}

	// none opts out, without any waypoint check or warning.
	stdout, stderr := mustRun(t, 0, "enroll", "service", "optout", "--waypoint", "none", "-n", ns)
	if stdout != "service "+ns+`/optout opted out of waypoints ("istio.io/use-waypoint: none")`+"\n" || stderr != "" {
		t.Errorf("none: %q %q", stdout, stderr)
	}
	if got := enrollment(t, "service", ns, "optout"); got != "none -" {
		t.Errorf("labels %q", got)
	}
	stdout, _ = mustRun(t, 0, "unenroll", "service", "optout", "-n", ns)
	if stdout != "service "+ns+"/optout no longer opts out of waypoints\n" {
		t.Errorf("unenroll none: %q", stdout)
	}

	// A waypoint that does not exist yet is a warning, not an error.
	stdout, stderr = mustRun(t, 0, "enroll", "service", "optout", "--waypoint", "later", "-n", ns)
	if !strings.Contains(stdout, "enrolled in waypoint "+ns+"/later") ||
		!strings.Contains(stderr, "Warning: waypoint "+ns+"/later does not exist yet") ||
		!strings.Contains(stderr, "kubectl-waypoint apply -n "+ns+" --name later") {
		t.Errorf("missing waypoint: %q %q", stdout, stderr)
	}
}

func TestEnrollNamespaceWarnings(t *testing.T) {
	t.Parallel()
	plain := env.Namespace(t, nil)
	env.Waypoint(t, plain, "waypoint", map[string]string{"istio.io/waypoint-for": "none"})
	stdout, stderr := mustRun(t, 0, "enroll", "namespace", plain, "--waypoint", "waypoint")
	if !strings.Contains(stdout, "namespace "+plain+" labeled with") {
		t.Errorf("stdout %q", stdout)
	}
	for _, want := range []string{
		"Warning: namespace " + plain + " is not in ambient mode; to add it to the mesh run: kubectl label namespace " + plain + " istio.io/dataplane-mode=ambient",
		"Warning: waypoint " + plain + "/waypoint has traffic type none",
	} {
		if !strings.Contains(stderr, want) {
			t.Errorf("stderr lacks %q:\n%s", want, stderr)
		}
	}
}

func TestEnrollDryRunAndJSON(t *testing.T) {
	t.Parallel()
	ns := env.Namespace(t, testenv.AmbientLabels())
	env.Waypoint(t, ns, "waypoint", map[string]string{"istio.io/waypoint-for": "all"})
	env.Pod(t, ns, "a", map[string]string{"app": "x"})
	env.Pod(t, ns, "b", map[string]string{"app": "x", useWaypoint: "waypoint"})

	for _, mode := range []string{"client", "server"} {
		stdout, _ := mustRun(t, 0, "enroll", "pod", "-l", "app=x", "--waypoint", "waypoint", "-n", ns, "--dry-run="+mode, "-o", "json")
		var rep bulk.Report
		if err := json.Unmarshal([]byte(stdout), &rep); err != nil {
			t.Fatalf("%s: %v\n%s", mode, err, stdout)
		}
		recs := rep.Records
		if len(recs) != 2 || recs[0].Name != "a" || recs[0].Action != "enrolled" || recs[0].After[useWaypoint] != "waypoint" ||
			len(recs[0].Before) != 0 || recs[0].Kind != "Pod" || recs[0].Namespace != ns || rep.DryRun != mode ||
			recs[1].Action != "unchanged" || recs[1].Before[useWaypoint] != "waypoint" || rep.Summary.Counts[bulk.Enrolled] != 1 {
			t.Errorf("%s: %+v", mode, rep)
		}
		if got := enrollment(t, "pod", ns, "a"); got != "- -" {
			t.Errorf("--dry-run=%s wrote labels: %q", mode, got)
		}
	}
	stdout, _ := mustRun(t, 0, "enroll", "pod", "a", "--waypoint", "waypoint", "-n", ns, "--dry-run")
	if stdout != "pod "+ns+"/a enrolled in waypoint "+ns+"/waypoint (dry run)\n" {
		t.Errorf("text dry run: %q", stdout)
	}

	// Failures: a missing name fails, the others are still done, exit 1.
	stdout, stderr, code := runKube(t, "unenroll", "pod", "b", "missing", "-n", ns, "-o", "json")
	if code != ExitFailed || !strings.Contains(stderr, "error: 1 of 2 objects failed") {
		t.Fatalf("exit %d, stderr %q", code, stderr)
	}
	var rep bulk.Report
	if err := json.Unmarshal([]byte(stdout), &rep); err != nil {
		t.Fatal(err)
	}
	recs := rep.Records
	if len(recs) != 2 || recs[1].Action != "failed" || !strings.Contains(recs[1].Error, `pod "missing" not found`) || recs[0].Action != "unenrolled" || rep.Summary.Failed != 1 {
		t.Errorf("%+v", recs)
	}
	if got := enrollment(t, "pod", ns, "b"); got != "- -" {
		t.Errorf("b still enrolled: %q", got)
	}

	// Nothing matches: said on stderr, exit 0.
	_, stderr = mustRun(t, 0, "enroll", "pod", "-l", "app=none", "--waypoint", "waypoint", "-n", ns)
	if stderr != "No pods found in namespace "+ns+".\n" {
		t.Errorf("no match: %q", stderr)
	}
}

func TestEnrollSelectorNamespacesAcrossWaypoints(t *testing.T) {
	t.Parallel()
	infra := env.Namespace(t, testenv.AmbientLabels())
	team := map[string]string{"istio.io/dataplane-mode": "ambient", "team": infra}
	a := env.Namespace(t, team)
	b := env.Namespace(t, team)
	mustRun(t, 0, "apply", "-n", infra, "--name", "shared", "--allow-namespace-selector", "team="+infra)

	// Both namespaces match the waypoint's selector: enrolled in one go.
	stdout, _ := mustRun(t, 0, "enroll", "ns", "-l", "team="+infra, "--waypoint", "shared", "--waypoint-namespace", infra)
	if strings.Count(stdout, `labeled with "istio.io/use-waypoint: shared" and "istio.io/use-waypoint-namespace: `+infra+`"`) != 2 {
		t.Errorf("stdout %q", stdout)
	}
	// A namespace outside the selector is told to get the label.
	c := env.Namespace(t, testenv.AmbientLabels())
	_, stderr := mustRun(t, ExitUsage, "enroll", "ns", c, "--waypoint", "shared", "--waypoint-namespace", infra)
	if !strings.Contains(stderr, "kubectl label namespace "+c+" team="+infra) {
		t.Errorf("stderr %q", stderr)
	}
	// Several -n: services in both.
	env.Service(t, a, "web", nil)
	env.Service(t, b, "web", nil)
	stdout, _ = mustRun(t, 0, "enroll", "svc", "web", "-n", a, "-n", b, "--waypoint", "shared", "--waypoint-namespace", infra)
	if strings.Count(stdout, "enrolled in waypoint "+infra+"/shared") != 2 {
		t.Errorf("several -n: %q", stdout)
	}
}
