package cli

import (
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"sigs.k8s.io/yaml"
)

// TestUnitGenerateManyNamespaces: several -n, without a cluster, print one
// Gateway per namespace (sorted, each once) and with --enroll-namespace the
// Namespace patch after each; -o json prints them as a List.
func TestUnitGenerateManyNamespaces(t *testing.T) {
	for _, tc := range []struct {
		golden string
		args   []string
	}{
		{"stream-enroll.yaml", []string{"-n", "payments,bookinfo", "-n", "bookinfo", "--for", "all", "--enroll-namespace"}},
		{"stream.json", []string{"-n", "payments,bookinfo", "-r", "canary", "-o", "json"}},
		{"stream-enroll-one.yaml", []string{"-n", "bookinfo", "--enroll-namespace", "--allow-namespace", "bookinfo,reviews"}},
	} {
		t.Run(tc.golden, func(t *testing.T) {
			args := append([]string{"generate", "--kubeconfig", filepath.Join(t.TempDir(), "none")}, tc.args...)
			var outputs []string
			for _, tty := range []bool{true, false} {
				stdout, stderr, code := run(t, tty, args...)
				if code != 0 || stderr != "" {
					t.Fatalf("tty=%v: exit %d, stderr %q", tty, code, stderr)
				}
				outputs = append(outputs, stdout)
			}
			if outputs[0] != outputs[1] {
				t.Errorf("terminal and pipe output differ:\n%s\n---\n%s", outputs[0], outputs[1])
			}
			golden(t, "gitops", tc.golden, outputs[1])
		})
	}
}

// TestUnitGenerateOutputDir writes the kustomization of two namespaces,
// writes it again (nothing changes), drops a namespace (its file goes),
// and refuses a directory that holds a file of someone else.
func TestUnitGenerateOutputDir(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "waypoints")
	args := []string{"generate", "-n", "payments,bookinfo", "--for", "all", "--enroll-namespace", "--output-dir", dir}
	stdout, stderr, code := run(t, false, args...)
	if code != 0 || stderr != "" {
		t.Fatalf("exit %d, stderr %q", code, stderr)
	}
	want := "file " + filepath.Join(dir, "namespace-bookinfo.yaml") + " written\n" +
		"file " + filepath.Join(dir, "namespace-payments.yaml") + " written\n" +
		"file " + filepath.Join(dir, "kustomization.yaml") + " written\n"
	if stdout != want {
		t.Errorf("stdout:\n%s\nwant:\n%s", stdout, want)
	}
	entries, err := os.ReadDir(dir)
	if err != nil {
		t.Fatal(err)
	}
	if len(entries) != 3 {
		t.Errorf("%d files in %s, want 3", len(entries), dir)
	}
	for _, e := range entries {
		b, err := os.ReadFile(filepath.Join(dir, e.Name()))
		if err != nil {
			t.Fatal(err)
		}
		golden(t, filepath.Join("gitops", "dir"), e.Name(), string(b))
	}

	stdout, _, code = run(t, false, args...)
	if code != 0 || strings.Count(stdout, " unchanged\n") != 3 {
		t.Errorf("second run: exit %d, stdout:\n%s", code, stdout)
	}

	stdout, _, code = run(t, false, "generate", "-n", "bookinfo", "--for", "all", "--enroll-namespace", "--output-dir", dir)
	if code != 0 || !strings.Contains(stdout, "namespace-payments.yaml removed\n") || !strings.Contains(stdout, "kustomization.yaml written\n") {
		t.Errorf("payments left: exit %d, stdout:\n%s", code, stdout)
	}

	if err := os.WriteFile(filepath.Join(dir, "notes.txt"), []byte("mine\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	stdout, stderr, code = run(t, false, args...)
	wantErr := "error: --output-dir " + dir + " holds notes.txt, which generate did not write; nothing was written"
	if code != 2 || stdout != "" || !strings.HasPrefix(stderr, wantErr) {
		t.Errorf("foreign file: exit %d, stdout %q, stderr %q; want exit 2 and %q", code, stdout, stderr, wantErr)
	}
	if _, err := os.Stat(filepath.Join(dir, "namespace-payments.yaml")); err == nil {
		t.Error("a refused run wrote namespace-payments.yaml")
	}
}

// TestUnitGenerateGitOpsUsage: bad combinations are usage errors that
// write nothing and read no cluster.
func TestUnitGenerateGitOpsUsage(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "out")
	for _, tc := range []struct {
		args []string
		want string
	}{
		{[]string{"--enroll-namespace"}, "--enroll-namespace needs the namespaces to enroll: add -n or --namespace-selector"},
		{[]string{"--output-dir", dir}, "--output-dir writes a file per namespace: add -n or --namespace-selector"},
		{[]string{"-n", "a", "--output-dir", dir, "-o", "json"}, "--output-dir writes YAML files: leave out -o json"},
		{[]string{"-n", "a", "--namespace-selector", "team=x"}, "-n and --namespace-selector choose namespaces in two ways: use one"},
		{[]string{"--namespace-selector", "team in x"}, `invalid --namespace-selector "team in x"`},
		{[]string{"-n", "a,B"}, `invalid namespace "B"`},
		{[]string{"-n", "a,b", "--enroll-namespace", "--allow-namespace", "a", "--output-dir", dir}, "--enroll-namespace would enroll namespace b into a waypoint whose --allow-namespace (a) leaves b out"},
	} {
		t.Run(strings.Join(tc.args, " "), func(t *testing.T) {
			args := append([]string{"generate", "--kubeconfig", filepath.Join(t.TempDir(), "none")}, tc.args...)
			stdout, stderr, code := run(t, false, args...)
			if code != 2 || stdout != "" || !strings.Contains(stderr, tc.want) {
				t.Errorf("exit %d, stdout %q, stderr %q; want exit 2 and %q", code, stdout, stderr, tc.want)
			}
			if _, err := os.Stat(dir); err == nil {
				t.Errorf("%s was created", dir)
			}
		})
	}
}

