package cli

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"time"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/apimachinery/pkg/util/wait"

	"github.com/kubectl-waypoint/kubectl-waypoint/internal/testenv"
)

// TestPrintedFixesWork runs every kind of fix the tool prints (after
// "fix:", in a refusal of enroll, in a warning) exactly as printed, through
// "kubectl waypoint", and checks that it does what it promises, by the
// cluster and istiod rather than by our own explain: the command that was
// refused then succeeds and istiod binds the object to the waypoint (the
// istio.io/WaypointBound condition it writes on a Service, or the waypoint
// it sends ztunnel for a pod and for a namespace's service, read from its
// /debug/ambientz), or the label is then gone.
func TestPrintedFixesWork(t *testing.T) {
	bin := pluginBinDir(t)
	environ := append(os.Environ(),
		"PATH="+bin+string(os.PathListSeparator)+filepath.Dir(env.KubectlPath)+string(os.PathListSeparator)+os.Getenv("PATH"),
		"KUBECONFIG="+env.Kubeconfig, "NO_COLOR=1")
	// sh runs one command line with bash, as a user pasting it would.
	sh := func(t *testing.T, line string) (string, int) {
		t.Helper()
		cmd := exec.Command("bash", "-c", line)
		cmd.Env = environ
		var out bytes.Buffer
		cmd.Stdout, cmd.Stderr = &out, &out
		err := cmd.Run()
		var exit *exec.ExitError
		switch {
		case errors.As(err, &exit):
			return out.String(), exit.ExitCode()
		case err != nil:
			t.Fatalf("%s: %v", line, err)
		}
		return out.String(), 0
	}
	must := func(t *testing.T, want int, line string) string {
		t.Helper()
		out, code := sh(t, line)
		if code != want {
			t.Fatalf("%s: exit %d, want %d\n%s", line, code, want, out)
		}
		return out
	}
	seen := map[string]bool{}
	// runFixes runs each command in output that the tool printed as a fix
	// and returns them.
	runFixes := func(t *testing.T, output string, want int) []string {
		t.Helper()
		cmds := fixCommands(output)
		if len(cmds) != want {
			t.Fatalf("want %d fix commands, found %d %q in:\n%s", want, len(cmds), cmds, output)
		}
		for _, c := range cmds {
			must(t, 0, c)
			seen[fixShape(c)] = true
		}
		return cmds
	}

	t.Run("cross-namespace: --allow-namespace, never a metadata.name label", func(t *testing.T) {
		infra := env.Namespace(t, testenv.AmbientLabels())
		first := env.Namespace(t, testenv.AmbientLabels())
		second := env.Namespace(t, testenv.AmbientLabels())
		env.Service(t, second, "reviews", nil)
		must(t, 0, "kubectl waypoint apply -n "+infra+" --name egress --allow-namespace "+first+" --wait")
		enroll := "kubectl waypoint enroll service reviews -n " + second + " --waypoint egress --waypoint-namespace " + infra
		out := must(t, ExitUsage, enroll)
		if strings.Contains(strings.Join(fixCommands(out), "\n"), "kubernetes.io/metadata.name") {
			t.Errorf("the fix labels kubernetes.io/metadata.name, which the API server refuses:\n%s", out)
		}
		notBound(t, testenv.ServiceResource, second, "reviews", infra+"/egress")
		cmds := runFixes(t, out, 1)
		if !strings.Contains(cmds[0], "--allow-namespace "+first) || !strings.Contains(cmds[0], "--allow-namespace "+second) {
			t.Errorf("the fix %q should keep %s allowed and add %s", cmds[0], first, second)
		}
		must(t, 0, enroll)
		waitBound(t, testenv.ServiceResource, second, "reviews", infra+"/egress")

		// explain says the same of a resource labelled past the check.
		third := env.Namespace(t, testenv.AmbientLabels())
		env.Service(t, third, "ratings", nil)
		must(t, 0, "kubectl waypoint enroll service ratings -n "+third+" --waypoint egress --waypoint-namespace "+infra+" --force")
		out = must(t, 0, "kubectl waypoint explain service ratings -n "+third)
		if !strings.Contains(out, "(AttachmentDenied)") {
			t.Fatalf("explain should report AttachmentDenied:\n%s", out)
		}
		notBound(t, testenv.ServiceResource, third, "ratings", infra+"/egress")
		runFixes(t, out, 1)
		waitBound(t, testenv.ServiceResource, third, "ratings", infra+"/egress")
	})

	t.Run("selector: label the namespace", func(t *testing.T) {
		infra := env.Namespace(t, testenv.AmbientLabels())
		consumer := env.Namespace(t, testenv.AmbientLabels())
		env.Service(t, consumer, "reviews", nil)
		must(t, 0, "kubectl waypoint apply -n "+infra+" --name shared --allow-namespace-selector team="+consumer+" --wait")
		enroll := "kubectl waypoint enroll service reviews -n " + consumer + " --waypoint shared --waypoint-namespace " + infra
		notBound(t, testenv.ServiceResource, consumer, "reviews", infra+"/shared")
		runFixes(t, must(t, ExitUsage, enroll), 1)
		if got := labelsOf(t, "namespace", "", consumer)["team"]; got != consumer {
			t.Fatalf("namespace %s has team=%q after the fix", consumer, got)
		}
		must(t, 0, enroll)
		waitBound(t, testenv.ServiceResource, consumer, "reviews", infra+"/shared")
	})

	t.Run("traffic type: apply --for all", func(t *testing.T) {
		ns := env.Namespace(t, testenv.AmbientLabels())
		env.Service(t, ns, "reviews", nil)
		env.Pod(t, ns, "reviews-v1", nil)
		env.SetPodIP(t, ns, "reviews-v1", "10.252.0.1") // a workload to istiod
		must(t, 0, "kubectl waypoint apply -n "+ns+" --name pods-only --for workload --wait")
		enroll := "kubectl waypoint enroll service reviews -n " + ns + " --waypoint pods-only"
		notBound(t, testenv.ServiceResource, ns, "reviews", ns+"/pods-only")
		runFixes(t, must(t, ExitUsage, enroll), 1)
		must(t, 0, enroll)
		waitBound(t, testenv.ServiceResource, ns, "reviews", ns+"/pods-only")

		// explain's fix for a pod enrolled into a waypoint for services.
		must(t, 0, "kubectl waypoint apply -n "+ns+" --name svc-only --for service --wait")
		must(t, 0, "kubectl label pod reviews-v1 -n "+ns+" istio.io/use-waypoint=svc-only")
		out := must(t, 0, "kubectl waypoint explain pod reviews-v1 -n "+ns)
		if !strings.Contains(out, "(UnsupportedTrafficType)") {
			t.Fatalf("explain should report UnsupportedTrafficType:\n%s", out)
		}
		notAmbient(t, "Pod", ns, "reviews-v1", ns, "svc-only")
		runFixes(t, out, 1)
		waitAmbient(t, "Pod", ns, "reviews-v1", ns, "svc-only")
	})

	t.Run("missing waypoint and namespace not in ambient mode", func(t *testing.T) {
		ns := env.Namespace(t, nil)
		// What the namespace's enrollment reaches: its service, as
		// ztunnel is told.
		env.Service(t, ns, "ratings", nil)
		out := must(t, 0, "kubectl waypoint enroll namespace "+ns+" --waypoint later")
		notAmbient(t, "Service", ns, "ratings", ns, "later")
		runFixes(t, out, 2) // kubectl label namespace ... ambient, kubectl waypoint apply
		if got := labelsOf(t, "namespace", "", ns)["istio.io/dataplane-mode"]; got != "ambient" {
			t.Fatalf("namespace %s has dataplane-mode %q after the fix", ns, got)
		}
		out = must(t, 0, "kubectl waypoint enroll namespace "+ns+" --waypoint later")
		if cmds := fixCommands(out); len(cmds) != 0 {
			t.Errorf("enroll still suggests %q after the fixes", cmds)
		}
		waitAmbient(t, "Service", ns, "ratings", ns, "later")

		// explain's fix for a service enrolled into a waypoint not applied yet.
		other := env.Namespace(t, testenv.AmbientLabels())
		env.Service(t, other, "reviews", map[string]string{"istio.io/use-waypoint": "reviews-svc-waypoint"})
		out = must(t, 0, "kubectl waypoint explain service reviews -n "+other)
		notBound(t, testenv.ServiceResource, other, "reviews", other+"/reviews-svc-waypoint")
		runFixes(t, out, 1)
		waitBound(t, testenv.ServiceResource, other, "reviews", other+"/reviews-svc-waypoint")

		// The same for a ServiceEntry, which has a generation.
		env.ServiceEntry(t, other, "ext", map[string]string{"istio.io/use-waypoint": "egress"})
		out = must(t, 0, "kubectl waypoint explain serviceentry ext -n "+other)
		notBound(t, testenv.ServiceEntryResource, other, "ext", other+"/egress")
		runFixes(t, out, 1)
		waitBound(t, testenv.ServiceEntryResource, other, "ext", other+"/egress")
	})

	t.Run("not ready: status --wait once istiod runs", func(t *testing.T) {
		ns := env.Namespace(t, testenv.AmbientLabels())
		release := env.HoldWaypoint(t, ns, "waypoint")
		env.Waypoint(t, ns, "waypoint", nil)
		env.Service(t, ns, "reviews", map[string]string{"istio.io/use-waypoint": "waypoint"})
		out := must(t, 0, "kubectl waypoint explain service reviews -n "+ns)
		cmds := fixCommands(out)
		if len(cmds) != 1 || !strings.Contains(cmds[0], "--wait") {
			t.Fatalf("want a status --wait fix, got %q in:\n%s", cmds, out)
		}
		// The fix says "check that istiod runs and programs it": once the
		// waypoint's pod can run, it succeeds.
		notBound(t, testenv.ServiceResource, ns, "reviews", ns+"/waypoint")
		release()
		runFixes(t, out, 1)
		waitBound(t, testenv.ServiceResource, ns, "reviews", ns+"/waypoint")
	})

	t.Run("delete: unlabel what still points at the waypoint", func(t *testing.T) {
		ns := env.Namespace(t, testenv.AmbientLabels())
		env.Service(t, ns, "reviews", nil)
		env.Pod(t, ns, "reviews-v1", nil)
		must(t, 0, "kubectl waypoint apply -n "+ns+" --for all")
		must(t, 0, "kubectl waypoint enroll service reviews -n "+ns+" --waypoint waypoint")
		must(t, 0, "kubectl waypoint enroll pod reviews-v1 -n "+ns+" --waypoint waypoint")
		runFixes(t, must(t, 0, "kubectl waypoint delete waypoint -n "+ns), 2)
		if gatewayExists(t, ns, "waypoint") {
			t.Errorf("waypoint %s/waypoint is still in the cluster after delete", ns)
		}
		for _, kind := range []string{"service", "pod"} {
			name := map[string]string{"service": "reviews", "pod": "reviews-v1"}[kind]
			if got := enrollment(t, kind, ns, name); got != "- -" {
				t.Errorf("%s %s still enrolled (%s) after the fix", kind, name, got)
			}
		}
	})

	t.Run("unenroll: the ingress labels left with a say", func(t *testing.T) {
		ns := env.Namespace(t, map[string]string{testenv.DataplaneModeLabel: testenv.DataplaneModeAmbient, "istio.io/ingress-use-waypoint": "true"})
		env.Service(t, ns, "reviews", map[string]string{useWaypoint: "waypoint", "istio.io/ingress-use-waypoint": "true"})
		env.Service(t, ns, "ratings", map[string]string{useWaypoint: "waypoint", "istio.io/ingress-use-waypoint": "true"})
		// A plain unenroll keeps the service's ingress label; the fix
		// removes it.
		runFixes(t, must(t, 0, "kubectl waypoint unenroll service reviews -n "+ns), 1)
		if l := labelsOf(t, "service", ns, "reviews"); l[useWaypoint] != "" || l["istio.io/ingress-use-waypoint"] != "" {
			t.Errorf("reviews after the fix: %v", l)
		}
		// unenroll --ingress leaves the namespace's label to decide; the
		// fix labels the service false.
		runFixes(t, must(t, 0, "kubectl waypoint unenroll service ratings -n "+ns+" --ingress"), 1)
		if l := labelsOf(t, "service", ns, "ratings"); l[useWaypoint] != "waypoint" || l["istio.io/ingress-use-waypoint"] != "false" {
			t.Errorf("ratings after the fix: %v", l)
		}
	})

	t.Run("status: a second replica and a budget for a waypoint in use", func(t *testing.T) {
		ns := env.Namespace(t, testenv.AmbientLabels())
		env.Service(t, ns, "reviews", nil)
		must(t, 0, "kubectl waypoint apply -n "+ns+" --name single --for all --wait")
		must(t, 0, "kubectl waypoint enroll service reviews -n "+ns+" --waypoint single")
		settled(t, ns, "single", func(runningObjects) string { return "" })
		cmds := runFixes(t, must(t, 0, "kubectl waypoint status -n "+ns), 1)
		if !strings.Contains(cmds[0], "--for all") {
			t.Errorf("the fix %q drops the waypoint's --for all", cmds[0])
		}
		// Judged by what istiod deploys: two ready replicas, a budget that
		// lets one go; and the waypoint keeps serving all traffic.
		settled(t, ns, "single", func(o runningObjects) string {
			if o.dep.Spec.Replicas == nil || *o.dep.Spec.Replicas != 2 || o.pdb == nil || o.pdb.Spec.MaxUnavailable == nil || o.pdb.Spec.MaxUnavailable.IntValue() != 1 {
				return fmt.Sprintf("replicas %v, budget %+v", o.dep.Spec.Replicas, o.pdb)
			}
			return ""
		})
		gw, err := env.Gateway.GatewayV1().Gateways(ns).Get(context.Background(), "single", metav1.GetOptions{})
		if err != nil {
			t.Fatal(err)
		}
		if got := gw.Labels["istio.io/waypoint-for"]; got != "all" {
			t.Errorf("after the fix the waypoint is for %q", got)
		}
		if out := must(t, 0, "kubectl waypoint status -n "+ns); strings.Contains(out, "Warning:") {
			t.Errorf("status still warns after the fix:\n%s", out)
		}
	})

	// Every shape of fix the tool prints was run above.
	for _, shape := range []string{
		"kubectl waypoint apply --allow-namespace",
		"kubectl label namespace team",
		"kubectl waypoint apply --for",
		"kubectl waypoint apply",
		"kubectl label namespace istio.io/dataplane-mode",
		"kubectl waypoint status --wait",
		"kubectl label service istio.io/use-waypoint-",
		"kubectl label pod istio.io/use-waypoint-",
		"kubectl waypoint unenroll",
		"kubectl label service istio.io/ingress-use-waypoint",
	} {
		if !seen[shape] {
			t.Errorf("no fix of the shape %q was run; seen %v", shape, seen)
		}
	}
}

