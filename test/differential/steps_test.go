package differential_test

import (
	"encoding/json"
	"fmt"
	"strings"
	"testing"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"

	"github.com/kubectl-waypoint/kubectl-waypoint/pkg/enroll"
	"github.com/kubectl-waypoint/kubectl-waypoint/pkg/istio"
)

// waypointNames are the names steps apply, delete and enroll into: those
// the world was made with, and one more.
var waypointNames = []string{"w0", "w1", "w2", "w3"}

// step makes one random write and returns it in words, with its outcome
// ("apply: exit 0", "relabel namespace", ...). A write of the tool that
// exits 0 is read back from the cluster.
func (w *world) step(t *testing.T) (desc, outcome string) {
	t.Helper()
	ns := w.namespaces[w.rng.IntN(len(w.namespaces))]
	switch w.pick(20, 10, 30, 15, 25) {
	case 0:
		args := []string{"apply", "-n", ns.name, "--name", waypointNames[w.rng.IntN(len(waypointNames))]}
		if w.chance(70) {
			args = append(args, "--for", []string{"service", "workload", "all", "none"}[w.rng.IntN(4)])
		}
		switch w.pick(40, 40, 20) {
		case 1:
			args = append(args, "--allow-all-namespaces")
		case 2:
			args = append(args, "--allow-namespace-selector", teamLabel+"=a")
		}
		if w.chance(50) {
			args = append(args, "--force")
		}
		if w.chance(30) {
			args = append(args, "--force-conflicts")
		}
		return w.tool(t, args...)
	case 1:
		args := []string{"delete", waypointNames[w.rng.IntN(len(waypointNames))], "-n", ns.name}
		if w.chance(40) {
			args = append(args, "--unenroll")
		}
		return w.tool(t, args...)
	case 2:
		kind, name := w.target(ns.name)
		wp := waypointNames[w.rng.IntN(len(waypointNames))]
		wpNS := w.namespaces[w.rng.IntN(len(w.namespaces))].name
		args := []string{"enroll", string(kind)}
		if name != "" {
			args = append(args, name)
		}
		args = append(args, "-n", ns.name, "--waypoint", wp)
		if wpNS != ns.name {
			args = append(args, "--waypoint-namespace", wpNS)
		}
		if w.chance(40) {
			args = append(args, "--force")
		}
		desc, outcome = w.tool(t, args...)
		if strings.HasSuffix(outcome, "exit 0") {
			want := map[string]string{istio.LabelUseWaypoint: wp}
			if wpNS != ns.name {
				want[istio.LabelUseWaypointNamespace] = wpNS
			}
			w.expectLabels(t, kind, ns.name, name, want)
		}
		return desc, outcome
	case 3:
		kind, name := w.target(ns.name)
		args := []string{"unenroll", string(kind)}
		if name != "" {
			args = append(args, name)
		}
		args = append(args, "-n", ns.name)
		desc, outcome = w.tool(t, args...)
		if strings.HasSuffix(outcome, "exit 0") {
			w.expectLabels(t, kind, ns.name, name, map[string]string{istio.LabelUseWaypoint: "", istio.LabelUseWaypointNamespace: ""})
		}
		return desc, outcome
	default:
		return w.relabel(t, ns.name)
	}
}

// target picks a namespace (name "": the one of -n) or an object of ns.
func (w *world) target(ns string) (enroll.Kind, string) {
	var objs []*objSpec
	for _, o := range w.objects {
		if o.ns == ns {
			objs = append(objs, o)
		}
	}
	if len(objs) == 0 || w.chance(20) {
		return enroll.KindNamespace, ""
	}
	o := objs[w.rng.IntN(len(objs))]
	return o.kind, o.name
}

