package cli

import (
	"os"
	"testing"

	"github.com/kubectl-waypoint/kubectl-waypoint/internal/testenv"
)

// env is the real kube-apiserver (with etcd, the Gateway API and Istio CRDs)
// that the integration tests of this package run against.
var env *testenv.Env

// TestMain starts the control plane for the package's tests, unless -run
// selects only the server-free tests (testenv.UnitOnly): those named
// TestUnit... and the seeds of the fuzz targets, which `make unit` runs
// (go test -run '^(TestUnit|Fuzz)'). They never touch env, which stays nil
// there, and TestUnitNamesMatchServerUse holds the names to that. `go test`
// without -run, as `make test` runs it, starts the control plane and runs
// them all.
func TestMain(m *testing.M) { os.Exit(testenv.RunMain(m, &env)) }

// runKube executes the tool in-process against the test API server, as a
// pipe (no terminal), and returns stdout, stderr and the exit code.
func runKube(t *testing.T, args ...string) (stdout, stderr string, code int) {
	t.Helper()
	return run(t, false, append(args, "--kubeconfig", env.Kubeconfig)...)
}
