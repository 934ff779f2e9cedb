package cli

import (
	"encoding/json"
	"fmt"
	"maps"
	"reflect"
	"slices"
	"strings"
	"testing"

	gatewayv1 "sigs.k8s.io/gateway-api/apis/v1"

	"github.com/kubectl-waypoint/kubectl-waypoint/pkg/bulk"
)

// applyStates are the waypoints a generated dry-run case starts from or
// goes to: the cross product of the flags that change what apply sends.
func applyStates() [][]string {
	var out [][]string
	for _, forFlag := range [][]string{nil, {"--for", "workload"}, {"--for", "all"}, {"--for", "none"}} {
		for _, allow := range [][]string{nil, {"--allow-all-namespaces"}, {"--allow-namespace", "a,b"}, {"--allow-namespace-selector", "team=x"}} {
			for _, rev := range [][]string{nil, {"-r", "canary"}} {
				out = append(out, append(append(append([]string{}, forFlag...), allow...), rev...))
			}
		}
	}
	return out
}

// reportActions runs the tool with -o json and returns the action of each
// object of the report, and the exit code under the key "exit".
func reportActions(t *testing.T, args ...string) map[string]bulk.Action {
	t.Helper()
	stdout, stderr, code := runKube(t, append(args, "-o", "json")...)
	var rep bulk.Report
	if err := json.Unmarshal([]byte(stdout), &rep); err != nil {
		t.Fatalf("%v: exit %d, %v: %s %s", args, code, err, stdout, stderr)
	}
	got := actionsByObject(t, &rep)
	got["exit"] = bulk.Action(fmt.Sprint(code))
	return got
}

// TestDryRunMatchesTheRealCall: on a generated set of changes,
// --dry-run=server reports for every object the action the real call then
// reports, and the real call's action is what the cluster shows. For apply,
// each of 32 waypoints (the cross product of --for, the admission flags and
// the revision) is applied over another one, or over nothing, and the
// Gateway's labels, annotations or spec change exactly when it says
// configured (not its resourceVersion: istiod writes the status
// meanwhile); --enroll-namespace adds the namespace. For enroll, unenroll
// and delete, each starting label of a service meets each command.
func TestDryRunMatchesTheRealCall(t *testing.T) {
	states := applyStates()
	for i, to := range states {
		// A fixed permutation picks what each case starts from; every
		// fourth starts from nothing (created).
		var from []string
		if i%4 != 0 {
			from = states[(i*7+3)%len(states)]
		}
		// --enroll-namespace, where the waypoint admits the namespace.
		enrollNS := i%3 == 0 && !slices.ContainsFunc(to, func(f string) bool { return strings.HasPrefix(f, "--allow-namespace") })
		name := fmt.Sprintf("%d: from %v to %v", i, from, to)
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			ns := env.Namespace(t, nil)
			if i%4 != 0 {
				reportActions(t, append([]string{"apply", "-n", ns}, from...)...)
			}
			before, err := getGateway(t, ns, "waypoint")
			if err != nil {
				before = nil
			}
			beforeNS := nsLabels(t, ns)
			args := append([]string{"apply", "-n", ns}, to...)
			if enrollNS {
				args = append(args, "--enroll-namespace")
			}
			preview := reportActions(t, append(args, "--dry-run=server")...)
			gw, err := getGateway(t, ns, "waypoint")
			if (err != nil) != (before == nil) || err == nil && !sameUserContent(gw, before) || !maps.Equal(nsLabels(t, ns), beforeNS) {
				t.Fatalf("the dry run wrote to the cluster")
			}
			real := reportActions(t, args...)
			after, err := getGateway(t, ns, "waypoint")
			if err != nil {
				t.Fatal(err)
			}
			want := bulk.Unchanged
			switch {
			case before == nil:
				want = bulk.Created
			case !sameUserContent(after, before):
				want = bulk.Configured
			}
			if got := real["Gateway "+ns+"/waypoint"]; got != want {
				t.Errorf("apply says %s, the cluster says %s", got, want)
			}
			if enrollNS {
				wantNS := bulk.Enrolled
				if beforeNS["istio.io/use-waypoint"] == "waypoint" {
					wantNS = bulk.Unchanged
				}
				if got := real["Namespace /"+ns]; got != wantNS || nsLabels(t, ns)["istio.io/use-waypoint"] != "waypoint" {
					t.Errorf("namespace: apply says %s, want %s; labels %v", got, wantNS, nsLabels(t, ns))
				}
			}
			if !maps.Equal(preview, real) {
				t.Errorf("dry run %v, real call %v", preview, real)
			}
		})
	}

	// Each starting enrollment of a service meets each command that
	// changes labels or deletes.
	for _, start := range []map[string]string{
		nil,
		{"istio.io/use-waypoint": "waypoint"},
		{"istio.io/use-waypoint": "other"},
		{"istio.io/use-waypoint": "none"},
	} {
		for _, cmd := range [][]string{
			{"enroll", "service", "reviews", "--waypoint", "waypoint"},
			{"enroll", "service", "reviews", "--waypoint", "none"},
			{"unenroll", "service", "reviews"},
			{"delete", "waypoint", "--unenroll"},
			{"delete", "--all", "--unenroll-missing"},
		} {
			t.Run(fmt.Sprintf("%v from %v", cmd, start), func(t *testing.T) {
				t.Parallel()
				ns := env.Namespace(t, nil)
				env.Waypoint(t, ns, "waypoint", nil)
				env.Service(t, ns, "reviews", start)
				args := append(append([]string{}, cmd...), "-n", ns)
				preview := reportActions(t, append(args, "--dry-run=server")...)
				if got := labelsOf(t, "service", ns, "reviews")["istio.io/use-waypoint"]; got != start["istio.io/use-waypoint"] || !gatewayExists(t, ns, "waypoint") {
					t.Fatalf("the dry run wrote to the cluster")
				}
				real := reportActions(t, args...)
				if !maps.Equal(preview, real) {
					t.Errorf("dry run %v, real call %v", preview, real)
				}
				// The real call's service record is what the cluster shows.
				now, had := labelsOf(t, "service", ns, "reviews")["istio.io/use-waypoint"]
				was, hadBefore := start["istio.io/use-waypoint"]
				want := bulk.Unchanged
				switch {
				case now != was && had:
					want = bulk.Enrolled
				case hadBefore && !had:
					want = bulk.Unenrolled
				}
				if got, ok := real["Service "+ns+"/reviews"]; ok && got != want && got != bulk.Skipped && got != bulk.Failed {
					t.Errorf("service: the call says %s, the cluster says %s (%q → %q)", got, want, was, now)
				} else if (got == bulk.Skipped || got == bulk.Failed || !ok) && now != was {
					t.Errorf("service: no write reported (%q), but its label went %q → %q", got, was, now)
				}
			})
		}
	}
}

// sameUserContent says whether two reads of a Gateway hold the same labels,
// annotations and spec.
func sameUserContent(a, b *gatewayv1.Gateway) bool {
	return maps.Equal(a.Labels, b.Labels) && maps.Equal(a.Annotations, b.Annotations) && reflect.DeepEqual(a.Spec, b.Spec)
}
