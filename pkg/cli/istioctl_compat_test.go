package cli

import (
	"strings"
	"testing"
)

// TestIstioctlCommandLines runs, against the real API server, the command
// lines that "istioctl waypoint" accepts: the seeds' and every istioctl flag,
// with "istioctl waypoint" swapped for the tool.
func TestIstioctlCommandLines(t *testing.T) {
	ns := env.Namespace(t, nil)
	steps := []struct {
		args []string
		want string // a line stdout must hold
	}{
		{[]string{"generate", "--for", "service", "-n", ns}, "istio.io/waypoint-for: service"},
		{[]string{"generate", "--namespace", ns, "--name", "w", "-r", "canary"}, "istio.io/rev: canary"},
		{[]string{"apply", "-n", ns}, "waypoint " + ns + "/waypoint applied"},
		{[]string{"apply", "-n", ns, "--enroll-namespace"}, "namespace " + ns + ` labeled with "istio.io/use-waypoint: waypoint"`},
		{[]string{"apply", "-n", ns, "--enroll-namespace", "--overwrite", "--name", "other"}, `labeled with "istio.io/use-waypoint: other"`},
		{[]string{"apply", "-n", ns, "--name", "reviews-svc-waypoint"}, "waypoint " + ns + "/reviews-svc-waypoint applied"},
		{[]string{"apply", "-n", ns, "--name", "reviews-v2-pod-waypoint", "--for", "workload", "-w", "--waypoint-timeout", "30s"}, "waypoint " + ns + "/reviews-v2-pod-waypoint is ready"},
		// No istiod of revision canary runs: applied, never programmed.
		{[]string{"apply", "-n", ns, "--name", "rev", "--revision", "canary"}, "waypoint " + ns + "/rev applied"},
		{[]string{"list", "--namespace", ns}, "reviews-v2-pod-waypoint   default    workload       True"},
		{[]string{"list", "-A"}, ns + "   waypoint"},
		{[]string{"status", "-n", ns}, "Programmed"},
		{[]string{"status", "-n", ns, "--name", "waypoint", "--wait", "--waypoint-timeout", "10s"}, "waypoint   True"},
		{[]string{"delete", "reviews-svc-waypoint", "-n", ns}, "waypoint " + ns + "/reviews-svc-waypoint deleted"},
		{[]string{"delete", "--revision", "canary", "-n", ns}, "waypoint " + ns + "/rev deleted"},
		{[]string{"delete", "--name", "other", "-n", ns}, "waypoint " + ns + "/other deleted"},
		{[]string{"delete", "--all", "-n", ns}, "waypoint " + ns + "/waypoint deleted"},
	}
	for _, s := range steps {
		stdout, stderr, code := runKube(t, s.args...)
		if code != 0 || !strings.Contains(stdout, s.want) {
			t.Fatalf("%v: exit %d, want %q in stdout:\n%s\nstderr:\n%s", s.args, code, s.want, stdout, stderr)
		}
	}
}
