package cli

import (
	"strings"
	"testing"

	gatewayv1 "sigs.k8s.io/gateway-api/apis/v1"
	"sigs.k8s.io/yaml"
)

// FuzzGenerate feeds the renderer's flags arbitrary values: generate must
// never panic, and either print a waypoint Gateway with one HBONE listener
// (exit 0) or refuse with one line (exit 2). The seeds run with every
// go test; go test -fuzz FuzzGenerate ./pkg/cli explores further.
func FuzzGenerate(f *testing.F) {
	f.Add("waypoint", "service", "", "default", "", "")
	f.Add("none", "bogus", "canary", "", "a,b", "")
	f.Add("w", "all", "1-2", "x", "", "team in (a,b),!x")
	f.Add("", "", "", "", "", "a in (")
	f.Add("UPPER", "workload", "r/x", "n", ",,", "=")
	f.Fuzz(func(t *testing.T, name, forType, revision, namespace, allow, selector string) {
		args := []string{"generate", "--name", name, "--for", forType}
		if revision != "" {
			args = append(args, "-r", revision)
		}
		if namespace != "" {
			args = append(args, "-n", namespace)
		}
		switch {
		case allow != "":
			args = append(args, "--allow-namespace", allow)
		case selector != "":
			args = append(args, "--allow-namespace-selector", selector)
		}
		stdout, stderr, code := run(t, false, args...)
		switch code {
		case ExitOK:
			var gw gatewayv1.Gateway
			if err := yaml.UnmarshalStrict([]byte(stdout), &gw); err != nil {
				t.Fatalf("%q: exit 0 but not a Gateway: %v\n%s", args, err, stdout)
			}
			if gw.Name != name || len(gw.Spec.Listeners) != 1 || gw.Spec.Listeners[0].Port != 15008 {
				t.Fatalf("%q: not the waypoint asked for:\n%s", args, stdout)
			}
		case ExitUsage:
			if stdout != "" || strings.Count(stderr, "\n") != 1 {
				t.Fatalf("%q: exit 2 must print one line on stderr and nothing on stdout: %q %q", args, stdout, stderr)
			}
		default:
			t.Fatalf("%q: exit %d: %s", args, code, stderr)
		}
	})
}
