package cli

import (
	"bytes"
	"context"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"sigs.k8s.io/yaml"

	"github.com/kubectl-waypoint/kubectl-waypoint/internal/testenv"
)

var crdResource = schema.GroupVersionResource{Group: "apiextensions.k8s.io", Version: "v1", Resource: "customresourcedefinitions"}

// matrixPins are the older versions users run, next to the current ones
// of hack/tools/go.mod that every other test uses: each is a folder of
// hack/tools whose go.mod pins them (see hack/controlplane.sh).
var matrixPins = []struct {
	pins string
	// check proves the control plane runs the pinned version.
	check func(t *testing.T, e *testenv.Env)
}{
	{"k8s-1.34", func(t *testing.T, e *testenv.Env) {
		v, err := e.Kube.Discovery().ServerVersion()
		if err != nil {
			t.Fatal(err)
		}
		if !strings.HasPrefix(v.GitVersion, "v1.34.") {
			t.Fatalf("the API server is %s, want v1.34.x", v.GitVersion)
		}
	}},
	{"gateway-api-1.2", func(t *testing.T, e *testenv.Env) {
		crd, err := e.Dynamic.Resource(crdResource).Get(context.Background(), "gateways.gateway.networking.k8s.io", metav1.GetOptions{})
		if err != nil {
			t.Fatal(err)
		}
		if v := crd.GetAnnotations()["gateway.networking.k8s.io/bundle-version"]; v != "v1.2.0" {
			t.Fatalf("the Gateway CRD is of Gateway API %q, want v1.2.0", v)
		}
	}},
}

// TestVersionMatrix runs the golden cases of generate and apply, and the
// seeds' walkthrough (hack/demo.sh), against each older version of
// matrixPins: Kubernetes v1.34 (the oldest minor upstream supports) and the
// Gateway API v1.2.0 standard CRDs that the Istio docs' seeds install. Both
// are judged by the API server: the golden cases compare what apply left
// with what kubectl left, and the walkthrough reads the cluster with the
// control plane's kubectl after its steps and after its clean-up.
func TestVersionMatrix(t *testing.T) {
	bin := pluginBinDir(t)
	for _, m := range matrixPins {
		t.Run(m.pins, func(t *testing.T) {
			t.Parallel()
			t.Run("golden cases", func(t *testing.T) {
				e, err := testenv.StartWithOptions(testenv.Options{Pins: m.pins})
				if err != nil {
					t.Fatal(err)
				}
				t.Cleanup(func() {
					if err := e.Stop(); err != nil {
						t.Error(err)
					}
				})
				m.check(t, e)
				matrixGoldenCases(t, e)
			})
			t.Run("walkthrough", func(t *testing.T) {
				ctx, cancel := context.WithTimeout(context.Background(), 10*time.Minute)
				defer cancel()
				cmd := exec.CommandContext(ctx, "bash", filepath.Join("..", "..", "hack", "demo.sh"))
				// A port and a TMPDIR (the sandbox binary, the kubeconfig)
				// of its own: the walkthroughs of the matrix run at once.
				cmd.Env = append(os.Environ(), "CONTROLPLANE_PINS="+m.pins, "DEMO_BIN_DIR="+bin, "NO_COLOR=1",
					"DEMO_ADDR="+freeAddr(t), "TMPDIR="+t.TempDir())
				var out bytes.Buffer
				cmd.Stdout, cmd.Stderr = &out, &out
				if err := cmd.Run(); err != nil {
					t.Fatalf("hack/demo.sh with CONTROLPLANE_PINS=%s: %v\n%s", m.pins, err, out.String())
				}
				if !strings.Contains(out.String(), "demo: every step passed") {
					t.Errorf("the walkthrough did not finish:\n%s", out.String())
				}
				// demo.sh judges its steps by reading the cluster with
				// the control plane's kubectl (its checks); every one
				// must have run, none skipped with a section.
				if want, got := demoChecks(t), strings.Count(out.String(), "(the cluster holds what was expected)"); got != want {
					t.Errorf("%d of the %d checks of the cluster in hack/demo.sh ran:\n%s", got, want, out.String())
				}
			})
		})
	}
}

