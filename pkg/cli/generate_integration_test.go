package cli

import (
	"bytes"
	"context"
	"os"
	"os/exec"
	"path/filepath"
	"reflect"
	"strings"
	"testing"

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	gatewayv1 "sigs.k8s.io/gateway-api/apis/v1"
	"sigs.k8s.io/yaml"
)

// kubectlApply runs the real kubectl as `kubectl apply --server-side -f -`
// with stdin, plus args, against the test API server.
func kubectlApply(t *testing.T, stdin []byte, args ...string) (stdout, stderr string, err error) {
	t.Helper()
	args = append([]string{"--kubeconfig", env.Kubeconfig, "apply", "--server-side",
		"--field-manager", "generate-integration-test", "-f", "-"}, args...)
	cmd := exec.Command(env.KubectlPath, args...)
	cmd.Stdin = bytes.NewReader(stdin)
	var out, errOut bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &errOut
	err = cmd.Run()
	return out.String(), errOut.String(), err
}

// withNamespace returns args with the value of -n/--namespace replaced by ns,
// and whether args named a namespace at all.
func withNamespace(args []string, ns string) ([]string, bool) {
	out := append([]string(nil), args...)
	found := false
	for i := 0; i < len(out); i++ {
		switch a := out[i]; {
		case (a == "-n" || a == "--namespace") && i+1 < len(out):
			out[i+1] = ns
			found = true
			i++
		case strings.HasPrefix(a, "-n=") || strings.HasPrefix(a, "--namespace="):
			name, _, _ := strings.Cut(a, "=")
			out[i] = name + "=" + ns
			found = true
		}
	}
	return out, found
}

// ensureNamespace creates namespace ns unless it exists, and deletes it when
// the test ends if it created it.
func ensureNamespace(t *testing.T, ns string) {
	t.Helper()
	_, err := env.Kube.CoreV1().Namespaces().Create(context.Background(),
		&corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: ns}}, metav1.CreateOptions{})
	switch {
	case apierrors.IsAlreadyExists(err):
	case err != nil:
		t.Fatalf("creating namespace %s: %v", ns, err)
	default:
		t.Cleanup(func() {
			if err := env.DeleteNamespace(ns); err != nil {
				t.Errorf("deleting namespace %s: %v", ns, err)
			}
		})
	}
}

