// Package testenv runs a real Kubernetes API server for integration tests and
// for the sandbox: etcd and kube-apiserver built from the versions pinned in
// hack/tools/go.mod, started by controller-runtime's envtest, with the Gateway
// API and Istio CRDs installed.
//
// A real istiod (pilot-discovery built from the version pinned in
// hack/istiod/go.mod, with Istio's own ambient-profile ConfigMaps) runs
// against that API server: it deploys waypoints, writes the status of
// Gateways and the istio.io/WaypointBound condition of Services and
// ServiceEntries. No kubelet and no controller manager run; a stand-in for
// the nodes runs the pod of every waypoint istiod deploys and publishes its
// endpoint, so that istiod programs the waypoint as in a cluster. A test can
// hold a waypoint back (HoldWaypoint). Other pods stay Pending.
//
// A test package starts one control plane for all its tests:
//
//	var env *testenv.Env
//
//	func TestMain(m *testing.M) { os.Exit(testenv.RunMain(m, &env)) }
//
// Each test then works in its own namespace (env.Namespace(t, nil)), so tests
// can run in parallel against the same API server.
package testenv

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"sync"
	"time"

	"github.com/go-logr/logr"
	"k8s.io/client-go/dynamic"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/rest"
	gatewayclient "sigs.k8s.io/gateway-api/pkg/client/clientset/versioned"

	"sigs.k8s.io/controller-runtime/pkg/envtest"
	ctrllog "sigs.k8s.io/controller-runtime/pkg/log"
)

// Env is a running control plane and the clients to reach it as an admin.
type Env struct {
	// Config reaches the API server as an admin (group system:masters).
	Config *rest.Config
	// Kubeconfig is the path of a kubeconfig file for the same admin user.
	Kubeconfig string
	// KubectlPath is the kubectl binary built with the control plane.
	KubectlPath string
	// BinDir holds kube-apiserver, etcd and kubectl.
	BinDir string
	// CRDDir holds the CRD files installed at start.
	CRDDir string
	// IstiodDir holds pilot-discovery, istioctl and the ConfigMaps istiod
	// reads; empty when no istiod runs.
	IstiodDir string

	// Kube is a typed client for the core Kubernetes APIs.
	Kube kubernetes.Interface
	// Gateway is a typed client for the Gateway API.
	Gateway gatewayclient.Interface
	// Dynamic reaches any resource, such as Istio's ServiceEntries.
	Dynamic dynamic.Interface

	env     *envtest.Environment
	dir     string // kubeconfigs and wrappers; removed by Stop
	started []process
	istiod  *istiod
	nodes   *nodes

	mu        sync.Mutex
	nextFile  int
	nsCleanup []nsResource      // namespaced resources to empty before deleting a namespace
	sweeper   dynamic.Interface // Dynamic without warnings, for DeleteNamespace
	stopOnce  sync.Once
	stopErr   error
}

// Options tune Start. The zero value is what tests want.
type Options struct {
	// Address and Port are where the API server listens; empty and zero pick a
	// free port on 127.0.0.1.
	Address string
	Port    int
	// Verbose attaches the output of etcd, kube-apiserver and istiod to
	// stderr. The TESTENV_VERBOSE environment variable set to 1 or true does
	// the same.
	Verbose bool
	// WithoutIstiod starts the API server alone: no istiod and no node
	// stand-in, so Gateways keep the status their CRD defaults to.
	WithoutIstiod bool
	// Pins names a folder of hack/tools whose go.mod pins older versions of
	// the version matrix (k8s-1.34, gateway-api-1.2); empty means the
	// CONTROLPLANE_PINS environment variable, usually unset: the current ones.
	Pins string
}

// startMu makes Envs of one process start their processes one at a time,
// so that each knows which of the running children are its own.
var startMu sync.Mutex

// ServiceCIDR is the range of the cluster IPs of Services.
const ServiceCIDR = "10.96.0.0/17"

// StartTimeout bounds the start of etcd and of kube-apiserver, each.
const StartTimeout = 60 * time.Second

// Start builds the control plane binaries when they are not cached yet (see
// hack/controlplane.sh and hack/istiod.sh), starts etcd and kube-apiserver,
// installs the CRDs, and starts istiod and the node stand-in.
// The caller must call Stop. A failure says why; it is never a reason to skip
// a test.
func Start() (*Env, error) {
	return StartWithOptions(Options{})
}

var setLogger sync.Once

