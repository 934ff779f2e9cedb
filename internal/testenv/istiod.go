package testenv

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"time"

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/util/wait"
	utilyaml "k8s.io/apimachinery/pkg/util/yaml"
)

// IstioNamespace is where istiod runs and reads its ConfigMaps.
const IstioNamespace = "istio-system"

// IstiodStartTimeout bounds the start of istiod: from exec until it serves
// /ready and, as the leader, has written the status of its GatewayClasses.
const IstiodStartTimeout = 90 * time.Second

// istiod is a running pilot-discovery.
type istiod struct {
	cmd   *exec.Cmd
	proc  process
	log   string        // file of its output when not verbose, for errors
	done  chan struct{} // closed when it exits
	ports istiodPorts
	// startup is the time from exec to ready and leading.
	startup time.Duration
}

// istiodPorts are the loopback ports of one istiod, all distinct and free.
type istiodPorts struct {
	http, grpc, secureGRPC, monitoring, https, ctrlz int
}

// istiodDir runs hack/istiod.sh and returns the directory it prints: the
// binaries and the ConfigMaps of the ambient profile.
func istiodDir(root string) (string, error) {
	var stdout, stderr bytes.Buffer
	cmd := exec.Command("bash", filepath.Join(root, "hack", "istiod.sh"))
	cmd.Dir = root
	cmd.Stdout = &stdout
	cmd.Stderr = io.MultiWriter(&stderr, os.Stderr)
	if err := cmd.Run(); err != nil {
		return "", fmt.Errorf("hack/istiod.sh failed (%w): %s", err, lastLines(stderr.String(), 1))
	}
	dir := strings.TrimSpace(stdout.String())
	if info, err := os.Stat(dir); err != nil || !info.IsDir() {
		return "", fmt.Errorf("hack/istiod.sh printed %q, which is not a directory", dir)
	}
	return dir, nil
}

// freePorts returns n distinct free ports on 127.0.0.1. They are free when
// chosen; another process may take one before istiod binds it, which would
// make istiod fail to start with a clear error.
func freePorts(n int) ([]int, error) {
	var ports []int
	var listeners []net.Listener
	defer func() {
		for _, l := range listeners {
			_ = l.Close()
		}
	}()
	for range n {
		l, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			return nil, fmt.Errorf("finding a free port: %w", err)
		}
		listeners = append(listeners, l)
		ports = append(ports, l.Addr().(*net.TCPAddr).Port)
	}
	return ports, nil
}

// startIstiod installs istiod's namespace and ConfigMaps, starts
// pilot-discovery against the API server as the admin, and waits until it
// is ready and leads (it writes the status of the GatewayClasses it owns).
func (e *Env) startIstiod(verbose bool) error {
	if err := e.installIstioConfig(); err != nil {
		return err
	}
	p, err := freePorts(6)
	if err != nil {
		return err
	}
	ports := istiodPorts{http: p[0], grpc: p[1], secureGRPC: p[2], monitoring: p[3], https: p[4], ctrlz: p[5]}
	loopback := func(port int) string { return "127.0.0.1:" + strconv.Itoa(port) }

	// Its working directory is empty: with no ./etc/istio/config/mesh and no
	// ./var/lib/istio/inject, istiod reads the mesh config and the injection
	// templates from the ConfigMaps.
	work := filepath.Join(e.dir, "istiod")
	if err := os.MkdirAll(work, 0o755); err != nil {
		return fmt.Errorf("creating istiod's directory: %w", err)
	}
	bin := filepath.Join(e.IstiodDir, "pilot-discovery")
	args := []string{"discovery",
		"--kubeconfig", e.Kubeconfig,
		"--httpAddr", loopback(ports.http),
		"--grpcAddr", loopback(ports.grpc),
		"--secureGRPCAddr", loopback(ports.secureGRPC),
		"--monitoringAddr", loopback(ports.monitoring),
		"--httpsAddr", loopback(ports.https),
		"--ctrlz_address", "127.0.0.1",
		"--ctrlz_port", strconv.Itoa(ports.ctrlz),
		"--shutdownDuration", "1s",
		"--log_output_level", "default:warn",
	}
	name, args := bin, args
	if setpriv := pdeathsigHelper(); setpriv != "" {
		// setpriv execs istiod in the same process: it dies with the test
		// binary, as etcd and kube-apiserver do.
		name, args = setpriv, append([]string{"--pdeathsig", "KILL", "--", bin}, args...)
	}
	cmd := exec.Command(name, args...)
	cmd.Dir = work
	cmd.Env = append(os.Environ(),
		"PILOT_ENABLE_AMBIENT=true",
		"POD_NAMESPACE="+IstioNamespace,
		"POD_NAME=istiod-testenv",
		"KUBECONFIG="+e.Kubeconfig,
	)
	ist := &istiod{cmd: cmd, done: make(chan struct{}), ports: ports}
	if verbose {
		cmd.Stdout, cmd.Stderr = os.Stderr, os.Stderr
	} else {
		ist.log = filepath.Join(e.dir, "istiod.log")
		f, err := os.Create(ist.log)
		if err != nil {
			return fmt.Errorf("creating istiod's log: %w", err)
		}
		defer f.Close() // the child has its own descriptor
		cmd.Stdout, cmd.Stderr = f, f
	}
	start := time.Now()
	if err := cmd.Start(); err != nil {
		return fmt.Errorf("starting istiod: %w", err)
	}
	ist.proc = process{pid: cmd.Process.Pid, exe: bin}
	e.istiod = ist
	go func() {
		_ = cmd.Wait()
		close(ist.done)
	}()
	if err := e.waitIstiod(); err != nil {
		return fmt.Errorf("%w%s", err, ist.output())
	}
	ist.startup = time.Since(start)
	return nil
}