// matrixGoldenCases applies every golden file of generate verbatim with the
// control plane's own kubectl (server-side), runs apply with the flags of
// every generate case in a namespace of its own, against e, and compares
// the two Gateways in the API server (labels, annotations, spec).
func matrixGoldenCases(t *testing.T, e *testenv.Env) {
	dir := filepath.Join(goldenDir, "generate")
	ctx := context.Background()
	for _, ns := range []string{"common-infrastructure"} {
		if _, err := e.Kube.CoreV1().Namespaces().Create(ctx, &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: ns}}, metav1.CreateOptions{}); err != nil {
			t.Fatal(err)
		}
	}
	applied := 0
	for _, tc := range generateCases {
		file := filepath.Join(dir, tc.name+".yaml")
		if strings.Contains(strings.Join(tc.args, " "), "-o json") {
			file = filepath.Join(dir, tc.name+".json")
		}
		data, err := os.ReadFile(file)
		if err != nil {
			t.Fatal(err)
		}
		var meta metav1.PartialObjectMetadata
		if err := yaml.Unmarshal(data, &meta); err != nil {
			t.Fatalf("%s: %v", file, err)
		}
		ns := e.Namespace(t, nil)
		args := []string{"--kubeconfig", e.Kubeconfig, "apply", "--server-side", "--field-manager", "matrix-test", "-f", "-"}
		if meta.Namespace == "" {
			args = append(args, "-n", ns)
			meta.Namespace = ns
		}
		cmd := exec.Command(e.KubectlPath, args...)
		cmd.Stdin = bytes.NewReader(data)
		out, err := cmd.CombinedOutput()
		if err != nil || !strings.Contains(string(out), "gateway.gateway.networking.k8s.io/"+meta.Name+" serverside-applied") {
			t.Errorf("kubectl apply --server-side -f %s: %v\n%s", filepath.Base(file), err, out)
			continue
		}
		applied++

		want, err := e.Gateway.GatewayV1().Gateways(meta.Namespace).Get(ctx, meta.Name, metav1.GetOptions{})
		if err != nil {
			t.Errorf("%s applied, but not in the API server: %v", filepath.Base(file), err)
			continue
		}

		// The tool's own apply with the same flags, in a namespace of its
		// own: the API server then holds the same Gateway.
		ours := e.Namespace(t, nil)
		toolArgs, found := withNamespace(tc.args, ours)
		if !found {
			toolArgs = append(toolArgs, "-n", ours)
		}
		stdout, stderr, code := run(t, false, append(append([]string{"apply"}, toolArgs...), "--kubeconfig", e.Kubeconfig)...)
		if code != 0 {
			t.Errorf("apply %s: exit %d\nstdout:\n%s\nstderr:\n%s", strings.Join(toolArgs, " "), code, stdout, stderr)
			continue
		}
		got, err := e.Gateway.GatewayV1().Gateways(ours).Get(ctx, meta.Name, metav1.GetOptions{})
		if err != nil {
			t.Errorf("apply %s: %v", strings.Join(toolArgs, " "), err)
			continue
		}
		if !sameUserContent(got, want) {
			t.Errorf("apply %s left in the API server\nlabels %v annotations %v spec %+v\nkubectl apply of %s left\nlabels %v annotations %v spec %+v",
				strings.Join(toolArgs, " "), got.Labels, got.Annotations, got.Spec, filepath.Base(file), want.Labels, want.Annotations, want.Spec)
		}
	}
	if applied != len(generateCases) {
		t.Errorf("%d of %d golden files applied", applied, len(generateCases))
	}
}

// demoChecks counts the checks of the cluster in hack/demo.sh: the lines
// that call check.
func demoChecks(t *testing.T) int {
	t.Helper()
	script, err := os.ReadFile(filepath.Join("..", "..", "hack", "demo.sh"))
	if err != nil {
		t.Fatal(err)
	}
	n := 0
	for _, line := range strings.Split(string(script), "\n") {
		if strings.HasPrefix(strings.TrimSpace(line), "check ") {
			n++
		}
	}
	return n
}

// freeAddr is a loopback address with a port free at the time of the call.
func freeAddr(t *testing.T) string {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	return l.Addr().String()
}
