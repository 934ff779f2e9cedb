package cli

import (
	"encoding/json"
	"maps"
	"reflect"
	"strings"
	"testing"

	gatewayv1 "sigs.k8s.io/gateway-api/apis/v1"

	"github.com/kubectl-waypoint/kubectl-waypoint/pkg/bulk"
)

// TestApplyDryRunMatchesApply: for each change of flags over an applied
// waypoint, --dry-run=server reports the action the real apply then
// reports, and the real apply's action is what the cluster shows: its
// labels, annotations or spec changed exactly when it says configured
// (not its resourceVersion: istiod writes the status meanwhile).
func TestApplyDryRunMatchesApply(t *testing.T) {
	gatewayAction := func(t *testing.T, args ...string) bulk.Action {
		t.Helper()
		stdout, stderr, code := runKube(t, append(args, "-o", "json")...)
		var rep bulk.Report
		if err := json.Unmarshal([]byte(stdout), &rep); err != nil || code != 0 {
			t.Fatalf("%v: exit %d, %v: %s %s", args, code, err, stdout, stderr)
		}
		for _, r := range rep.Records {
			if r.Kind == "Gateway" {
				return r.Action
			}
		}
		t.Fatalf("%v: no Gateway record: %s", args, stdout)
		return ""
	}
	for _, change := range [][]string{
		nil,
		{"--for", "workload"},
		{"--for", "all"},
		{"--for", "service"},
		{"-r", "canary"},
		{"--allow-namespace", "a,b"},
		{"--allow-all-namespaces"},
		{"--allow-namespace-selector", "team=x"},
	} {
		t.Run(strings.Join(append([]string{"apply"}, change...), " "), func(t *testing.T) {
			ns := env.Namespace(t, nil)
			if a := gatewayAction(t, "apply", "-n", ns); a != bulk.Created {
				t.Fatalf("the first apply: %s", a)
			}
			before, err := getGateway(t, ns, "waypoint")
			if err != nil {
				t.Fatal(err)
			}
			args := append([]string{"apply", "-n", ns}, change...)
			preview := gatewayAction(t, append(args, "--dry-run=server")...)
			if gw, _ := getGateway(t, ns, "waypoint"); !sameUserContent(gw, before) {
				t.Fatalf("the dry run wrote the Gateway")
			}
			real := gatewayAction(t, args...)
			after, err := getGateway(t, ns, "waypoint")
			if err != nil {
				t.Fatal(err)
			}
			want := bulk.Unchanged
			if !sameUserContent(after, before) {
				want = bulk.Configured
			}
			if real != want || preview != real {
				t.Errorf("dry run %s, apply %s, the cluster says %s", preview, real, want)
			}
		})
	}
}

// sameUserContent says whether two reads of a Gateway hold the same labels,
// annotations and spec.
func sameUserContent(a, b *gatewayv1.Gateway) bool {
	return maps.Equal(a.Labels, b.Labels) && maps.Equal(a.Annotations, b.Annotations) && reflect.DeepEqual(a.Spec, b.Spec)
}
