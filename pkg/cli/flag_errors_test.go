package cli

import (
	"strings"
	"testing"
)

// TestUnitFlagErrors: a mistyped flag is answered with the nearest flags
// of the command and a pointer to its help, and a duration without a unit
// with an example; each in one line, exit 2.
func TestUnitFlagErrors(t *testing.T) {
	for _, c := range []struct {
		args []string
		want []string
	}{
		{[]string{"apply", "--enrol-namespace"}, []string{"unknown flag: --enrol-namespace", "did you mean --enroll-namespace?", "kubectl-waypoint apply --help"}},
		{[]string{"generate", "--alow-namespace", "x"}, []string{"did you mean --allow-namespace?"}},
		{[]string{"apply", "--wait", "--timeout", "5"}, []string{`"5"`, "give a unit, e.g. 5s or 2m"}},
		{[]string{"list", "--bogus-flag-name"}, []string{"unknown flag: --bogus-flag-name", "kubectl-waypoint list --help"}},
		// -A is kubectl's --all-namespaces; the writing commands select
		// namespaces by label instead.
		{[]string{"apply", "-A"}, []string{"unknown shorthand flag: 'A' in -A", "--namespace-selector", "kubectl-waypoint apply --help"}},
		{[]string{"enroll", "namespace", "-A", "--waypoint", "w"}, []string{"--namespace-selector", "kubectl-waypoint enroll --help"}},
	} {
		_, stderr, code := run(t, false, c.args...)
		if code != ExitUsage || strings.Count(stderr, "\n") != 1 {
			t.Errorf("%v: exit %d, stderr %q", c.args, code, stderr)
			continue
		}
		for _, w := range c.want {
			if !strings.Contains(stderr, w) {
				t.Errorf("%v: stderr %q lacks %q", c.args, stderr, w)
			}
		}
	}
}
