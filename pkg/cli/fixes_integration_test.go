package cli

import (
	"bytes"
	"context"
	"errors"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/kubectl-waypoint/kubectl-waypoint/internal/testenv"
)

// TestPrintedFixesWork runs every kind of fix the tool prints (after
// "fix:", in a refusal of enroll, in a warning) exactly as printed, through
// "kubectl waypoint", and checks that it does what it promises: the command
// that was refused then succeeds, or explain then reports the waypoint in
// use, or the label is then gone.
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
		cmds := runFixes(t, out, 1)
		if !strings.Contains(cmds[0], "--allow-namespace "+first) || !strings.Contains(cmds[0], "--allow-namespace "+second) {
			t.Errorf("the fix %q should keep %s allowed and add %s", cmds[0], first, second)
		}
		must(t, 0, enroll)
		waitExplain(t, sh, "kubectl waypoint explain service reviews -n "+second, "("+"WaypointAccepted)")

		// explain says the same of a resource labelled past the check.
		third := env.Namespace(t, testenv.AmbientLabels())
		env.Service(t, third, "ratings", nil)
		must(t, 0, "kubectl waypoint enroll service ratings -n "+third+" --waypoint egress --waypoint-namespace "+infra+" --force")
		out = must(t, 0, "kubectl waypoint explain service ratings -n "+third)
		if !strings.Contains(out, "(AttachmentDenied)") {
			t.Fatalf("explain should report AttachmentDenied:\n%s", out)
		}
		runFixes(t, out, 1)
		waitExplain(t, sh, "kubectl waypoint explain service ratings -n "+third, "(WaypointAccepted)")
	})

	t.Run("selector: label the namespace", func(t *testing.T) {
		infra := env.Namespace(t, testenv.AmbientLabels())
		consumer := env.Namespace(t, testenv.AmbientLabels())
		env.Service(t, consumer, "reviews", nil)
		must(t, 0, "kubectl waypoint apply -n "+infra+" --name shared --allow-namespace-selector team="+consumer+" --wait")
		enroll := "kubectl waypoint enroll service reviews -n " + consumer + " --waypoint shared --waypoint-namespace " + infra
		runFixes(t, must(t, ExitUsage, enroll), 1)
		if got := labelsOf(t, "namespace", "", consumer)["team"]; got != consumer {
			t.Fatalf("namespace %s has team=%q after the fix", consumer, got)
		}
		must(t, 0, enroll)
		waitExplain(t, sh, "kubectl waypoint explain service reviews -n "+consumer, "(WaypointAccepted)")
	})

	t.Run("traffic type: apply --for all", func(t *testing.T) {
		ns := env.Namespace(t, testenv.AmbientLabels())
		env.Service(t, ns, "reviews", nil)
		env.Pod(t, ns, "reviews-v1", nil)
		must(t, 0, "kubectl waypoint apply -n "+ns+" --name pods-only --for workload --wait")
		enroll := "kubectl waypoint enroll service reviews -n " + ns + " --waypoint pods-only"
		runFixes(t, must(t, ExitUsage, enroll), 1)
		must(t, 0, enroll)
		waitExplain(t, sh, "kubectl waypoint explain service reviews -n "+ns, "(WaypointAccepted)")

		// explain's fix for a pod enrolled into a waypoint for services.
		must(t, 0, "kubectl waypoint apply -n "+ns+" --name svc-only --for service --wait")
		must(t, 0, "kubectl label pod reviews-v1 -n "+ns+" istio.io/use-waypoint=svc-only")
		out := must(t, 0, "kubectl waypoint explain pod reviews-v1 -n "+ns)
		if !strings.Contains(out, "(UnsupportedTrafficType)") {
			t.Fatalf("explain should report UnsupportedTrafficType:\n%s", out)
		}
		runFixes(t, out, 1)
		waitExplain(t, sh, "kubectl waypoint explain pod reviews-v1 -n "+ns, "(WaypointAccepted)")
	})

	t.Run("missing waypoint and namespace not in ambient mode", func(t *testing.T) {
		ns := env.Namespace(t, nil)
		out := must(t, 0, "kubectl waypoint enroll namespace "+ns+" --waypoint later")
		runFixes(t, out, 2) // kubectl label namespace ... ambient, kubectl waypoint apply
		if got := labelsOf(t, "namespace", "", ns)["istio.io/dataplane-mode"]; got != "ambient" {
			t.Fatalf("namespace %s has dataplane-mode %q after the fix", ns, got)
		}
		out = must(t, 0, "kubectl waypoint enroll namespace "+ns+" --waypoint later")
		if cmds := fixCommands(out); len(cmds) != 0 {
			t.Errorf("enroll still suggests %q after the fixes", cmds)
		}
		waitExplain(t, sh, "kubectl waypoint explain namespace "+ns, "(WaypointAccepted)")

		// explain's fix for a service enrolled into a waypoint not applied yet.
		other := env.Namespace(t, testenv.AmbientLabels())
		env.Service(t, other, "reviews", map[string]string{"istio.io/use-waypoint": "reviews-svc-waypoint"})
		out = must(t, 0, "kubectl waypoint explain service reviews -n "+other)
		runFixes(t, out, 1)
		waitExplain(t, sh, "kubectl waypoint explain service reviews -n "+other, "(WaypointAccepted)")
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
		release()
		runFixes(t, out, 1)
		waitExplain(t, sh, "kubectl waypoint explain service reviews -n "+ns, "(WaypointAccepted)")
	})

	t.Run("delete: unlabel what still points at the waypoint", func(t *testing.T) {
		ns := env.Namespace(t, testenv.AmbientLabels())
		env.Service(t, ns, "reviews", nil)
		env.Pod(t, ns, "reviews-v1", nil)
		must(t, 0, "kubectl waypoint apply -n "+ns+" --for all")
		must(t, 0, "kubectl waypoint enroll service reviews -n "+ns+" --waypoint waypoint")
		must(t, 0, "kubectl waypoint enroll pod reviews-v1 -n "+ns+" --waypoint waypoint")
		runFixes(t, must(t, 0, "kubectl waypoint delete waypoint -n "+ns), 2)
		for _, kind := range []string{"service", "pod"} {
			name := map[string]string{"service": "reviews", "pod": "reviews-v1"}[kind]
			if got := enrollment(t, kind, ns, name); got != "- -" {
				t.Errorf("%s %s still enrolled (%s) after the fix", kind, name, got)
			}
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

// waitExplain runs an explain command until its output holds want: the fake
// istiod programs a waypoint shortly after it changes.
func waitExplain(t *testing.T, sh func(*testing.T, string) (string, int), line, want string) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	var out string
	for ctx.Err() == nil {
		out, _ = sh(t, line)
		if strings.Contains(out, want) {
			return
		}
		time.Sleep(200 * time.Millisecond)
	}
	t.Fatalf("%s never reported %s; last output:\n%s", line, want, out)
}
