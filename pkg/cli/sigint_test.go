package cli

import (
	"bytes"
	"context"
	"encoding/json"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/util/wait"

	"github.com/kubectl-waypoint/kubectl-waypoint/internal/faultproxy"
	"github.com/kubectl-waypoint/kubectl-waypoint/pkg/bulk"
)

// TestSIGINTDuringBulkWork sends a real SIGINT to the built binary while
// apply --enroll-namespace works through 50 namespaces behind a slow proxy
// (main.go's signal handling, not a closed channel in a test): it exits 130,
// its report is audited against the cluster read before and after (every
// record true, one per object, the rest not started), and running the same
// command again finishes the work, as the interrupt message says.
func TestSIGINTDuringBulkWork(t *testing.T) {
	fx := newFaultFixture(t)
	fx.proxy.SetProfile(faultproxy.Profile{Name: "slow", Latency: 50 * time.Millisecond})
	bin := filepath.Join(pluginBinDir(t), "kubectl-waypoint")
	args := []string{"apply", "--enroll-namespace", "-n", strings.Join(fx.namespaces, ","), "-o", "json",
		"--concurrency", "2", "--kubeconfig", fx.kubeconfig}

	before := fx.readAll(t)
	cmd := exec.Command(bin, args...)
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	// Interrupt once the first waypoint exists, read from the API server.
	err := wait.PollUntilContextTimeout(context.Background(), 20*time.Millisecond, 60*time.Second, true, func(ctx context.Context) (bool, error) {
		list, err := env.Gateway.GatewayV1().Gateways("").List(ctx, metav1.ListOptions{})
		if err != nil {
			return false, err
		}
		for _, gw := range list.Items {
			if _, ok := before[gw.Namespace]; ok {
				return true, nil
			}
		}
		return false, nil
	})
	if err != nil {
		_ = cmd.Process.Kill()
		t.Fatalf("no waypoint was applied: %v; stderr %q", err, stderr.String())
	}
	if err := cmd.Process.Signal(syscall.SIGINT); err != nil {
		t.Fatal(err)
	}
	err = cmd.Wait()
	after := fx.readAll(t)
	if code := cmd.ProcessState.ExitCode(); code != ExitInterrupted {
		t.Fatalf("exit %d (%v), want %d; stderr %q", code, err, ExitInterrupted, stderr.String())
	}
	var rep bulk.Report
	if err := json.Unmarshal(stdout.Bytes(), &rep); err != nil {
		t.Fatalf("no report: %v; stdout %q", err, stdout.String())
	}
	notStarted := rep.Summary.Counts[bulk.NotStarted]
	if !rep.Summary.Interrupted || notStarted == 0 || !strings.Contains(stderr.String(), "interrupted") {
		t.Errorf("summary %+v (%d not started); stderr %q", rep.Summary, notStarted, stderr.String())
	}
	about := func(kind string, _ state) bool { return kind == "Gateway" || kind == "Namespace" }
	if wrong := fx.audit(t, &rep, before, after, about); wrong != 0 {
		t.Errorf("%d records of the interrupted run do not match the cluster", wrong)
	}

	// The same command again, with nothing in the way, finishes the work.
	fx.proxy.SetProfile(faultproxy.Profile{})
	rerun := exec.Command(bin, args...)
	if out, err := rerun.CombinedOutput(); err != nil {
		t.Fatalf("re-run: %v\n%s", err, out)
	}
	for ns, st := range fx.readAll(t) {
		if !st.gateway || st.nsWaypoint != "waypoint" {
			t.Errorf("%s after the re-run: %+v", ns, st)
		}
	}
	t.Logf("interrupted after %d of %d records were done; %d not started", rep.Summary.Total-notStarted, rep.Summary.Total, notStarted)
}

// TestSignalStopsAReadAtOnce: a command that only reads (list -A -w, a
// watch that never ends on its own, and status --wait on a waypoint no
// istiod programs) stops at the first SIGINT or SIGTERM, exits 130 or 143
// as a shell reports them, and says nothing about finishing work or
// running it again; the two-step stop belongs to writes.
func TestSignalStopsAReadAtOnce(t *testing.T) {
	ns := env.Namespace(t, nil)
	env.Waypoint(t, ns, "waypoint", nil)
	env.Waypoint(t, ns, "canary", map[string]string{"istio.io/rev": "canary"}) // no istiod of that revision
	bin := filepath.Join(pluginBinDir(t), "kubectl-waypoint")
	for _, c := range []struct {
		name string
		args []string
		// started says the command is at work: it has printed this.
		started string
	}{
		{"list -w", []string{"list", "-A", "-w"}, ns},
		{"status --wait", []string{"status", "canary", "-n", ns, "--wait", "--timeout", "60s"}, ""},
	} {
		for _, sig := range []syscall.Signal{syscall.SIGINT, syscall.SIGTERM} {
			t.Run(c.name+" "+sig.String(), func(t *testing.T) {
				cmd := exec.Command(bin, append(c.args, "--kubeconfig", env.Kubeconfig)...)
				var stdout, stderr syncBuffer
				cmd.Stdout, cmd.Stderr = &stdout, &stderr
				if err := cmd.Start(); err != nil {
					t.Fatal(err)
				}
				if c.started != "" {
					if err := wait.PollUntilContextTimeout(context.Background(), 20*time.Millisecond, 30*time.Second, true, func(context.Context) (bool, error) {
						return strings.Contains(stdout.String(), c.started), nil
					}); err != nil {
						_ = cmd.Process.Kill()
						t.Fatalf("it printed nothing: %q %q", stdout.String(), stderr.String())
					}
				} else {
					time.Sleep(time.Second) // the wait has begun
				}
				if err := cmd.Process.Signal(sig); err != nil {
					t.Fatal(err)
				}
				exited := make(chan struct{})
				go func() {
					_ = cmd.Wait() // the exit code is checked below
					close(exited)
				}()
				select {
				case <-exited:
				case <-time.After(5 * time.Second):
					_ = cmd.Process.Kill()
					<-exited
					t.Fatalf("still running 5 s after one %s; stderr %q", sig, stderr.String())
				}
				if code := cmd.ProcessState.ExitCode(); code != 128+int(sig) || strings.Contains(stderr.String(), "again") {
					t.Errorf("exit %d, want %d; stderr %q", code, 128+int(sig), stderr.String())
				}
			})
		}
	}
}