// fixCommand finds a command the tool printed: from "kubectl " to the end
// of the line.
var fixCommand = regexp.MustCompile(`(?m)\bkubectl (waypoint|label|edit) .*$`)

// fixCommands lists the commands the tool printed as fixes in output.
func fixCommands(output string) []string {
	var out []string
	for _, m := range fixCommand.FindAllString(output, -1) {
		out = append(out, strings.TrimSpace(m))
	}
	return out
}

// fixShape is a fix command without its names: the command, and the flags
// and label keys it uses.
func fixShape(cmd string) string {
	words := strings.Fields(cmd)
	shape := words[:3]
	for _, w := range words[3:] {
		switch {
		case strings.HasPrefix(w, "--") && (w == "--allow-namespace" || w == "--for" || w == "--wait"):
			shape = append(shape, w)
		case strings.Contains(w, "="):
			shape = append(shape, strings.SplitN(w, "=", 2)[0])
		case strings.HasSuffix(w, "-") && strings.Contains(w, "/"):
			shape = append(shape, w)
		}
	}
	// keep the first flag or label only: enough to tell the fixes apart
	if len(shape) > 4 {
		shape = shape[:4]
	}
	return strings.Join(shape, " ")
}

// boundTo reads the object's istio.io/WaypointBound condition, as istiod
// wrote it in the API server, and says whether it binds the object to
// waypoint (namespace/name): True, reason WaypointAccepted, the message
// naming the waypoint, and an observedGeneration, where istiod writes one,
// equal to the object's generation. This istiod writes none on
// WaypointBound (model.ServiceInfo.GetConditions leaves it unset; and a
// Service has no generation): the callers make sure the object was not
// bound to the waypoint before the change, so that a condition written
// earlier cannot pass. Otherwise it returns what it read.
func boundTo(ctx context.Context, gvr schema.GroupVersionResource, ns, name, waypoint string) (bool, string, error) {
	obj, err := env.Dynamic.Resource(gvr).Namespace(ns).Get(ctx, name, metav1.GetOptions{})
	if err != nil {
		return false, "", err
	}
	conds, _, _ := unstructured.NestedSlice(obj.Object, "status", "conditions")
	read := fmt.Sprintf("generation %d, conditions %v", obj.GetGeneration(), conds)
	for _, c := range conds {
		m, _ := c.(map[string]any)
		if m["type"] != "istio.io/WaypointBound" {
			continue
		}
		// A number, or a string in Istio's own kinds (a proto int64).
		if g, ok := m["observedGeneration"]; ok && fmt.Sprint(g) != strconv.FormatInt(obj.GetGeneration(), 10) {
			return false, read, nil
		}
		return m["status"] == "True" && m["reason"] == "WaypointAccepted" &&
			strings.HasSuffix(fmt.Sprint(m["message"]), " "+waypoint), read, nil
	}
	return false, read, nil
}

