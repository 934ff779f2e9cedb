// Command sandbox runs a local Kubernetes API server with the Gateway API and
// Istio CRDs, for trying kubectl-waypoint by hand (`make sandbox`) and for
// running the demo script (`make demo`). It is the control plane of the
// integration tests (internal/testenv) on a fixed address: a real istiod runs
// against it, with the stand-in for the nodes that runs each waypoint's pod,
// so that waypoints become Programmed as on a real mesh.
//
// Use hack/sandbox.sh, which builds the control plane first.
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"net"
	"os"
	"os/exec"
	"os/signal"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"time"

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/kubectl-waypoint/kubectl-waypoint/internal/testenv"
)

type options struct {
	addr    string
	dir     string
	run     string
	ambient []string
	istiod  bool
	verbose bool
}

func main() {
	os.Exit(run(os.Args[1:]))
}

func run(args []string) int {
	var o options
	fs := flag.NewFlagSet("sandbox", flag.ContinueOnError)
	fs.StringVar(&o.addr, "addr", "127.0.0.1:6443", "address the API server listens on")
	fs.StringVar(&o.dir, "dir", filepath.Join(os.TempDir(), "kubectl-waypoint-sandbox"), "directory for the kubeconfig")
	fs.StringVar(&o.run, "run", "", "run this bash script with KUBECONFIG set, then stop (exit code: the script's)")
	fs.Func("ambient-namespace", "create this namespace (or label it, if it exists) with istio.io/dataplane-mode=ambient; repeatable", func(s string) error {
		o.ambient = append(o.ambient, s)
		return nil
	})
	fs.BoolVar(&o.istiod, "istiod", true, "run a real istiod and the node stand-in, which program waypoints")
	fs.BoolVar(&o.verbose, "v", false, "show the output of etcd, kube-apiserver and istiod")
	fs.Usage = func() {
		fmt.Fprintf(fs.Output(), "Usage: hack/sandbox.sh [flags]\n\nRuns a local API server until interrupted, or for the duration of --run.\n\nFlags:\n")
		fs.PrintDefaults()
	}
	if err := fs.Parse(args); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return 0
		}
		return 2
	}
	if fs.NArg() > 0 {
		fmt.Fprintf(os.Stderr, "sandbox: unexpected argument %q; pass a script with --run\n", fs.Arg(0))
		return 2
	}
	host, portStr, err := net.SplitHostPort(o.addr)
	port, perr := strconv.Atoi(portStr)
	if err != nil || perr != nil || port <= 0 || port > 65535 {
		fmt.Fprintf(os.Stderr, "sandbox: --addr %q is not HOST:PORT\n", o.addr)
		return 2
	}
	if err := portFree(o.addr); err != nil {
		fmt.Fprintf(os.Stderr, "sandbox: %s is in use (%v); is another sandbox running? Pick another with --addr\n", o.addr, err)
		return 1
	}

	c, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()

	code, err := serve(c, o, host, port)
	if err != nil {
		fmt.Fprintf(os.Stderr, "sandbox: %v\n", err)
		if code == 0 {
			code = 1
		}
	}
	return code
}

func serve(c context.Context, o options, host string, port int) (code int, err error) {
	start := time.Now()
	env, err := testenv.StartWithOptions(testenv.Options{Address: host, Port: port, Verbose: o.verbose, WithoutIstiod: !o.istiod})
	if err != nil {
		return 1, err
	}
	defer func() {
		if stopErr := env.Stop(); stopErr != nil {
			err = errors.Join(err, stopErr)
		} else {
			fmt.Fprintln(os.Stderr, "sandbox: stopped")
		}
	}()

	if err := os.MkdirAll(o.dir, 0o755); err != nil {
		return 1, err
	}
	kubeconfig := filepath.Join(o.dir, "kubeconfig")
	if err := env.WriteKubeconfig(kubeconfig, ""); err != nil {
		return 1, err
	}
	// The kubeconfig holds credentials valid for this run only.
	defer os.Remove(kubeconfig)

	for _, ns := range o.ambient {
		if err := ambientNamespace(c, env, ns); err != nil {
			return 1, err
		}
	}

	fmt.Fprintf(os.Stderr, "sandbox: API server %s up in %s (kubectl %s)\n", env.Server(), time.Since(start).Round(100*time.Millisecond), env.KubectlPath)
	if o.istiod {
		fmt.Fprintf(os.Stderr, "sandbox: istiod %s running (ambient profile), with a stand-in for the nodes that runs each waypoint's pod\n", env.IstiodVersion())
	} else {
		fmt.Fprintln(os.Stderr, "sandbox: no istiod runs (--istiod=false): waypoints stay unprogrammed")
	}
	if o.run != "" {
		return runScript(c, o.run, kubeconfig, env.BinDir)
	}
	fmt.Printf("export KUBECONFIG=%s\n", kubeconfig)
	fmt.Fprintln(os.Stderr, "sandbox: running until Ctrl-C (SIGINT) or SIGTERM")
	<-c.Done()
	return 0, nil
}

// runScript runs script with bash, KUBECONFIG set to the sandbox and the
// control plane's kubectl first on PATH (its version matches the server's). A
// signal to the sandbox is passed on to it.
func runScript(c context.Context, script, kubeconfig, binDir string) (int, error) {
	cmd := exec.Command("bash", "-c", script)
	cmd.Stdin, cmd.Stdout, cmd.Stderr = os.Stdin, os.Stdout, os.Stderr
	cmd.Env = append(os.Environ(),
		"KUBECONFIG="+kubeconfig,
		"PATH="+binDir+string(os.PathListSeparator)+os.Getenv("PATH"),
	)
	if err := cmd.Start(); err != nil {
		return 1, fmt.Errorf("starting the script: %w", err)
	}
	done := make(chan error, 1)
	go func() { done <- cmd.Wait() }()
	var err error
	select {
	case err = <-done:
	case <-c.Done():
		_ = cmd.Process.Signal(syscall.SIGTERM)
		err = <-done
	}
	var exit *exec.ExitError
	if errors.As(err, &exit) {
		if ws, ok := exit.Sys().(syscall.WaitStatus); ok && ws.Signaled() {
			return 128 + int(ws.Signal()), nil // as a shell reports it
		}
		return exit.ExitCode(), nil
	}
	if err != nil {
		return 1, fmt.Errorf("running the script: %w", err)
	}
	return 0, nil
}

// ambientNamespace makes sure namespace ns exists with the ambient label.
func ambientNamespace(c context.Context, env *testenv.Env, ns string) error {
	labels := testenv.AmbientLabels()
	_, err := env.Kube.CoreV1().Namespaces().Create(c, &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: ns, Labels: labels}}, metav1.CreateOptions{})
	if apierrors.IsAlreadyExists(err) {
		var pairs []string
		for k, v := range labels {
			pairs = append(pairs, fmt.Sprintf("%q:%q", k, v))
		}
		patch := fmt.Sprintf(`{"metadata":{"labels":{%s}}}`, strings.Join(pairs, ","))
		_, err = env.Kube.CoreV1().Namespaces().Patch(c, ns, "application/merge-patch+json", []byte(patch), metav1.PatchOptions{})
	}
	if err != nil {
		return fmt.Errorf("namespace %s: %w", ns, err)
	}
	fmt.Fprintf(os.Stderr, "sandbox: namespace %s is in the ambient mesh\n", ns)
	return nil
}

func portFree(addr string) error {
	l, err := net.Listen("tcp", addr)
	if err != nil {
		return err
	}
	return l.Close()
}
