package cli

import (
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"testing"
)

// istioctlFlags are the flags of "istioctl waypoint generate" (with their
// values): a case that uses only these can be compared with istioctl.
var istioctlFlags = []string{"-n", "--namespace", "--for", "--name", "-r", "--revision"}

// TestGenerateEqualsIstioctl: istioctl is the oracle of generate. Every
// golden case that istioctl can express, and the cross product of --for,
// --name and --revision (in namespace bookinfo), prints byte for byte what istioctl's own
// "waypoint generate" prints, with the istioctl that hack/istiod.sh builds at
// the pinned version. Neither reaches a cluster (a kubeconfig that does not
// exist gives both the namespace "default").
func TestGenerateEqualsIstioctl(t *testing.T) {
	istioctl := filepath.Join(env.IstiodDir, "istioctl")
	kubeconfig := filepath.Join(t.TempDir(), "none")
	var cases [][]string
	for _, tc := range generateCases {
		if expressible(tc.args) {
			cases = append(cases, tc.args)
		}
	}
	if len(cases) < 10 {
		t.Fatalf("%d golden cases istioctl can express; expected the 10 of --for, --name, --revision and -n", len(cases))
	}
	for _, forFlag := range [][]string{nil, {"--for", "service"}, {"--for", "workload"}, {"--for", "all"}, {"--for", "none"}} {
		for _, name := range [][]string{nil, {"--name", "egress-gateway"}} {
			for _, rev := range [][]string{nil, {"-r", "canary"}} {
				cases = append(cases, slices.Concat(forFlag, name, rev, []string{"-n", "bookinfo"}))
			}
		}
	}
	for _, args := range cases {
		args = append(slices.Clone(args), "--kubeconfig", kubeconfig)
		want, err := exec.Command(istioctl, append([]string{"waypoint", "generate"}, args...)...).Output()
		if err != nil {
			t.Fatalf("istioctl waypoint generate %v: %v", args, err)
		}
		got, stderr, code := run(t, false, append([]string{"generate"}, args...)...)
		if code != 0 || got != string(want) {
			t.Errorf("generate %v: exit %d, stderr %q\n--- ours\n%s--- istioctl\n%s", args, code, stderr, got, want)
		}
	}
	t.Logf("%d cases equal istioctl's output", len(cases))
}

// expressible says whether istioctl's generate has every flag of args.
func expressible(args []string) bool {
	for i := 0; i < len(args); i += 2 {
		if !slices.Contains(istioctlFlags, args[i]) || strings.Contains(args[i], "=") {
			return false
		}
	}
	return true
}