// TestUnitFleetDocGitOps holds the GitOps section of docs/fleet.md to what
// it shows: every YAML block parses and names its kind, the Namespace patch
// is what generate writes, the Argo CD and Flux examples are there (Flux
// without targetNamespace), and every generate command that needs no
// cluster runs.
func TestUnitFleetDocGitOps(t *testing.T) {
	doc, err := os.ReadFile(filepath.Join("..", "..", "docs", "fleet.md"))
	if err != nil {
		t.Fatal(err)
	}
	_, section, ok := strings.Cut("\n"+string(doc), "\n## GitOps\n")
	if !ok {
		t.Fatal("docs/fleet.md has no section ## GitOps")
	}
	section, _, _ = strings.Cut(section, "\n## ")

	kinds := map[string]map[string]any{}
	for _, block := range fencedBlocks(section, "yaml") {
		for _, d := range strings.Split(block, "\n---\n") {
			var obj map[string]any
			if err := yaml.UnmarshalStrict([]byte(d), &obj); err != nil {
				t.Fatalf("a YAML block does not parse: %v\n%s", err, d)
			}
			if obj["apiVersion"] == nil || obj["kind"] == nil {
				t.Errorf("a YAML block names no apiVersion or kind:\n%s", d)
			}
			kinds[fmt.Sprint(obj["apiVersion"], " ", obj["kind"])] = obj
		}
	}
	for _, want := range []string{"v1 Namespace", "argoproj.io/v1alpha1 ApplicationSet", "kustomize.toolkit.fluxcd.io/v1 Kustomization"} {
		if kinds[want] == nil {
			t.Errorf("no %s example in the GitOps section", want)
		}
	}
	if flux := kinds["kustomize.toolkit.fluxcd.io/v1 Kustomization"]; flux != nil {
		if spec, _ := flux["spec"].(map[string]any); spec == nil || spec["targetNamespace"] != nil || spec["prune"] != true {
			t.Errorf("the Flux example must prune and set no targetNamespace: %v", spec)
		}
	}

	ran := 0
	for _, block := range fencedBlocks(section, "sh") {
		for _, line := range strings.Split(block, "\n") {
			line = strings.TrimSpace(line)
			if !strings.HasPrefix(line, "kubectl waypoint generate ") || strings.ContainsAny(line, "$\\") || strings.Contains(line, "--namespace-selector") {
				continue
			}
			cmd, _, _ := strings.Cut(line, " | ")
			args := strings.Fields(strings.TrimPrefix(cmd, "kubectl waypoint "))
			for i, a := range args {
				if a == "--output-dir" && i+1 < len(args) {
					args[i+1] = filepath.Join(t.TempDir(), args[i+1])
				}
			}
			stdout, stderr, code := run(t, false, args...)
			if code != 0 {
				t.Errorf("%s: exit %d, %s", line, code, stderr)
			}
			if strings.Contains(line, "--enroll-namespace") && !strings.Contains(line, "--output-dir") {
				// The patch the doc shows is what generate prints.
				if !strings.Contains(stdout, "---\n"+kindsYAML(t, kinds["v1 Namespace"])) {
					t.Errorf("the doc's Namespace patch is not in what %s prints:\n%s", line, stdout)
				}
			}
			ran++
		}
	}
	if ran < 2 {
		t.Errorf("ran %d generate commands of the GitOps section, want at least 2", ran)
	}
}

// fencedBlocks returns the bodies of the ```lang blocks of a Markdown text.
func fencedBlocks(text, lang string) []string {
	var out []string
	for {
		_, rest, ok := strings.Cut(text, "```"+lang+"\n")
		if !ok {
			return out
		}
		body, after, _ := strings.Cut(rest, "```")
		out = append(out, body)
		text = after
	}
}

func kindsYAML(t *testing.T, obj map[string]any) string {
	t.Helper()
	b, err := yaml.Marshal(obj)
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}