// StartWithOptions is Start with a chosen listen address, for the sandbox.
func StartWithOptions(opts Options) (_ *Env, err error) {
	// envtest logs through controller-runtime; without a logger it prints a
	// warning with a stack trace once start-up took more than 30 seconds.
	// Once: control planes may start at once (test/fleet), and setting the
	// logger is not safe to do concurrently.
	setLogger.Do(func() { ctrllog.SetLogger(logr.Discard()) })

	root, err := repoRoot()
	if err != nil {
		return nil, err
	}
	binDir, err := controlPlaneDir(root, "bin", opts.Pins)
	if err != nil {
		return nil, err
	}
	crdDir, err := controlPlaneDir(root, "crds", opts.Pins)
	if err != nil {
		return nil, err
	}
	var istiodBin string
	if !opts.WithoutIstiod {
		if istiodBin, err = istiodDir(root); err != nil {
			return nil, err
		}
	}

	dir, err := os.MkdirTemp("", "kubectl-waypoint-testenv-")
	if err != nil {
		return nil, fmt.Errorf("creating the test environment directory: %w", err)
	}
	e := &Env{
		BinDir:      binDir,
		CRDDir:      crdDir,
		IstiodDir:   istiodBin,
		KubectlPath: filepath.Join(binDir, "kubectl"),
		dir:         dir,
	}
	defer func() {
		if err != nil {
			_ = e.Stop()
		}
	}()

	apiServer := &envtest.APIServer{}
	if opts.Address != "" || opts.Port != 0 {
		apiServer.SecureServing.Address = opts.Address
		if apiServer.SecureServing.Address == "" {
			apiServer.SecureServing.Address = "127.0.0.1"
		}
		apiServer.SecureServing.Port = strconv.Itoa(opts.Port)
	}
	// Cluster IPs like kind's, and room for thousands of services (envtest's
	// default /24 runs out after 253).
	apiServer.Configure().Set("service-cluster-ip-range", ServiceCIDR)
	etcd := &envtest.Etcd{}
	if apiServer.Path, err = e.guardedBinary("kube-apiserver"); err != nil {
		return nil, err
	}
	if etcd.Path, err = e.guardedBinary("etcd"); err != nil {
		return nil, err
	}
	verbose := opts.Verbose || os.Getenv("TESTENV_VERBOSE") == "1" || os.Getenv("TESTENV_VERBOSE") == "true"
	if verbose {
		apiServer.Out, apiServer.Err = os.Stderr, os.Stderr
		etcd.Out, etcd.Err = os.Stderr, os.Stderr
	}

	e.env = &envtest.Environment{
		ControlPlane: envtest.ControlPlane{
			APIServer:   apiServer,
			Etcd:        etcd,
			KubectlPath: e.KubectlPath,
		},
		BinaryAssetsDirectory:    binDir,
		ControlPlaneStartTimeout: StartTimeout,
		ControlPlaneStopTimeout:  20 * time.Second,
	}
	crds, err := readCRDs(crdDir)
	if err != nil {
		return nil, err
	}
	// The processes this Env starts are the children running from binDir
	// that were not there before (another Env of this process may run).
	startMu.Lock()
	before := childProcesses(binDir)
	cfg, err := e.env.Start()
	e.started = newProcesses(before, childProcesses(binDir))
	startMu.Unlock()
	if err != nil {
		return nil, fmt.Errorf("starting the control plane from %s: %w (run with TESTENV_VERBOSE=1 to see its output)", binDir, err)
	}
	if err := installCRDs(cfg, crds); err != nil {
		return nil, err
	}

	e.Config = rest.CopyConfig(cfg)
	if e.Kubeconfig, err = e.writeKubeconfig("admin", e.Config, ""); err != nil {
		return nil, err
	}
	if e.Kube, err = kubernetes.NewForConfig(e.Config); err != nil {
		return nil, fmt.Errorf("creating the Kubernetes client: %w", err)
	}
	if e.Gateway, err = gatewayclient.NewForConfig(e.Config); err != nil {
		return nil, fmt.Errorf("creating the Gateway API client: %w", err)
	}
	if e.Dynamic, err = dynamic.NewForConfig(e.Config); err != nil {
		return nil, fmt.Errorf("creating the dynamic client: %w", err)
	}
	if e.nsCleanup, err = namespacedResources(e.Config); err != nil {
		return nil, err
	}
	// DeleteNamespace sweeps every resource, deprecated ones included: no
	// warnings about those in test output.
	quiet := rest.CopyConfig(e.Config)
	quiet.WarningHandler = rest.NoWarnings{}
	if e.sweeper, err = dynamic.NewForConfig(quiet); err != nil {
		return nil, fmt.Errorf("creating the dynamic client: %w", err)
	}
	if !opts.WithoutIstiod {
		if err := e.startIstiod(verbose); err != nil {
			return nil, err
		}
		if err := e.startNodes(); err != nil {
			return nil, err
		}
	}
	return e, nil
}

// Stop stops the node stand-in, istiod, kube-apiserver and etcd, removes
// their data and the files the Env wrote, and checks that no process of the
// control plane is left. It is safe to call more than once.
func (e *Env) Stop() error {
	e.stopOnce.Do(func() {
		var errs []error
		e.stopNodes()
		if err := e.stopIstiod(); err != nil {
			errs = append(errs, err)
		}
		if e.istiod != nil {
			e.started = append(e.started, e.istiod.proc)
		}
		if e.env != nil {
			if err := e.env.Stop(); err != nil {
				errs = append(errs, fmt.Errorf("stopping the control plane: %w", err))
			}
		}
		if err := checkStopped(e.started); err != nil {
			errs = append(errs, err)
		}
		if e.dir != "" {
			if err := os.RemoveAll(e.dir); err != nil {
				errs = append(errs, err)
			}
		}
		e.stopErr = errors.Join(errs...)
	})
	return e.stopErr
}

// Server is the URL of the API server.
func (e *Env) Server() string {
	return e.Config.Host
}

// file returns a fresh path in the Env's directory.
func (e *Env) file(prefix, suffix string) string {
	e.mu.Lock()
	defer e.mu.Unlock()
	e.nextFile++
	return filepath.Join(e.dir, fmt.Sprintf("%s-%d%s", prefix, e.nextFile, suffix))
}
