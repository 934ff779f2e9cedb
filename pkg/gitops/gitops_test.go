package gitops

import (
	"bytes"
	"errors"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"

	"sigs.k8s.io/yaml"

	"github.com/kubectl-waypoint/kubectl-waypoint/pkg/render"
)

func manifest(t *testing.T, ns string, enroll bool) Manifest {
	t.Helper()
	gw, err := render.Gateway(render.Request{Namespace: ns, For: "service"})
	if err != nil {
		t.Fatal(err)
	}
	m := Manifest{Namespace: ns, Gateway: gw}
	if enroll {
		m.Enrollment = Enrollment(ns, gw.Name)
	}
	return m
}

// TestEnrollment pins the whole Namespace patch: nothing but the name, the
// label and the annotations that keep GitOps tools from deleting it; no
// spec, status or creationTimestamp that a server-side apply would claim.
func TestEnrollment(t *testing.T) {
	var buf bytes.Buffer
	if err := render.Object(&buf, render.FormatYAML, Enrollment("bookinfo", "waypoint")); err != nil {
		t.Fatal(err)
	}
	want := `apiVersion: v1
kind: Namespace
metadata:
  annotations:
    argocd.argoproj.io/sync-options: Prune=false,Delete=false
    kustomize.toolkit.fluxcd.io/prune: disabled
  labels:
    istio.io/use-waypoint: waypoint
  name: bookinfo
`
	if buf.String() != want {
		t.Errorf("got:\n%s\nwant:\n%s", buf.String(), want)
	}
}

func TestWriteStream(t *testing.T) {
	one := manifest(t, "a", false)
	var single, alone bytes.Buffer
	if err := WriteStream(&single, render.FormatYAML, []Manifest{one}); err != nil {
		t.Fatal(err)
	}
	_ = render.Object(&alone, render.FormatYAML, one.Gateway)
	if single.String() != alone.String() {
		t.Errorf("one Gateway is not printed as render.Object prints it:\n%s\nwant:\n%s", single.String(), alone.String())
	}

	ms := []Manifest{manifest(t, "a", true), manifest(t, "b", false)}
	var stream bytes.Buffer
	if err := WriteStream(&stream, render.FormatYAML, ms); err != nil {
		t.Fatal(err)
	}
	docs := strings.Split(stream.String(), "---\n")
	if len(docs) != 3 {
		t.Fatalf("%d documents, want 3 (Gateway a, Namespace a, Gateway b):\n%s", len(docs), stream.String())
	}
	for i, want := range []string{"kind: Gateway\n", "kind: Namespace\n", "kind: Gateway\n"} {
		if !strings.Contains(docs[i], want) {
			t.Errorf("document %d lacks %q:\n%s", i, want, docs[i])
		}
	}
	if !strings.Contains(docs[2], "namespace: b\n") {
		t.Errorf("third document is not b's Gateway:\n%s", docs[2])
	}

	var js bytes.Buffer
	if err := WriteStream(&js, render.FormatJSON, ms); err != nil {
		t.Fatal(err)
	}
	var l struct {
		APIVersion, Kind string
		Items            []map[string]any
	}
	if err := yaml.Unmarshal(js.Bytes(), &l); err != nil {
		t.Fatal(err)
	}
	if l.APIVersion != "v1" || l.Kind != "List" || len(l.Items) != 3 || l.Items[1]["kind"] != "Namespace" {
		t.Errorf("JSON of several objects is not a v1 List of them:\n%s", js.String())
	}
}

// tree reads every file of dir (a directory in it only by name).
func tree(t *testing.T, dir string) map[string]string {
	t.Helper()
	entries, err := os.ReadDir(dir)
	if err != nil {
		t.Fatal(err)
	}
	out := map[string]string{}
	for _, e := range entries {
		if e.IsDir() {
			out[e.Name()] = "(directory)"
			continue
		}
		b, err := os.ReadFile(filepath.Join(dir, e.Name()))
		if err != nil {
			t.Fatal(err)
		}
		out[e.Name()] = string(b)
	}
	return out
}

