// Package differential_test judges kubectl-waypoint's answer to "which
// waypoint does this object use, and why" by the real istiod: for every
// generated Service, ServiceEntry, WorkloadEntry and pod, the waypoint
// `explain` names must be the one istiod sends to ztunnel (its
// /debug/ambientz), and the reason and status it predicts must be those of
// the istio.io/WaypointBound condition istiod writes, for the object's
// current generation. The configurations come from a seeded generator, and a
// second test walks random sequences of the tool's own writes, checking
// after each step.
//
// The package has a control plane and an istiod of its own, so that it can
// set the mesh config's serviceEntryVisibility once for all its tests.
package differential_test

import (
	"os"
	"strconv"
	"testing"

	"github.com/kubectl-waypoint/kubectl-waypoint/internal/testenv"
	"github.com/kubectl-waypoint/kubectl-waypoint/pkg/cli"
)

var env *testenv.Env

func TestMain(m *testing.M) { os.Exit(testenv.RunMain(m, &env)) }

// defaultSeed is the seed CI runs; WAYPOINT_DIFF_SEED picks another, to
// explore. Every failure names the seed it ran with.
const defaultSeed = 3

// seed is the generator's seed for this run.
func seed(t *testing.T) int64 {
	t.Helper()
	s := os.Getenv("WAYPOINT_DIFF_SEED")
	if s == "" {
		return defaultSeed
	}
	n, err := strconv.ParseInt(s, 10, 64)
	if err != nil {
		t.Fatalf("WAYPOINT_DIFF_SEED=%q is not an integer", s)
	}
	return n
}

// run runs the tool in this process against the package's API server.
func run(args ...string) (stdout, stderr string, code int) {
	streams, out, errOut := cli.TestStreams(false)
	f := cli.NewFactory(streams, "kubectl-waypoint")
	code = cli.Execute(f, append(args, "--kubeconfig", env.Kubeconfig))
	return out.String(), errOut.String(), code
}