// notBound fails the test when istiod already binds the object to waypoint,
// before the change whose effect waitBound is to judge.
func notBound(t *testing.T, gvr schema.GroupVersionResource, ns, name, waypoint string) {
	t.Helper()
	bound, read, err := boundTo(context.Background(), gvr, ns, name, waypoint)
	if err != nil {
		t.Fatal(err)
	}
	if bound {
		t.Fatalf("%s %s/%s is bound to waypoint %s before the fix: %s", gvr.Resource, ns, name, waypoint, read)
	}
}

// waitBound polls boundTo until istiod binds the object to waypoint:
// istiod works asynchronously.
func waitBound(t *testing.T, gvr schema.GroupVersionResource, ns, name, waypoint string) {
	t.Helper()
	var last string
	err := wait.PollUntilContextTimeout(context.Background(), 100*time.Millisecond, 30*time.Second, true, func(ctx context.Context) (bool, error) {
		bound, read, err := boundTo(ctx, gvr, ns, name, waypoint)
		if err != nil {
			return false, nil // read again until the deadline
		}
		last = read
		return bound, nil
	})
	if err != nil {
		t.Fatalf("istiod never bound %s %s/%s to waypoint %s: %v; last read: %s", gvr.Resource, ns, name, waypoint, err, last)
	}
}

