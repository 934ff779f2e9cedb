package cli

import (
	"os"
	"testing"

	"github.com/kubectl-waypoint/kubectl-waypoint/internal/testenv"
)

// env is the real kube-apiserver (with etcd, the Gateway API and Istio CRDs)
// that the integration tests of this package run against.
var env *testenv.Env

func TestMain(m *testing.M) { os.Exit(testenv.RunMain(m, &env)) }

// runKube executes the tool in-process against the test API server, as a
// pipe (no terminal), and returns stdout, stderr and the exit code.
func runKube(t *testing.T, args ...string) (stdout, stderr string, code int) {
	t.Helper()
	return run(t, false, append(args, "--kubeconfig", env.Kubeconfig)...)
}
