package cli

import (
	"strings"
	"testing"
)

// TestUnitUsageMistakes: a mistyped command gets a suggestion, "UNKNOWN --help"
// does not pass for help, and a timeout without --wait is refused; each is
// one line on stderr and exit 2.
func TestUnitUsageMistakes(t *testing.T) {
	cases := []struct {
		args []string
		want string
	}{
		{[]string{"aply"}, `unknown command "aply" for "kubectl-waypoint"; did you mean apply?`},
		{[]string{"delet", "waypoint"}, `did you mean delete?`},
		{[]string{"lst", "--help"}, `unknown command "lst" for "kubectl-waypoint"; did you mean list?`},
		{[]string{"-n", "default", "bogus", "-h"}, `unknown command "bogus" for "kubectl-waypoint"`},
		{[]string{"apply", "--timeout", "10s"}, "--timeout only makes sense with --wait"},
		{[]string{"apply", "--waypoint-timeout", "10s"}, "--waypoint-timeout only makes sense with --wait"},
		{[]string{"status", "--timeout", "1m"}, "--timeout only makes sense with --wait"},
	}
	for _, c := range cases {
		t.Run(strings.Join(c.args, " "), func(t *testing.T) {
			stdout, stderr, code := run(t, false, c.args...)
			if code != ExitUsage || stdout != "" || !strings.Contains(stderr, c.want) || strings.Count(stderr, "\n") != 1 {
				t.Errorf("exit %d, stdout %q, stderr %q; want exit 2 and %q", code, stdout, stderr, c.want)
			}
		})
	}
	for _, args := range [][]string{{"--help"}, {"-n", "default", "--help"}, {"apply", "--help"}, {"help", "apply"}} {
		if _, stderr, code := run(t, false, args...); code != 0 {
			t.Errorf("%v: exit %d, stderr %q", args, code, stderr)
		}
	}
}
