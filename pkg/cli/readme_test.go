package cli

import (
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"testing"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"

	"github.com/kubectl-waypoint/kubectl-waypoint/pkg/enroll"
)

// TestReadmeTour runs the shell blocks of the README's tour, in order and in
// one shell as a reader pastes them, from the repository's root, against the
// test API server and its istiod (the tour's sandbox). It then removes what
// the tour's fixtures created. Not parallel: the tour uses the fixed
// namespaces of the Istio docs.
func TestReadmeTour(t *testing.T) {
	root, err := filepath.Abs(filepath.Join("..", ".."))
	if err != nil {
		t.Fatal(err)
	}
	doc, err := os.ReadFile(filepath.Join(root, "README.md"))
	if err != nil {
		t.Fatal(err)
	}
	text := string(doc)
	start := strings.Index(text, "\n## A tour\n")
	if start < 0 {
		t.Fatal("README.md has no section \"A tour\"")
	}
	section := text[start+1:]
	if end := strings.Index(section, "\n## "); end >= 0 {
		section = section[:end]
	}
	blocks := regexp.MustCompile("(?s)```sh\n(.*?)```").FindAllStringSubmatch(section, -1)
	if len(blocks) < 5 {
		t.Fatalf("found %d shell blocks in the tour", len(blocks))
	}
	var script strings.Builder
	for _, b := range blocks {
		script.WriteString(b[1])
	}
	for _, want := range []string{"make sandbox-fixtures", "--dry-run=server"} {
		if !strings.Contains(script.String(), want) {
			t.Errorf("the tour does not run %q", want)
		}
	}
	// The dry run comes before the bulk apply it previews.
	if d, a := strings.Index(script.String(), "--dry-run=server"), strings.Index(script.String(), "--for all -o json"); d < 0 || a < 0 || d > a {
		t.Errorf("the bulk example must show --dry-run=server before it applies")
	}

	t.Cleanup(func() { cleanupTour(t) })

	cmd := exec.Command("bash", "-euo", "pipefail", "-c", script.String())
	cmd.Dir = root
	cmd.Env = append(os.Environ(),
		"PATH="+filepath.Dir(env.KubectlPath)+string(os.PathListSeparator)+os.Getenv("PATH"),
		"KUBECONFIG="+env.Kubeconfig, "NO_COLOR=1")
	out, err := cmd.CombinedOutput()
	if err != nil {
		t.Fatalf("the README tour failed: %v\n--- output:\n%s", err, out)
	}
	for _, want := range []string{
		"waypoint default/waypoint applied",
		"waypoint default/waypoint is ready",
		`namespace default labeled with "istio.io/use-waypoint: waypoint"`,
		"waypoint common-infrastructure/egress-gateway applied",
		"reviews-svc-waypoint",
		"configmap default/reviews-svc-waypoint-infrastructure created",
		"for ingress too",
	} {
		if !strings.Contains(string(out), want) {
			t.Errorf("the tour's output lacks %q:\n%s", want, out)
		}
	}
	if strings.Contains(string(out), "Warning: GatewayClass") {
		t.Errorf("the tour warns that Istio is missing:\n%s", out)
	}
	// Its clean-up left nothing of the tour, read from the API server.
	for _, left := range tourLeftovers(t) {
		t.Errorf("the tour's clean-up left %s", left)
	}
}

// tourLeftovers are the waypoints and the enrollment labels left in the
// tour's namespaces, read from the API server.
func tourLeftovers(t *testing.T) []string {
	t.Helper()
	c := context.Background()
	var left []string
	labelled := func(what string, labels map[string]string) {
		for _, k := range []string{"istio.io/use-waypoint", "istio.io/use-waypoint-namespace", "istio.io/ingress-use-waypoint"} {
			if v, ok := labels[k]; ok {
				left = append(left, fmt.Sprintf("%s labelled %s=%s", what, k, v))
			}
		}
	}
	for _, ns := range []string{"default", "common-infrastructure", "cross-namespace-waypoint-consumer", "tour-payments", "tour-orders"} {
		n, err := env.Kube.CoreV1().Namespaces().Get(c, ns, metav1.GetOptions{})
		if err != nil {
			t.Fatal(err)
		}
		labelled("namespace "+ns, n.Labels)
		gws, err := env.Gateway.GatewayV1().Gateways(ns).List(c, metav1.ListOptions{})
		if err != nil {
			t.Fatal(err)
		}
		for _, gw := range gws.Items {
			left = append(left, "gateway "+ns+"/"+gw.Name)
		}
		cms, err := env.Kube.CoreV1().ConfigMaps(ns).List(c, metav1.ListOptions{LabelSelector: "app.kubernetes.io/managed-by=kubectl-waypoint"})
		if err != nil {
			t.Fatal(err)
		}
		for _, cm := range cms.Items {
			left = append(left, "configmap "+ns+"/"+cm.Name)
		}
		svcs, err := env.Kube.CoreV1().Services(ns).List(c, metav1.ListOptions{})
		if err != nil {
			t.Fatal(err)
		}
		for _, s := range svcs.Items {
			labelled("service "+ns+"/"+s.Name, s.Labels)
		}
		pods, err := env.Kube.CoreV1().Pods(ns).List(c, metav1.ListOptions{})
		if err != nil {
			t.Fatal(err)
		}
		for _, p := range pods.Items {
			labelled("pod "+ns+"/"+p.Name, p.Labels)
		}
		ses, err := env.Dynamic.Resource(enroll.ServiceEntryGVR).Namespace(ns).List(c, metav1.ListOptions{})
		if err != nil {
			t.Fatal(err)
		}
		for _, se := range ses.Items {
			labelled("serviceentry "+ns+"/"+se.GetName(), se.GetLabels())
		}
	}
	return left
}

// cleanupTour removes what the tour and its fixtures created.
func cleanupTour(t *testing.T) {
	for _, ns := range []string{"common-infrastructure", "cross-namespace-waypoint-consumer", "tour-payments", "tour-orders"} {
		if err := env.DeleteNamespace(ns); err != nil {
			t.Errorf("deleting namespace %s: %v", ns, err)
		}
	}
	c := context.Background()
	for _, name := range []string{"productpage", "reviews", "ratings"} {
		_ = env.Kube.CoreV1().Services("default").Delete(c, name, metav1.DeleteOptions{})
	}
	for _, name := range []string{"reviews-v1", "reviews-v2"} {
		_ = env.Kube.CoreV1().Pods("default").Delete(c, name, metav1.DeleteOptions{GracePeriodSeconds: new(int64)})
	}
	gws, _ := env.Gateway.GatewayV1().Gateways("default").List(c, metav1.ListOptions{})
	if gws != nil {
		for _, gw := range gws.Items {
			_ = env.Gateway.GatewayV1().Gateways("default").Delete(c, gw.Name, metav1.DeleteOptions{})
		}
	}
	patch := `{"metadata":{"labels":{"istio.io/dataplane-mode":null,"istio.io/use-waypoint":null,"istio.io/use-waypoint-namespace":null}}}`
	if _, err := env.Kube.CoreV1().Namespaces().Patch(c, "default", types.MergePatchType, []byte(patch), metav1.PatchOptions{}); err != nil {
		t.Errorf("unlabelling namespace default: %v", err)
	}
}
