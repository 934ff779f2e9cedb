package testenv

import (
	"flag"
	"fmt"
	"os"
	"regexp"
	"testing"
	"time"
)

// unitOnlyRun is a -run pattern that can select server-free tests only:
// ^TestUnit..., ^Fuzz... or ^(TestUnit|Fuzz).
var unitOnlyRun = regexp.MustCompile(`^\^(TestUnit[A-Za-z0-9_]*|Fuzz[A-Za-z0-9_]*|\(TestUnit\|Fuzz\))\$?(/.*)?$`)

// UnitOnly says whether the -run pattern run selects only the tests that
// need no server: those named TestUnit..., and the seeds of fuzz targets,
// as `make unit` runs them (go test -run '^(TestUnit|Fuzz)').
func UnitOnly(run string) bool { return unitOnlyRun.MatchString(run) }

// RunMain is the body of a TestMain: it starts one control plane, with istiod
// and the node stand-in, stores it in *env for the package's tests, runs them, stops the control plane and
// checks that none of its processes is left. It returns the exit code for
// os.Exit:
//
//	func TestMain(m *testing.M) { os.Exit(testenv.RunMain(m, &env)) }
//
// When the control plane cannot start, no test runs and the package fails
// with the reason: a missing cluster is a failure, never a skip.
//
// When -run selects only server-free tests (UnitOnly), it starts nothing
// and *env stays nil, so a test named so that used the server would fail,
// not pass.
func RunMain(m *testing.M, env **Env) int {
	if !flag.Parsed() {
		flag.Parse()
	}
	if run := flag.Lookup("test.run"); run != nil && UnitOnly(run.Value.String()) {
		return m.Run()
	}
	start := time.Now()
	e, err := Start()
	if err != nil {
		fmt.Fprintf(os.Stderr, "testenv: %v\n", err)
		return 1
	}
	if testing.Verbose() {
		fmt.Fprintf(os.Stderr, "testenv: control plane up at %s in %s\n", e.Server(), time.Since(start).Round(time.Millisecond))
		if v := e.IstiodVersion(); v != "" {
			fmt.Fprintf(os.Stderr, "testenv: istiod %s ready and leading in %s of that\n", v, e.IstiodStartup().Round(time.Millisecond))
		}
	}
	*env = e
	code := m.Run()
	if err := e.Stop(); err != nil {
		fmt.Fprintf(os.Stderr, "testenv: %v\n", err)
		if code == 0 {
			code = 1
		}
	}
	return code
}
