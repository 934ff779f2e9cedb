// Package fleet_test runs kubectl-waypoint over several clusters at once:
// three real API servers, started together, one of them with the real
// istiod, and one kubeconfig with a context for each.
package fleet_test

import (
	"bytes"
	"flag"
	"fmt"
	"os"
	"path/filepath"
	"sync"
	"testing"
	"time"

	"k8s.io/client-go/rest"
	"k8s.io/client-go/tools/clientcmd"
	clientcmdapi "k8s.io/client-go/tools/clientcmd/api"

	"github.com/kubectl-waypoint/kubectl-waypoint/internal/testenv"
	"github.com/kubectl-waypoint/kubectl-waypoint/pkg/cli"
)

// contexts name the clusters; east runs istiod.
var contexts = []string{"east", "west", "north"}

// envs are the clusters, by context.
var envs = map[string]*testenv.Env{}

func TestMain(m *testing.M) { os.Exit(runMain(m)) }

// runMain starts the three control planes at once, runs the tests and
// stops them. A control plane that cannot start fails the package.
func runMain(m *testing.M) int {
	flag.Parse()
	start := time.Now()
	var wg sync.WaitGroup
	var mu sync.Mutex
	var errs []error
	for i, name := range contexts {
		wg.Go(func() {
			e, err := testenv.StartWithOptions(testenv.Options{WithoutIstiod: i > 0})
			mu.Lock()
			defer mu.Unlock()
			if err != nil {
				errs = append(errs, fmt.Errorf("%s: %w", name, err))
				return
			}
			envs[name] = e
		})
	}
	wg.Wait()
	stop := func() int {
		code := 0
		for name, e := range envs {
			if err := e.Stop(); err != nil {
				fmt.Fprintf(os.Stderr, "testenv %s: %v\n", name, err)
				code = 1
			}
		}
		return code
	}
	if len(errs) > 0 {
		for _, err := range errs {
			fmt.Fprintf(os.Stderr, "testenv %v\n", err)
		}
		stop()
		return 1
	}
	if testing.Verbose() {
		fmt.Fprintf(os.Stderr, "testenv: %d control planes up in %s\n", len(envs), time.Since(start).Round(time.Millisecond))
	}
	code := m.Run()
	if stop() != 0 && code == 0 {
		code = 1
	}
	return code
}

// kubeconfig writes one kubeconfig with a context per cluster, each as the
// admin unless configs names another user's config for it.
func kubeconfig(t *testing.T, configs map[string]*rest.Config) string {
	t.Helper()
	kc := clientcmdapi.NewConfig()
	for _, name := range contexts {
		cfg := envs[name].Config
		if c, ok := configs[name]; ok {
			cfg = c
		}
		kc.Clusters[name] = &clientcmdapi.Cluster{Server: cfg.Host, CertificateAuthorityData: cfg.CAData}
		kc.AuthInfos[name] = &clientcmdapi.AuthInfo{ClientCertificateData: cfg.CertData, ClientKeyData: cfg.KeyData, Token: cfg.BearerToken}
		kc.Contexts[name] = &clientcmdapi.Context{Cluster: name, AuthInfo: name}
	}
	kc.CurrentContext = contexts[0]
	path := filepath.Join(t.TempDir(), "kubeconfig")
	if err := clientcmd.WriteToFile(*kc, path); err != nil {
		t.Fatal(err)
	}
	return path
}

// run runs kubectl-waypoint in-process with the kubeconfig.
func run(t *testing.T, kubeconfig string, args ...string) (stdout, stderr string, code int) {
	t.Helper()
	streams, out, errOut := cli.TestStreams(false)
	f := cli.NewFactory(streams, "kubectl-waypoint")
	code = cli.Execute(f, append([]string{"--kubeconfig", kubeconfig}, args...))
	return out.String(), errOut.String(), code
}

// namespaces creates the same namespaces in every cluster, for this test.
func namespaces(t *testing.T, names ...string) {
	t.Helper()
	for _, c := range contexts {
		for _, ns := range names {
			envs[c].NamedNamespace(t, ns, map[string]string{"istio.io/dataplane-mode": "ambient"})
		}
	}
}

// lines counts the lines of s that start with prefix.
func lines(s, prefix string) int {
	n := 0
	for l := range bytes.Lines([]byte(s)) {
		if bytes.HasPrefix(l, []byte(prefix)) {
			n++
		}
	}
	return n
}