// TestGenerateGoldenAppliesToServer feeds what generate prints to a real API
// server with `kubectl apply --server-side`: the Gateway CRD's schema and CEL
// rules must accept every golden file, verbatim, and the server must store
// what each case of generateCases renders for a namespace of the test.
func TestGenerateGoldenAppliesToServer(t *testing.T) {
	dir := filepath.Join(goldenDir, "generate")
	entries, err := os.ReadDir(dir)
	if err != nil {
		t.Fatal(err)
	}
	cases := map[string][]string{}
	for _, tc := range generateCases {
		cases[tc.name] = tc.args
	}
	// Each golden file, parsed enough to know its name and namespace.
	var files []string
	metas := map[string]metav1.PartialObjectMetadata{}
	for _, e := range entries {
		ext := filepath.Ext(e.Name())
		if e.IsDir() || (ext != ".yaml" && ext != ".json") {
			continue
		}
		data, err := os.ReadFile(filepath.Join(dir, e.Name()))
		if err != nil {
			t.Fatal(err)
		}
		var meta metav1.PartialObjectMetadata
		if err := yaml.Unmarshal(data, &meta); err != nil {
			t.Fatalf("%s does not parse: %v", e.Name(), err)
		}
		files = append(files, e.Name())
		metas[e.Name()] = meta
	}
	if len(files) != len(generateCases) {
		t.Errorf("%d golden files in %s for %d cases of generateCases: stale or missing files?", len(files), dir, len(generateCases))
	}
	// The fixed namespaces of the golden files (default,
	// common-infrastructure) must exist for the server to take them; those
	// this test creates go when it ends.
	for _, meta := range metas {
		if meta.Namespace != "" {
			ensureNamespace(t, meta.Namespace)
		}
	}

	for _, file := range files {
		name := strings.TrimSuffix(file, filepath.Ext(file))
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			ns := env.Namespace(t, nil)

			t.Run("golden file verbatim", func(t *testing.T) {
				data, err := os.ReadFile(filepath.Join(dir, file))
				if err != nil {
					t.Fatal(err)
				}
				meta := metas[file]
				// The exact bytes, checked by the server and not stored: the
				// fixed namespaces are shared by every subtest.
				args := []string{"--dry-run=server"}
				if meta.Namespace == "" {
					args = append(args, "-n", ns)
				}
				stdout, stderr, err := kubectlApply(t, data, args...)
				if err != nil {
					t.Fatalf("the server refuses %s: %v\n%s%s", file, err, stdout, stderr)
				}
				if want := "gateway.gateway.networking.k8s.io/" + meta.Name + " serverside-applied (server dry run)"; !strings.Contains(stdout, want) {
					t.Errorf("stdout %q lacks %q", stdout, want)
				}
			})

			args, ok := cases[name]
			if !ok {
				t.Fatalf("no case of generateCases produces %s: remove the stale file", file)
			}
			t.Run("generated into the test namespace", func(t *testing.T) {
				args, _ := withNamespace(args, ns)
				out, stderr, code := run(t, false, append([]string{"generate"}, args...)...)
				if code != 0 {
					t.Fatalf("generate exit %d: %s", code, stderr)
				}
				var want gatewayv1.Gateway
				if err := yaml.Unmarshal([]byte(out), &want); err != nil {
					t.Fatal(err)
				}
				// Without -n the Gateway names no namespace: kubectl puts it in ns.
				stdout, stderr, err := kubectlApply(t, []byte(out), "-n", ns)
				if err != nil {
					t.Fatalf("the server refuses:\n%s\n%v\n%s%s", out, err, stdout, stderr)
				}
				got, err := env.Gateway.GatewayV1().Gateways(ns).Get(context.Background(), want.Name, metav1.GetOptions{})
				if err != nil {
					t.Fatal(err)
				}
				if !reflect.DeepEqual(got.Labels, want.Labels) {
					t.Errorf("stored labels %v, generated %v", got.Labels, want.Labels)
				}
				if got.Spec.GatewayClassName != want.Spec.GatewayClassName || len(got.Spec.Listeners) != len(want.Spec.Listeners) {
					t.Fatalf("stored spec %+v, generated %+v", got.Spec, want.Spec)
				}
				for i, l := range want.Spec.Listeners {
					g := got.Spec.Listeners[i]
					if g.Name != l.Name || g.Port != l.Port || g.Protocol != l.Protocol {
						t.Errorf("stored listener %+v, generated %+v", g, l)
					}
					// The server defaults allowedRoutes; what we set must stay.
					if l.AllowedRoutes != nil && !reflect.DeepEqual(g.AllowedRoutes.Namespaces, l.AllowedRoutes.Namespaces) {
						t.Errorf("stored allowedRoutes.namespaces %+v, generated %+v", g.AllowedRoutes.Namespaces, l.AllowedRoutes.Namespaces)
					}
				}
			})
		})
	}
}

// TestGatewayServerValidates makes sure the acceptance above means something:
// the server does refuse a Gateway its schema or CEL rules reject.
func TestGatewayServerValidates(t *testing.T) {
	ns := env.Namespace(t, nil)
	out, _, code := run(t, false, "generate", "-n", ns)
	if code != 0 {
		t.Fatalf("generate exit %d", code)
	}
	cases := []struct {
		name   string
		mutate func(*gatewayv1.Gateway)
		want   string
	}{
		{"listener port 0 (schema)", func(gw *gatewayv1.Gateway) {
			gw.Spec.Listeners[0].Port = 0
		}, "spec.listeners[0].port"},
		{"two listeners on the same port and protocol (CEL)", func(gw *gatewayv1.Gateway) {
			second := gw.Spec.Listeners[0]
			second.Name = "mesh-again"
			gw.Spec.Listeners = append(gw.Spec.Listeners, second)
		}, "Combination of port, protocol and hostname must be unique"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			var gw gatewayv1.Gateway
			if err := yaml.Unmarshal([]byte(out), &gw); err != nil {
				t.Fatal(err)
			}
			tc.mutate(&gw)
			data, err := yaml.Marshal(&gw)
			if err != nil {
				t.Fatal(err)
			}
			stdout, stderr, err := kubectlApply(t, data)
			if err == nil {
				t.Fatalf("the server accepted:\n%s\n%s", data, stdout)
			}
			if !strings.Contains(stderr, tc.want) {
				t.Errorf("stderr %q lacks %q", stderr, tc.want)
			}
			if _, err := env.Gateway.GatewayV1().Gateways(ns).Get(context.Background(), gw.Name, metav1.GetOptions{}); !apierrors.IsNotFound(err) {
				t.Errorf("the refused Gateway was stored: %v", err)
			}
		})
	}
}
