package cli

import (
	"flag"
	"os"
	"regexp"
	"testing"

	"github.com/kubectl-waypoint/kubectl-waypoint/internal/testenv"
)

// env is the real kube-apiserver (with etcd, the Gateway API and Istio CRDs)
// that the integration tests of this package run against.
var env *testenv.Env

// TestMain starts the control plane for the package's tests, unless -run
// selects only the server-free tests: those named TestUnit..., which
// `make unit` runs (go test -run '^TestUnit'). They never touch env, which
// stays nil there, so one that did would fail, not pass. `go test` without
// -run, as `make test` runs it, starts the control plane and runs them all.
func TestMain(m *testing.M) {
	flag.Parse()
	if unitOnly(flag.Lookup("test.run").Value.String()) {
		os.Exit(m.Run())
	}
	os.Exit(testenv.RunMain(m, &env))
}

// unitOnlyRun is a -run pattern that can select server-free tests only.
var unitOnlyRun = regexp.MustCompile(`^\^TestUnit[A-Za-z0-9_]*\$?(/.*)?$`)

// unitOnly says whether the -run pattern selects only TestUnit... tests.
func unitOnly(run string) bool { return unitOnlyRun.MatchString(run) }

// runKube executes the tool in-process against the test API server, as a
// pipe (no terminal), and returns stdout, stderr and the exit code.
func runKube(t *testing.T, args ...string) (stdout, stderr string, code int) {
	t.Helper()
	return run(t, false, append(args, "--kubeconfig", env.Kubeconfig)...)
}
