package cli

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
)

// istioctlStep is one command line of "istioctl waypoint", with NS where the
// namespace goes.
type istioctlStep struct {
	args []string
	// code is the tool's exit code.
	code int
	// istioctl, istioctlCode and why are set where istioctl differs on
	// purpose (docs/istioctl.md): its spelling of the same request, its
	// exit code, and why. The cluster must still end the same.
	istioctl     []string
	istioctlCode int
	why          string
	// kubectl, for what istioctl cannot do, is what its user runs instead
	// with kubectl (the control plane's).
	kubectl []string
	// want, for a command that only reads, is a line the tool's stdout
	// holds (NS, the namespace); it is run through the tool alone.
	want string
}

// TestIstioctlCommandLines runs the command lines of "istioctl waypoint"
// (the seeds' and every istioctl flag) through the pinned istioctl in one
// fresh namespace and, with "istioctl waypoint" swapped for the tool, in
// another, and after each that writes (apply, apply --enroll-namespace,
// istioctl's only way to enroll, and delete) compares what the two left in
// the API server: the Gateways (spec, labels, annotations), the namespace's
// labels and its service's labels, the namespace's name normalised. Where
// istioctl differs on purpose the step says why; its cluster must still end
// the same. Unenroll, which istioctl lacks, is compared with kubectl label,
// and the clean-up must leave nothing. The command lines that only read run
// through the tool.
func TestIstioctlCommandLines(t *testing.T) {
	istioctl := filepath.Join(env.IstiodDir, "istioctl")
	theirs, ours := env.Namespace(t, nil), env.Namespace(t, nil)
	for _, ns := range []string{theirs, ours} {
		// A service that names a waypoint deleted below: neither tool
		// unenrolls it unasked.
		env.Service(t, ns, "reviews", map[string]string{"app": "reviews", useWaypoint: "reviews-svc-waypoint"})
	}
	const ns = "NS"
	steps := []istioctlStep{
		{args: []string{"generate", "--for", "service", "-n", ns}, want: "istio.io/waypoint-for: service"},
		{args: []string{"generate", "--namespace", ns, "--name", "w", "-r", "canary"}, want: "istio.io/rev: canary"},
		{args: []string{"apply", "-n", ns}},
		{args: []string{"apply", "-n", ns, "--enroll-namespace"}},
		{args: []string{"apply", "-n", ns, "--enroll-namespace", "--name", "third"}, code: ExitUsage, istioctlCode: 0,
			why: "the namespace already uses a waypoint: istioctl warns and exits 0 without applying the Gateway; we refuse with exit 2 before writing; neither writes"},
		{args: []string{"apply", "-n", ns, "--enroll-namespace", "--overwrite", "--name", "other"}},
		{args: []string{"apply", "-n", ns, "--name", "reviews-svc-waypoint"}},
		{args: []string{"apply", "-n", ns, "--name", "reviews-v2-pod-waypoint", "--for", "workload", "-w", "--waypoint-timeout", "30s"}},
		// No istiod of revision canary runs: applied, never programmed.
		{args: []string{"apply", "-n", ns, "--name", "rev", "--revision", "canary"}},
		{args: []string{"apply", "-n", ns, "--name", "all", "--for", "all", "-r", "canary"}},
		{args: []string{"apply", "-n", ns}}, // again: nothing changes
		{args: []string{"list", "--namespace", ns}, want: "reviews-v2-pod-waypoint   default    workload       True"},
		{args: []string{"list", "-A"}, want: "NS   waypoint"},
		{args: []string{"status", "-n", ns}, want: "Programmed"},
		{args: []string{"status", "-n", ns, "--name", "waypoint", "--wait", "--waypoint-timeout", "10s"}, want: "waypoint   yes     True"},
		{args: []string{"delete", "reviews-svc-waypoint", "-n", ns}},
		{args: []string{"delete", "missing", "-n", ns}, code: ExitFailed, istioctlCode: 0,
			why: "a name that does not exist: istioctl prints 'not found' and exits 0, we exit 1 (--ignore-not-found skips it)"},
		{args: []string{"delete", "--revision", "canary", "-n", ns}},
		{args: []string{"delete", "--name", "other", "-n", ns}, istioctl: []string{"delete", "other", "-n", ns},
			why: "istioctl's delete takes names only as arguments and refuses --name without one; we take both"},
		{args: []string{"delete", "--all", "-n", ns}},
		// Neither unenrolls unasked (we warn, and unenroll with
		// --unenroll): the namespace and the service still name deleted
		// waypoints. istioctl has no unenroll; its users run kubectl label.
		{args: []string{"unenroll", "namespace", ns}, kubectl: []string{"label", "namespace", ns, useWaypoint + "-"},
			why: "istioctl has no unenroll"},
		{args: []string{"unenroll", "service", "reviews", "-n", ns}, kubectl: []string{"label", "service", "reviews", "-n", ns, useWaypoint + "-"},
			why: "istioctl has no unenroll"},
	}
	compared := 0
	for _, s := range steps {
		if s.want != "" {
			stdout, stderr, code := runKube(t, withNS(s.args, ours)...)
			if code != 0 || !strings.Contains(stdout, strings.ReplaceAll(s.want, ns, ours)) {
				t.Fatalf("%v: exit %d, want %q in stdout:\n%s\nstderr:\n%s", s.args, code, s.want, stdout, stderr)
			}
			continue
		}
		theirArgs := s.args
		cmd := exec.Command(istioctl, append(append([]string{"waypoint"}, withNS(theirArgs, theirs)...), "--kubeconfig", env.Kubeconfig)...)
		switch {
		case s.istioctl != nil:
			theirArgs = s.istioctl
			cmd = exec.Command(istioctl, append(append([]string{"waypoint"}, withNS(theirArgs, theirs)...), "--kubeconfig", env.Kubeconfig)...)
		case s.kubectl != nil:
			theirArgs = s.kubectl
			cmd = exec.Command(env.KubectlPath, append(withNS(theirArgs, theirs), "--kubeconfig", env.Kubeconfig)...)
		}
		// The two at once, each in its own namespace.
		var out []byte
		var err error
		done := make(chan struct{})
		go func() {
			defer close(done)
			out, err = cmd.CombinedOutput()
		}()
		stdout, stderr, code := runKube(t, withNS(s.args, ours)...)
		<-done
		var exit *exec.ExitError
		if err != nil && !errors.As(err, &exit) {
			t.Fatalf("%s %v: %v", filepath.Base(cmd.Path), theirArgs, err)
		}
		if code := cmd.ProcessState.ExitCode(); code != s.istioctlCode {
			t.Fatalf("%s %v: exit %d, want %d\n%s", filepath.Base(cmd.Path), theirArgs, code, s.istioctlCode, out)
		}
		if code != s.code {
			t.Fatalf("%v: exit %d, want %d\nstdout:\n%s\nstderr:\n%s", s.args, code, s.code, stdout, stderr)
		}
		got, want := istioctlState(t, ours), istioctlState(t, theirs)
		if got != want {
			t.Errorf("after %v the cluster differs from after %s %v (%s)\n--- ours\n%s\n--- istioctl's\n%s", s.args, filepath.Base(cmd.Path), theirArgs, s.why, got, want)
		}
		compared++
	}
	// Both clean-ups leave nothing: no Gateway, no enrollment label.
	end := istioctlState(t, ours)
	if want := `{"gateways":null,"namespace":{"kubernetes.io/metadata.name":"NS"},"services":{"reviews":{"app":"reviews"}}}`; end != want {
		t.Errorf("the end state is\n%s\nwant\n%s", end, want)
	}
	t.Logf("%d command lines that write left the same objects as istioctl's (or kubectl label's, where istioctl has no command)", compared)
}