// output is the end of istiod's log, for an error message.
func (ist *istiod) output() string {
	if ist.log == "" {
		return " (its output went to stderr)"
	}
	b, err := os.ReadFile(ist.log)
	if err != nil {
		return ""
	}
	return "; its last output:\n" + lastLines(string(b), 20)
}

// installIstioConfig creates istio-system and the ConfigMaps of the ambient
// profile, which istiod reads at start.
func (e *Env) installIstioConfig() error {
	c, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	ns := &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: IstioNamespace}}
	if _, err := e.Kube.CoreV1().Namespaces().Create(c, ns, metav1.CreateOptions{}); err != nil && !apierrors.IsAlreadyExists(err) {
		return fmt.Errorf("creating namespace %s: %w", IstioNamespace, err)
	}
	f, err := os.Open(filepath.Join(e.IstiodDir, "configmaps.yaml"))
	if err != nil {
		return fmt.Errorf("reading istiod's ConfigMaps: %w", err)
	}
	defer f.Close()
	dec := utilyaml.NewYAMLOrJSONDecoder(f, 4096)
	var names []string
	for {
		var cm corev1.ConfigMap
		if err := dec.Decode(&cm); errors.Is(err, io.EOF) {
			break
		} else if err != nil {
			return fmt.Errorf("decoding %s: %w", f.Name(), err)
		}
		if cm.Name == "" {
			continue
		}
		cm.Namespace = IstioNamespace
		if _, err := e.Kube.CoreV1().ConfigMaps(IstioNamespace).Create(c, &cm, metav1.CreateOptions{}); err != nil {
			return fmt.Errorf("creating ConfigMap %s/%s: %w", IstioNamespace, cm.Name, err)
		}
		names = append(names, cm.Name)
	}
	if len(names) == 0 {
		return fmt.Errorf("no ConfigMap in %s; remove %s and run hack/istiod.sh", f.Name(), e.IstiodDir)
	}
	return nil
}

// waitIstiod waits until istiod answers /ready and has written the status of
// the istio-waypoint GatewayClass, which only the leader does: from then on
// it deploys waypoints and writes their status.
func (e *Env) waitIstiod() error {
	c, cancel := context.WithTimeout(context.Background(), IstiodStartTimeout)
	defer cancel()
	ready := fmt.Sprintf("http://127.0.0.1:%d/ready", e.istiod.ports.http)
	client := &http.Client{Timeout: 2 * time.Second}
	err := wait.PollUntilContextCancel(c, 100*time.Millisecond, true, func(c context.Context) (bool, error) {
		select {
		case <-e.istiod.done:
			return false, fmt.Errorf("istiod exited: %v", e.istiod.cmd.ProcessState)
		default:
		}
		resp, err := client.Get(ready)
		if err != nil {
			return false, nil
		}
		_ = resp.Body.Close()
		if resp.StatusCode != http.StatusOK {
			return false, nil
		}
		gc, err := e.Gateway.GatewayV1().GatewayClasses().Get(c, WaypointClass, metav1.GetOptions{})
		if err != nil {
			return false, nil
		}
		return meta.IsStatusConditionTrue(gc.Status.Conditions, "Accepted"), nil
	})
	if err != nil {
		return fmt.Errorf("waiting for istiod to be ready and to accept GatewayClass %s: %w", WaypointClass, err)
	}
	return nil
}

// stopIstiod stops istiod: SIGTERM, then SIGKILL after a few seconds.
func (e *Env) stopIstiod() error {
	ist := e.istiod
	if ist == nil {
		return nil
	}
	_ = ist.cmd.Process.Signal(syscall.SIGTERM)
	select {
	case <-ist.done:
		return nil
	case <-time.After(5 * time.Second):
	}
	_ = ist.cmd.Process.Kill()
	select {
	case <-ist.done:
		return nil
	case <-time.After(5 * time.Second):
		return fmt.Errorf("istiod (pid %d) did not exit after SIGKILL", ist.proc.pid)
	}
}

// IstiodStartup is how long istiod took from exec to serving /ready and
// writing the status of its GatewayClasses, or 0 when none runs.
func (e *Env) IstiodStartup() time.Duration {
	if e.istiod == nil {
		return 0
	}
	return e.istiod.startup
}

// IstiodVersion is the version of the istiod that runs, as it reports it, or
// "" when none runs.
func (e *Env) IstiodVersion() string {
	if e.IstiodDir == "" {
		return ""
	}
	b, err := os.ReadFile(filepath.Join(e.IstiodDir, "version"))
	if err != nil {
		return ""
	}
	return strings.TrimSpace(string(b))
}
