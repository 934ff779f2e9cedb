package cli

import (
	"bytes"
	"context"
	"maps"
	"os/exec"
	"path/filepath"
	"reflect"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	gatewayv1 "sigs.k8s.io/gateway-api/apis/v1"

	"github.com/kubectl-waypoint/kubectl-waypoint/pkg/istio"
)

// TestGenerateGitOpsMatchesApply: `generate --output-dir` applied with the
// real kubectl, `kubectl apply --server-side -k DIR`, gives the same
// Gateways and namespace labels as our `apply --enroll-namespace` with the
// same flags; the namespace's other labels survive (the Namespace in the
// manifests carries only the enrollment label); and applying it again
// changes nothing. The Gateways carry a revision no istiod here serves, so
// that nothing but the two applies writes them.
func TestGenerateGitOpsMatchesApply(t *testing.T) {
	id := strconv.FormatInt(time.Now().UnixNano(), 36)
	flags := []string{"--name", "edge", "--for", "all", "-r", "gitops-test", "--enroll-namespace"}
	set := func(which string) []string {
		sel := map[string]string{"gitops-test": id + "-" + which, "team": "payments",
			istio.LabelDataplaneMode: istio.DataplaneModeAmbient}
		names := []string{env.Namespace(t, sel), env.Namespace(t, sel)}
		slices.Sort(names)
		return names
	}
	byApply, byKubectl := set("apply"), set("kubectl")

	if _, stderr, code := runKube(t, append([]string{"apply", "--namespace-selector", "gitops-test=" + id + "-apply"}, flags...)...); code != 0 {
		t.Fatalf("apply: exit %d: %s", code, stderr)
	}
	dir := filepath.Join(t.TempDir(), "waypoints")
	if _, stderr, code := runKube(t, append([]string{"generate", "--namespace-selector", "gitops-test=" + id + "-kubectl", "--output-dir", dir}, flags...)...); code != 0 {
		t.Fatalf("generate: exit %d: %s", code, stderr)
	}
	kustomize := func() string {
		t.Helper()
		out, err := kubectlKustomize(dir)
		if err != nil {
			t.Fatalf("kubectl apply --server-side -k: %v\n%s", err, out)
		}
		return out
	}
	out := kustomize()
	for _, ns := range byKubectl {
		for _, want := range []string{"namespace/" + ns + " serverside-applied", "gateway.gateway.networking.k8s.io/edge serverside-applied"} {
			if !strings.Contains(out, want) {
				t.Errorf("kubectl's output lacks %q:\n%s", want, out)
			}
		}
	}

	before := map[string]objects{}
	for i, nsK := range byKubectl {
		nsA := byApply[i]
		a, k := read(t, nsA), read(t, nsK)
		gwA, gwK, nA, nK := a.gw, k.gw, a.ns, k.ns
		if !reflect.DeepEqual(gwK.Labels, gwA.Labels) || !reflect.DeepEqual(gwK.Spec, gwA.Spec) {
			t.Errorf("Gateway %s/edge by kubectl -k: labels %v spec %+v\nby apply (%s): labels %v spec %+v", nsK, gwK.Labels, gwK.Spec, nsA, gwA.Labels, gwA.Spec)
		}
		// The labels that differ by construction: the name, and the set.
		if nK.Labels["gitops-test"] != id+"-kubectl" {
			t.Errorf("namespace %s lost its own label gitops-test: %v", nsK, nK.Labels)
		}
		if got, want := comparable(nK.Labels), comparable(nA.Labels); !reflect.DeepEqual(got, want) {
			t.Errorf("namespace %s labels by kubectl -k %v, by apply %v", nsK, got, want)
		}
		if nK.Labels[istio.LabelUseWaypoint] != "edge" || nK.Labels["team"] != "payments" || nK.Labels[istio.LabelDataplaneMode] != istio.DataplaneModeAmbient {
			t.Errorf("namespace %s labels %v: want use-waypoint=edge beside its own", nsK, nK.Labels)
		}
		checkAppliedFields(t, nK)
		before[nsK] = k
	}

	// Again: nothing changes. The Gateway's first update after its
	// creation is stored, with nothing changed but resourceVersion: the API
	// server then persists the status its CRD defaults (our own apply shows
	// the same). So the second apply must keep every field and the
	// generation, and the third every resourceVersion.
	kustomize()
	second := map[string]objects{}
	for _, ns := range byKubectl {
		second[ns] = read(t, ns)
		b, a := before[ns], second[ns]
		if a.gw.Generation != b.gw.Generation || !reflect.DeepEqual(a.gw.Labels, b.gw.Labels) || !reflect.DeepEqual(a.gw.Spec, b.gw.Spec) ||
			!reflect.DeepEqual(a.gw.ManagedFields, b.gw.ManagedFields) {
			t.Errorf("applying again changed Gateway %s/edge:\n%+v\nwas\n%+v", ns, a.gw, b.gw)
		}
		if a.ns.ResourceVersion != b.ns.ResourceVersion {
			t.Errorf("applying again changed namespace %s: resourceVersion %s -> %s", ns, b.ns.ResourceVersion, a.ns.ResourceVersion)
		}
	}
	kustomize()
	for _, ns := range byKubectl {
		b, a := second[ns], read(t, ns)
		if a.gw.ResourceVersion != b.gw.ResourceVersion || a.ns.ResourceVersion != b.ns.ResourceVersion {
			t.Errorf("applying a third time wrote %s: Gateway resourceVersion %s -> %s, Namespace %s -> %s", ns,
				b.gw.ResourceVersion, a.gw.ResourceVersion, b.ns.ResourceVersion, a.ns.ResourceVersion)
		}
	}
}

