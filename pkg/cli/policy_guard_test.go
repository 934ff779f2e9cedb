package cli

import (
	"strings"
	"testing"

	"github.com/kubectl-waypoint/kubectl-waypoint/pkg/bulk"
)

// TestUnitRefusedError: refused as a whole is exit 2, refused in part 1;
// the message says where the policies are named.
func TestUnitRefusedError(t *testing.T) {
	for _, tc := range []struct {
		err   *bulk.RefusedError
		human bool
		code  int
		want  string
	}{
		{&bulk.RefusedError{Refused: 1, Total: 1}, true, ExitUsage, "nothing changed: istiod would stop enforcing the L7 policies named above"},
		{&bulk.RefusedError{Refused: 1, Total: 3, Changed: true}, false, ExitFailed, "1 of 3 objects refused and left as they are: istiod would stop enforcing the L7 policies named in the report; the rest was done"},
	} {
		err := outcomeError(tc.err, tc.human)
		if ExitCode(err) != tc.code || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%+v: exit %d, %v", tc.err, ExitCode(err), err)
		}
	}
	for verb, want := range map[string]string{"delete": "deleting", "enroll": "enrolling", "unenroll": "unenrolling", "apply": "applying"} {
		if got := gerund(verb); got != want {
			t.Errorf("gerund(%s) = %s", verb, got)
		}
	}
}
