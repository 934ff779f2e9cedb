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

	"k8s.io/apimachinery/pkg/api/equality"
	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/util/wait"
	gatewayv1 "sigs.k8s.io/gateway-api/apis/v1"
	"sigs.k8s.io/yaml"

	"github.com/kubectl-waypoint/kubectl-waypoint/internal/faultproxy"
	"github.com/kubectl-waypoint/kubectl-waypoint/internal/testenv"
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

// TestSIGINTDuringWait sends a real SIGINT to the built binary while apply
// --enroll-namespace --wait waits for a waypoint that istiod cannot program
// (its pod held back): it exits 130 at once, not at its timeout; its report
// matches the cluster read back (the Gateway created, as generate renders
// it; the namespace, enrolled only once its waypoint is ready, not enrolled
// and reported not started); and the same command, once the waypoint can
// run, finishes: the Gateway Programmed by istiod and the namespace
// enrolled, read from the API server.
func TestSIGINTDuringWait(t *testing.T) {
	ns := env.Namespace(t, testenv.AmbientLabels())
	release := env.HoldWaypoint(t, ns, "waypoint")
	bin := filepath.Join(pluginBinDir(t), "kubectl-waypoint")
	args := []string{"apply", "-n", ns, "--enroll-namespace", "--wait", "--timeout", "60s", "-o", "json", "--kubeconfig", env.Kubeconfig}

	start := time.Now()
	cmd := exec.Command(bin, args...)
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	exited := make(chan struct{})
	go func() {
		_ = cmd.Wait() // the exit code is checked below
		close(exited)
	}()
	// The tool is waiting once the Gateway exists and istiod has said it
	// is not programmed (read from the API server).
	env.WaitNotProgrammed(t, ns, "waypoint")
	time.Sleep(200 * time.Millisecond)
	if err := cmd.Process.Signal(syscall.SIGINT); err != nil {
		t.Fatal(err)
	}
	select {
	case <-exited:
	case <-time.After(10 * time.Second):
		_ = cmd.Process.Kill()
		<-exited
		t.Fatalf("still waiting 10 s after SIGINT; stderr %q", stderr.String())
	}
	if code := cmd.ProcessState.ExitCode(); code != ExitInterrupted {
		t.Fatalf("exit %d, want %d; stderr %q", code, ExitInterrupted, stderr.String())
	}
	var rep bulk.Report
	if err := json.Unmarshal(stdout.Bytes(), &rep); err != nil {
		t.Fatalf("no report: %v; stdout %q", err, stdout.String())
	}

	// The cluster after the interrupt, and the report held against it.
	gw, err := getGateway(t, ns, "waypoint")
	if err != nil {
		t.Fatalf("the Gateway applied before the interrupt: %v", err)
	}
	gen, _, code := run(t, false, "generate", "-n", ns)
	var want gatewayv1.Gateway
	if err := yaml.Unmarshal([]byte(gen), &want); code != 0 || err != nil {
		t.Fatalf("generate: exit %d, %v", code, err)
	}
	// What the server makes of generate's output, defaults included (a
	// dry run under another name).
	want.Name = "dry-run"
	wantServer, err := env.Gateway.GatewayV1().Gateways(ns).Create(context.Background(), &want, metav1.CreateOptions{DryRun: []string{metav1.DryRunAll}})
	if err != nil {
		t.Fatal(err)
	}
	if !equality.Semantic.DeepEqual(gw.Spec, wantServer.Spec) || !equality.Semantic.DeepEqual(gw.Labels, wantServer.Labels) {
		t.Errorf("the Gateway in the cluster is not what generate renders:\n%+v %v\nwant\n%+v %v", gw.Spec, gw.Labels, wantServer.Spec, wantServer.Labels)
	}
	enrolled, has := nsLabels(t, ns)[useWaypoint]
	records := map[string]bulk.Action{}
	for _, r := range rep.Records {
		records[r.Kind] = r.Action
	}
	if len(rep.Records) != 2 || records["Gateway"] != bulk.Created || records["Namespace"] != bulk.NotStarted || !rep.Summary.Interrupted {
		t.Errorf("report %+v; want the Gateway created and the namespace not started", rep)
	}
	if has {
		t.Errorf("namespace %s has use-waypoint %q after the interrupt; the report says %q", ns, enrolled, records["Namespace"])
	}

	// Once the waypoint can run, the same command finishes the work.
	release()
	rerun := exec.Command(bin, args...)
	if out, err := rerun.CombinedOutput(); err != nil {
		t.Fatalf("re-run: %v\n%s", err, out)
	}
	gw, err = getGateway(t, ns, "waypoint")
	if err != nil || !meta.IsStatusConditionTrue(gw.Status.Conditions, string(gatewayv1.GatewayConditionProgrammed)) {
		t.Errorf("after the re-run the Gateway is %v (%v), want Programmed", gw.Status.Conditions, err)
	}
	if got := nsLabels(t, ns)[useWaypoint]; got != "waypoint" {
		t.Errorf("after the re-run namespace %s has use-waypoint %q, want waypoint", ns, got)
	}
	t.Logf("interrupted, audited and run again in %s", time.Since(start).Round(time.Millisecond))
}