// TestGenerateGitOpsConflict: a namespace that another field manager has
// enrolled into another waypoint is not taken over by kubectl's
// server-side apply (as apply refuses without --overwrite), and
// --force-conflicts, the counterpart of --overwrite, takes the label over
// and keeps the namespace's other labels.
func TestGenerateGitOpsConflict(t *testing.T) {
	ns := env.Namespace(t, map[string]string{istio.LabelUseWaypoint: "other", "team": "payments"})
	dir := filepath.Join(t.TempDir(), "waypoints")
	if _, stderr, code := run(t, false, "generate", "-n", ns, "--name", "edge", "-r", "gitops-test", "--enroll-namespace", "--output-dir", dir); code != 0 {
		t.Fatalf("generate: exit %d: %s", code, stderr)
	}
	out, err := kubectlKustomize(dir)
	if err == nil || !strings.Contains(out, "conflict") || !strings.Contains(out, ".metadata.labels."+istio.LabelUseWaypoint) {
		t.Errorf("kubectl apply -k over another manager's label: %v\n%s", err, out)
	}
	if got := read(t, ns).ns.Labels[istio.LabelUseWaypoint]; got != "other" {
		t.Errorf("the refused apply changed use-waypoint to %q", got)
	}
	if out, err := kubectlKustomize(dir, "--force-conflicts"); err != nil {
		t.Fatalf("--force-conflicts: %v\n%s", err, out)
	}
	if labels := read(t, ns).ns.Labels; labels[istio.LabelUseWaypoint] != "edge" || labels["team"] != "payments" {
		t.Errorf("after --force-conflicts the labels are %v, want use-waypoint=edge and team=payments", labels)
	}
}

// kubectlKustomize runs the real `kubectl apply --server-side -k dir` (plus
// args) and returns its stdout and stderr together.
func kubectlKustomize(dir string, args ...string) (string, error) {
	cmd := exec.Command(env.KubectlPath, append([]string{"--kubeconfig", env.Kubeconfig, "apply", "--server-side", "-k", dir}, args...)...)
	var out bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &out
	err := cmd.Run()
	return out.String(), err
}

// objects are the Gateway edge and the Namespace of a test namespace.
type objects struct {
	gw *gatewayv1.Gateway
	ns *corev1.Namespace
}

func read(t *testing.T, ns string) objects {
	t.Helper()
	gw, err := env.Gateway.GatewayV1().Gateways(ns).Get(context.Background(), "edge", metav1.GetOptions{})
	if err != nil {
		t.Fatal(err)
	}
	n, err := env.Kube.CoreV1().Namespaces().Get(context.Background(), ns, metav1.GetOptions{})
	if err != nil {
		t.Fatal(err)
	}
	return objects{gw, n}
}

// comparable is a namespace's labels without those that name it or its
// test set.
func comparable(labels map[string]string) map[string]string {
	out := maps.Clone(labels)
	delete(out, istio.LabelNamespaceName)
	delete(out, "gitops-test")
	return out
}

// checkAppliedFields: kubectl's server-side apply owns the enrollment label
// and the annotations of the Namespace patch, and nothing else.
func checkAppliedFields(t *testing.T, ns *corev1.Namespace) {
	t.Helper()
	for _, mf := range ns.ManagedFields {
		if mf.Manager != "kubectl" || mf.Operation != metav1.ManagedFieldsOperationApply {
			continue
		}
		fields := mf.FieldsV1.GetRawString()
		for _, want := range []string{`"f:istio.io/use-waypoint"`, `"f:argocd.argoproj.io/sync-options"`, `"f:kustomize.toolkit.fluxcd.io/prune"`} {
			if !strings.Contains(fields, want) {
				t.Errorf("namespace %s: kubectl's applied fields %s lack %s", ns.Name, fields, want)
			}
		}
		for _, not := range []string{`"f:team"`, `"f:spec"`, `"f:gitops-test"`} {
			if strings.Contains(fields, not) {
				t.Errorf("namespace %s: kubectl's applied fields %s claim %s", ns.Name, fields, not)
			}
		}
		return
	}
	t.Errorf("namespace %s: no field manager kubectl with operation Apply in %v", ns.Name, ns.ManagedFields)
}