func actions(changes []FileChange) string {
	var parts []string
	for _, c := range changes {
		parts = append(parts, filepath.Base(c.Path)+" "+string(c.Action))
	}
	return strings.Join(parts, ", ")
}

func TestWriteDir(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "clusters", "prod")
	ms := []Manifest{manifest(t, "b", true), manifest(t, "a", true)}
	changes, err := WriteDir(dir, ms)
	if err != nil {
		t.Fatal(err)
	}
	if got, want := actions(changes), "namespace-a.yaml written, namespace-b.yaml written, kustomization.yaml written"; got != want {
		t.Errorf("changes: %s, want %s", got, want)
	}
	files := tree(t, dir)
	wantKust := Header + "apiVersion: kustomize.config.k8s.io/v1beta1\nkind: Kustomization\nresources:\n- namespace-a.yaml\n- namespace-b.yaml\n"
	if files[KustomizationFile] != wantKust {
		t.Errorf("kustomization.yaml:\n%s\nwant:\n%s", files[KustomizationFile], wantKust)
	}
	var stream bytes.Buffer
	_ = WriteStream(&stream, render.FormatYAML, ms[1:])
	if files["namespace-a.yaml"] != Header+stream.String() {
		t.Errorf("namespace-a.yaml is not the header and a's stream:\n%s", files["namespace-a.yaml"])
	}

	// Again: nothing to write.
	changes, err = WriteDir(dir, ms)
	if err != nil || actions(changes) != "namespace-a.yaml unchanged, namespace-b.yaml unchanged, kustomization.yaml unchanged" {
		t.Errorf("second run: %s, %v", actions(changes), err)
	}

	// b leaves: its file goes, after the kustomization stopped naming it.
	changes, err = WriteDir(dir, ms[1:])
	if err != nil || actions(changes) != "namespace-a.yaml unchanged, kustomization.yaml written, namespace-b.yaml removed" {
		t.Errorf("b left: %s, %v", actions(changes), err)
	}
	if _, ok := tree(t, dir)["namespace-b.yaml"]; ok {
		t.Error("namespace-b.yaml is still there")
	}

	if _, err := WriteDir(dir, []Manifest{{Gateway: ms[0].Gateway}}); !errors.Is(err, ErrManifestNamespace) {
		t.Errorf("manifest without a namespace: %v", err)
	}
}

// TestWriteDirRefusesForeignFiles: a directory that holds anything generate
// did not write is left exactly as it was.
func TestWriteDirRefusesForeignFiles(t *testing.T) {
	for _, tc := range []struct {
		name  string
		setup func(dir string) error
	}{
		{"README.md", func(dir string) error { return os.WriteFile(filepath.Join(dir, "README.md"), []byte("mine\n"), 0o644) }},
		{"kustomization.yaml", func(dir string) error {
			return os.WriteFile(filepath.Join(dir, "kustomization.yaml"), []byte("resources: [app.yaml]\n"), 0o644)
		}},
		{"namespace-a.yaml", func(dir string) error {
			// Named like ours, without the header: someone's file.
			return os.WriteFile(filepath.Join(dir, "namespace-a.yaml"), []byte("kind: ConfigMap\n"), 0o644)
		}},
		{"namespace-x.yaml", func(dir string) error { return os.Mkdir(filepath.Join(dir, "namespace-x.yaml"), 0o755) }},
	} {
		t.Run(tc.name, func(t *testing.T) {
			dir := t.TempDir()
			if err := tc.setup(dir); err != nil {
				t.Fatal(err)
			}
			before := tree(t, dir)
			_, err := WriteDir(dir, []Manifest{manifest(t, "a", true)})
			var foreign *ForeignFileError
			if !errors.As(err, &foreign) || foreign.Name != tc.name || foreign.Dir != dir {
				t.Fatalf("err = %v, want a ForeignFileError naming %s", err, tc.name)
			}
			if after := tree(t, dir); !reflect.DeepEqual(after, before) {
				t.Errorf("the directory changed:\n%v\nwas:\n%v", after, before)
			}
		})
	}
}