// tool runs the tool; its outcome is the command and its exit code.
func (w *world) tool(t *testing.T, args ...string) (desc, outcome string) {
	t.Helper()
	_, stderr, code := run(args...)
	if code != 0 && code != 1 && code != 2 {
		t.Fatalf("kubectl waypoint %s: exit %d: %s", strings.Join(args, " "), code, stderr)
	}
	if strings.Contains(stderr, "panic") {
		t.Fatalf("kubectl waypoint %s: %s", strings.Join(args, " "), stderr)
	}
	desc = "kubectl waypoint " + strings.Join(args, " ") + fmt.Sprintf(" (exit %d)", code)
	if code != 0 {
		desc += ": " + firstLine(stderr)
	}
	return desc, fmt.Sprintf("%s: exit %d", args[0], code)
}

func firstLine(s string) string {
	line, _, _ := strings.Cut(strings.TrimSpace(s), "\n")
	return line
}

// expectLabels reads the object (or namespace, name "") back and checks
// the labels of want; an empty value in want means the label is absent.
func (w *world) expectLabels(t *testing.T, kind enroll.Kind, ns, name string, want map[string]string) {
	t.Helper()
	res := env.Dynamic.Resource(kind.GVR()).Namespace(ns)
	if kind == enroll.KindNamespace {
		res, name = env.Dynamic.Resource(enroll.KindNamespace.GVR()).Namespace(""), ns
	}
	u, err := res.Get(t.Context(), name, metav1.GetOptions{})
	if err != nil {
		t.Fatalf("reading %s %s/%s back: %v", kind, ns, name, err)
	}
	got := u.GetLabels()
	for k, v := range want {
		if got[k] != v {
			t.Fatalf("%s %s/%s after a write that exited 0: label %s=%q, want %q (labels %v)", kind, ns, name, k, got[k], v, got)
		}
	}
}

// relabel changes labels by another hand than the tool's: an object's or
// a namespace's enrollment, or a waypoint's traffic type.
func (w *world) relabel(t *testing.T, ns string) (desc, outcome string) {
	t.Helper()
	var labels map[string]any
	switch w.pick(50, 25, 25) {
	case 0, 1:
		ref := w.ref(ns, istio.LabelUseWaypoint, istio.LabelUseWaypointNamespace)
		labels = map[string]any{istio.LabelUseWaypoint: nil, istio.LabelUseWaypointNamespace: nil}
		if w.chance(80) {
			for k, v := range ref {
				labels[k] = v
			}
		}
	case 2:
		gw := waypointNames[w.rng.IntN(len(waypointNames))]
		var value any = []string{"service", "workload", "all", "none"}[w.rng.IntN(4)]
		if w.chance(25) {
			value = nil
		}
		body, _ := json.Marshal(map[string]any{"metadata": map[string]any{"labels": map[string]any{istio.LabelWaypointFor: value}}})
		_, err := env.Gateway.GatewayV1().Gateways(ns).Patch(t.Context(), gw, types.MergePatchType, body, metav1.PatchOptions{})
		if err != nil && !strings.Contains(err.Error(), "not found") {
			t.Fatalf("relabelling waypoint %s/%s: %v", ns, gw, err)
		}
		return fmt.Sprintf("another hand sets %s=%v on waypoint %s/%s (err %v)", istio.LabelWaypointFor, value, ns, gw, err), "relabel waypoint"
	}
	kind, name := w.target(ns)
	res := env.Dynamic.Resource(kind.GVR()).Namespace(ns)
	target := name
	if kind == enroll.KindNamespace {
		res, target = env.Dynamic.Resource(enroll.KindNamespace.GVR()).Namespace(""), ns
	}
	body, _ := json.Marshal(map[string]any{"metadata": map[string]any{"labels": labels}})
	if _, err := res.Patch(t.Context(), target, types.MergePatchType, body, metav1.PatchOptions{}); err != nil {
		t.Fatalf("relabelling %s %s/%s: %v", kind, ns, name, err)
	}
	return fmt.Sprintf("another hand sets %v on %s %s/%s", labels, kind, ns, name), "relabel " + string(kind)
}
