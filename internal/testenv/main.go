package testenv

import (
	"flag"
	"fmt"
	"os"
	"testing"
	"time"
)

// RunMain is the body of a TestMain: it starts one control plane, with istiod
// and the node stand-in, stores it in *env for the package's tests, runs them, stops the control plane and
// checks that none of its processes is left. It returns the exit code for
// os.Exit:
//
//	func TestMain(m *testing.M) { os.Exit(testenv.RunMain(m, &env)) }
//
// When the control plane cannot start, no test runs and the package fails
// with the reason: a missing cluster is a failure, never a skip.
func RunMain(m *testing.M, env **Env) int {
	if !flag.Parsed() {
		flag.Parse()
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