// withNS is args with NS replaced by ns.
func withNS(args []string, ns string) []string {
	out := slices.Clone(args)
	for i, a := range out {
		if a == "NS" {
			out[i] = ns
		}
	}
	return out
}

// istioctlState is what namespace ns holds that a waypoint command can
// write, read from the API server, as JSON with the namespace's name
// replaced by NS: its Gateways' names, spec, labels and annotations (not
// their status, written by istiod in its own time, nor managedFields,
// which name each tool's field manager), the namespace's labels and its
// services' labels.
func istioctlState(t *testing.T, ns string) string {
	t.Helper()
	c := context.Background()
	type gateway struct {
		Name        string            `json:"name"`
		Labels      map[string]string `json:"labels,omitempty"`
		Annotations map[string]string `json:"annotations,omitempty"`
		Spec        any               `json:"spec"`
	}
	var st struct {
		Gateways  []gateway                    `json:"gateways"`
		Namespace map[string]string            `json:"namespace"`
		Services  map[string]map[string]string `json:"services"`
	}
	gws, err := env.Gateway.GatewayV1().Gateways(ns).List(c, metav1.ListOptions{})
	if err != nil {
		t.Fatal(err)
	}
	for _, gw := range gws.Items {
		st.Gateways = append(st.Gateways, gateway{gw.Name, gw.Labels, gw.Annotations, gw.Spec})
	}
	slices.SortFunc(st.Gateways, func(a, b gateway) int { return strings.Compare(a.Name, b.Name) })
	st.Namespace = nsLabels(t, ns)
	svcs, err := env.Kube.CoreV1().Services(ns).List(c, metav1.ListOptions{})
	if err != nil {
		t.Fatal(err)
	}
	st.Services = map[string]map[string]string{}
	for _, svc := range svcs.Items {
		if _, ours := svc.Labels["gateway.istio.io/managed"]; ours {
			continue // a waypoint's own Service, made by istiod
		}
		st.Services[svc.Name] = svc.Labels
	}
	b, err := json.Marshal(st)
	if err != nil {
		t.Fatal(err)
	}
	return string(bytes.ReplaceAll(b, []byte(`"`+ns+`"`), []byte(`"NS"`)))
}