// ambientWaypoint reads what istiod sends to ztunnel (its /debug/ambientz)
// for the workload (kind Pod) or service (kind Service) ns/name: the
// waypoint as namespace/hostname, "none", or "absent".
func ambientWaypoint(ctx context.Context, kind, ns, name string) (string, error) {
	a, err := env.Ambientz(ctx)
	if err != nil {
		return "", err
	}
	if kind == "Service" {
		for _, s := range a.Services {
			if s.Namespace == ns && s.Name == name {
				return s.Waypoint.String(), nil
			}
		}
		return "absent", nil
	}
	for _, w := range a.Workloads {
		if w.Namespace == ns && w.Name == name && w.Kind() == kind {
			return w.Waypoint.String(), nil
		}
	}
	return "absent", nil
}

// waypointHost is how ambientz names waypoint ns/name: by its Service.
func waypointHost(ns, name string) string {
	return ns + "/" + name + "." + ns + ".svc.cluster.local"
}

// notAmbient fails the test when istiod already sends ztunnel the object
// with waypoint ns/name, before the change whose effect waitAmbient is to
// judge.
func notAmbient(t *testing.T, kind, ns, name, wpNS, wpName string) {
	t.Helper()
	got, err := ambientWaypoint(context.Background(), kind, ns, name)
	if err != nil {
		t.Fatal(err)
	}
	if got == waypointHost(wpNS, wpName) {
		t.Fatalf("istiod sends %s %s/%s through waypoint %s before the fix", kind, ns, name, got)
	}
}

// waitAmbient polls ambientWaypoint until istiod sends ztunnel the object
// with waypoint wpNS/wpName: istiod works asynchronously. A pod is a
// workload only once it has an IP.
func waitAmbient(t *testing.T, kind, ns, name, wpNS, wpName string) {
	t.Helper()
	want, got := waypointHost(wpNS, wpName), ""
	err := wait.PollUntilContextTimeout(context.Background(), 200*time.Millisecond, 30*time.Second, true, func(ctx context.Context) (bool, error) {
		var err error
		got, err = ambientWaypoint(ctx, kind, ns, name)
		return got == want, err
	})
	if err != nil {
		t.Fatalf("istiod never sent ztunnel %s %s/%s with waypoint %s: %v; last: %s", kind, ns, name, want, err, got)
	}
}
