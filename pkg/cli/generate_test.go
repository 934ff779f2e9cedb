package cli

import (
	"strings"
	"testing"
)

// generateCases is the flag matrix of generate. The golden files they produce
// are also applied to a real API server by the integration tests.
var generateCases = []struct {
	name string
	args []string
}{
	{"default", nil},
	{"namespace", []string{"-n", "default"}},
	{"for-service-namespace", []string{"--for", "service", "-n", "default"}},
	{"for-workload", []string{"--for", "workload"}},
	{"for-all", []string{"--for", "all", "-n", "default"}},
	{"for-none", []string{"--for", "none", "-n", "default"}},
	{"name", []string{"--name", "reviews-svc-waypoint", "-n", "default"}},
	{"name-for-workload", []string{"--name", "reviews-v2-pod-waypoint", "--for", "workload", "-n", "default"}},
	{"revision", []string{"-r", "canary", "-n", "default"}},
	{"revision-for", []string{"--revision", "canary", "--for", "service"}},
	{"allow-namespace", []string{"--allow-namespace", "cross-namespace-waypoint-consumer", "-n", "common-infrastructure", "--name", "egress-gateway"}},
	{"allow-namespaces-repeated", []string{"--allow-namespace", "team-a", "--allow-namespace", "team-b", "-n", "common-infrastructure"}},
	{"allow-namespaces-comma", []string{"--allow-namespace", "team-a,team-b,team-c", "-n", "common-infrastructure"}},
	{"allow-namespace-duplicate", []string{"--allow-namespace", "team-a,team-a", "-n", "common-infrastructure"}},
	{"allow-namespace-selector", []string{"--allow-namespace-selector", "istio.io/dataplane-mode=ambient", "-n", "common-infrastructure"}},
	{"allow-namespace-selector-set", []string{"--allow-namespace-selector", "team in (a,b),!legacy", "-n", "common-infrastructure"}},
	{"allow-all-namespaces", []string{"--allow-all-namespaces", "--for", "all", "-n", "common-infrastructure"}},
	{"json", []string{"--for", "service", "-n", "default", "-o", "json"}},
	{"json-allow-namespace", []string{"--allow-namespace", "team-a", "-o", "json"}},
}

func TestUnitGenerateGolden(t *testing.T) {
	for _, tc := range generateCases {
		t.Run(tc.name, func(t *testing.T) {
			ext := ".yaml"
			if strings.Contains(tc.name, "json") {
				ext = ".json"
			}
			var outputs []string
			for _, tty := range []bool{true, false} {
				stdout, stderr, code := run(t, tty, append([]string{"generate"}, tc.args...)...)
				if code != 0 || stderr != "" {
					t.Fatalf("tty=%v: exit %d, stderr %q", tty, code, stderr)
				}
				outputs = append(outputs, stdout)
			}
			// A Gateway is data: it is the same on a terminal and in a pipe.
			if outputs[0] != outputs[1] {
				t.Errorf("terminal and pipe output differ:\n%s\n---\n%s", outputs[0], outputs[1])
			}
			golden(t, "generate", tc.name+ext, outputs[1])
		})
	}
}

// TestUnitGenerateSeed pins the exact text of the seed document, independent of
// the golden files, so that -update cannot silently change it.
func TestUnitGenerateSeed(t *testing.T) {
	stdout, _, code := run(t, false, "generate", "--for", "service", "-n", "default")
	if code != 0 || stdout != seedWaypoint {
		t.Fatalf("exit %d, got:\n%s", code, stdout)
	}
	const crossNamespace = `apiVersion: gateway.networking.k8s.io/v1
kind: Gateway
metadata:
  name: egress-gateway
  namespace: common-infrastructure
spec:
  gatewayClassName: istio-waypoint
  listeners:
  - allowedRoutes:
      namespaces:
        from: Selector
        selector:
          matchLabels:
            kubernetes.io/metadata.name: cross-namespace-waypoint-consumer
    name: mesh
    port: 15008
    protocol: HBONE
`
	stdout, _, code = run(t, false, "generate", "--allow-namespace", "cross-namespace-waypoint-consumer", "-n", "common-infrastructure", "--name", "egress-gateway")
	if code != 0 || stdout != crossNamespace {
		t.Fatalf("exit %d, got:\n%s", code, stdout)
	}
}

func TestUnitGenerateBadInput(t *testing.T) {
	cases := []struct {
		name string
		args []string
		want []string // each must appear in the one error line
	}{
		{"bad traffic type", []string{"--for", "bogus"}, []string{`"bogus"`, "all, none, service, workload"}},
		{"reserved name", []string{"--name", "none"}, []string{`"none"`, "reserved"}},
		{"name not RFC 1123", []string{"--name", "My_Waypoint"}, []string{`"My_Waypoint"`, "RFC 1123"}},
		{"name too long", []string{"--name", strings.Repeat("a", 64)}, []string{strings.Repeat("a", 64), "63"}},
		{"namespace not RFC 1123", []string{"-n", "Default"}, []string{`"Default"`, "RFC 1123"}},
		{"allowed namespace not RFC 1123", []string{"--allow-namespace", "team.a"}, []string{`"team.a"`, "dots"}},
		{"two allow flags", []string{"--allow-namespace", "a", "--allow-all-namespaces"}, []string{"mutually exclusive"}},
		{"selector and all", []string{"--allow-namespace-selector", "a=b", "--allow-all-namespaces"}, []string{"mutually exclusive"}},
		{"selector does not parse", []string{"--allow-namespace-selector", "env in ("}, []string{`"env in ("`}},
		{"empty selector value", []string{"--allow-namespace-selector", "="}, []string{`"="`}},
		{"bad revision", []string{"-r", "not a label"}, []string{`"not a label"`}},
		{"unknown output", []string{"-o", "wide"}, []string{`"wide"`, "yaml, json"}},
		{"unknown flag", []string{"--bogus"}, []string{"--bogus"}},
		{"extra argument", []string{"extra"}, []string{`"extra"`}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			stdout, stderr, code := run(t, false, append([]string{"generate"}, tc.args...)...)
			if code != ExitUsage {
				t.Errorf("exit code %d, want %d", code, ExitUsage)
			}
			if stdout != "" {
				t.Errorf("stdout not empty: %q", stdout)
			}
			if strings.Count(stderr, "\n") != 1 || !strings.HasPrefix(stderr, "error: ") {
				t.Errorf("want one line starting with \"error: \", got %q", stderr)
			}
			for _, w := range tc.want {
				if !strings.Contains(stderr, w) {
					t.Errorf("stderr %q does not contain %q", stderr, w)
				}
			}
		})
	}
}

func TestUnitGenerateErrorColour(t *testing.T) {
	_, stderr, _ := run(t, true, "generate", "--for", "bogus")
	if !strings.Contains(stderr, "\x1b[31m") {
		t.Errorf("terminal stderr should be coloured: %q", stderr)
	}
	_, stderr, _ = run(t, false, "generate", "--for", "bogus")
	if strings.Contains(stderr, "\x1b[") {
		t.Errorf("piped stderr must not be coloured: %q", stderr)
	}
}
