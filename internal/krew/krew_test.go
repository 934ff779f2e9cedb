package krew

import (
	"archive/tar"
	"bytes"
	"compress/gzip"
	"crypto/sha256"
	"encoding/hex"
	"os"
	"path/filepath"
	"strings"
	"testing"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"sigs.k8s.io/yaml"
)

func TestValidManifest(t *testing.T) {
	m, err := ValidateFile("testdata/waypoint.yaml")
	if err != nil {
		t.Fatal(err)
	}
	if got := m.Matching(2); len(got) != 1 || got[0] != "darwin/arm64" {
		t.Errorf("platform 2 matches %v, want [darwin/arm64]", got)
	}
}

// TestRules breaks one rule at a time in the valid manifest.
func TestRules(t *testing.T) {
	valid, err := os.ReadFile("testdata/waypoint.yaml")
	if err != nil {
		t.Fatal(err)
	}
	cases := []struct {
		name, old, new, want string
	}{
		{"api version", "v1alpha2", "v1alpha1", "apiVersion"},
		{"kind", "kind: Plugin", "kind: Plugins", "kind"},
		{"unsafe name", "name: waypoint", "name: way/point", "must match"},
		{"windows name", "name: waypoint", "name: aux", "reserved"},
		{"kubectl- prefix", "name: waypoint", "name: kubectl-waypoint", "must not start with kubectl-"},
		{"no short description", "shortDescription: Manage Istio ambient waypoint proxies and enrollment", "shortDescription: ''", "shortDescription is empty"},
		{"two-line short description", "shortDescription: Manage Istio ambient waypoint proxies and enrollment", `shortDescription: "a\nb"`, "one line"},
		{"no description", "  description: |\n    Generates, applies, lists, checks and deletes Istio ambient waypoints.\n", "", "description is empty"},
		{"version without v", "version: v0.1.0", "version: 0.1.0", "must start with v"},
		{"version not semantic", "version: v0.1.0", "version: v0.1", "not a semantic version"},
		{"homepage http", "homepage: https://", "homepage: http://", "https URL"},
		{"unknown field", "caveats: |", "caveat: |", "unknown field"},
		{"sha256 short", "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa2", "abc", "sha256"},
		{"sha256 upper case", "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa2", "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaA", "sha256"},
		{"no bin", "  - bin: kubectl-waypoint\n    sha256: aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa2", "  - bin: ''\n    sha256: aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa2", "bin is empty"},
		{"windows bin without .exe", "bin: kubectl-waypoint.exe", "bin: kubectl-waypoint", "must end in .exe"},
		{"uri not https", "uri: https://github.com/kubectl-waypoint/kubectl-waypoint/releases/download/v0.1.0/kubectl-waypoint_linux_amd64.tar.gz", "uri: ftp://x/y.tar.gz", "https URL"},
		{"selector key", "        os: linux\n", "        os: linux\n        libc: glibc\n", "only os and arch"},
		{"selector empty", "    selector:\n      matchLabels:\n        os: linux\n        arch: amd64\n", "    selector: {}\n", "selector is empty"},
		{"selector missing", "    selector:\n      matchLabels:\n        os: windows\n        arch: amd64\n", "", "selector is missing"},
		{"selector matches nothing", "os: linux", "os: plan9", "matches none"},
		{"selectors overlap", "        os: linux\n        arch: amd64\n", "        os: darwin\n        arch: arm64\n", "must not overlap"},
		{"no platforms", "  platforms:\n", "  platforms: []\n  unused:\n", ""},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			text := string(valid)
			if !strings.Contains(text, c.old) {
				t.Fatalf("the valid manifest has no %q", c.old)
			}
			text = strings.Replace(text, c.old, c.new, 1)
			m, err := Parse([]byte(text))
			if err == nil {
				err = m.Validate()
			}
			if err == nil {
				t.Fatalf("accepted:\n%s", text)
			}
			if !strings.Contains(err.Error(), c.want) {
				t.Errorf("error %q, want it to say %q", err, c.want)
			}
		})
	}
}

func TestFileName(t *testing.T) {
	data, err := os.ReadFile("testdata/waypoint.yaml")
	if err != nil {
		t.Fatal(err)
	}
	file := filepath.Join(t.TempDir(), "other.yaml")
	if err := os.WriteFile(file, data, 0o644); err != nil {
		t.Fatal(err)
	}
	if _, err := ValidateFile(file); err == nil || !strings.Contains(err.Error(), "named after the plugin") {
		t.Errorf("got %v, want a complaint about the file name", err)
	}
}

func TestCheckArchive(t *testing.T) {
	archive := func(names ...string) ([]byte, string) {
		var buf bytes.Buffer
		gz := gzip.NewWriter(&buf)
		tw := tar.NewWriter(gz)
		for _, n := range names {
			_ = tw.WriteHeader(&tar.Header{Name: n, Mode: 0o755, Size: 1})
			_, _ = tw.Write([]byte("x"))
		}
		_ = tw.Close()
		_ = gz.Close()
		sum := sha256.Sum256(buf.Bytes())
		return buf.Bytes(), hex.EncodeToString(sum[:])
	}
	dir := t.TempDir()
	cases := []struct {
		name  string
		files []string
		sum   string
		want  string
	}{
		{"complete", []string{"kubectl-waypoint", "LICENSE", "kubectl_complete-waypoint"}, "", ""},
		{"no license", []string{"kubectl-waypoint"}, "", "no license"},
		{"no bin", []string{"LICENSE"}, "", "holds no kubectl-waypoint"},
		{"wrong sum", []string{"kubectl-waypoint", "LICENSE"}, strings.Repeat("0", 64), "sha256 is"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			data, sum := archive(c.files...)
			if c.sum != "" {
				sum = c.sum
			}
			file := filepath.Join(dir, c.name+".tar.gz")
			if err := os.WriteFile(file, data, 0o644); err != nil {
				t.Fatal(err)
			}
			err := Platform{Bin: "kubectl-waypoint", Sha256: sum}.CheckArchive(file)
			switch {
			case c.want == "" && err != nil:
				t.Fatal(err)
			case c.want != "" && (err == nil || !strings.Contains(err.Error(), c.want)):
				t.Fatalf("got %v, want %q", err, c.want)
			}
		})
	}
}

// TestGoreleaserKrews renders the manifest that the krews section of
// .goreleaser.yaml produces, with stand-in checksums, one platform per
// build target as goreleaser writes them, and validates it: the fields we
// write by hand must pass krew's rules before a release is cut.
func TestGoreleaserKrews(t *testing.T) {
	data, err := os.ReadFile("../../.goreleaser.yaml")
	if err != nil {
		t.Fatal(err)
	}
	var cfg struct {
		Builds []struct {
			ID     string   `json:"id"`
			Binary string   `json:"binary"`
			Goos   []string `json:"goos"`
			Goarch []string `json:"goarch"`
		} `json:"builds"`
		Archives []struct {
			NameTemplate string `json:"name_template"`
			Files        []any  `json:"files"`
		} `json:"archives"`
		Krews []struct {
			Name             string   `json:"name"`
			IDs              []string `json:"ids"`
			Homepage         string   `json:"homepage"`
			ShortDescription string   `json:"short_description"`
			Description      string   `json:"description"`
			Caveats          string   `json:"caveats"`
		} `json:"krews"`
	}
	if err := yaml.Unmarshal(data, &cfg); err != nil {
		t.Fatal(err)
	}
	if len(cfg.Krews) != 1 || len(cfg.Builds) != 1 || len(cfg.Archives) != 1 {
		t.Fatalf("want one build, one archive and one krew manifest, got %d, %d, %d", len(cfg.Builds), len(cfg.Archives), len(cfg.Krews))
	}
	k, b := cfg.Krews[0], cfg.Builds[0]
	if !strings.Contains(k.Caveats, "kubectl_complete-waypoint") {
		t.Errorf("the caveats do not say how to install the completion shim:\n%s", k.Caveats)
	}
	if !strings.Contains(string(data), "LICENSE") {
		t.Errorf("the archives do not include LICENSE, which the krew index requires")
	}
	m := Manifest{APIVersion: APIVersion, Kind: Kind}
	m.Metadata.Name = k.Name
	m.Spec = Spec{Version: "v0.1.0", Homepage: k.Homepage, ShortDescription: k.ShortDescription, Description: k.Description, Caveats: k.Caveats}
	for _, goos := range b.Goos {
		for _, goarch := range b.Goarch {
			bin := b.Binary
			if goos == "windows" {
				bin += ".exe" // goreleaser's naming of windows binaries
			}
			m.Spec.Platforms = append(m.Spec.Platforms, Platform{
				URI:      "https://github.com/kubectl-waypoint/kubectl-waypoint/releases/download/v0.1.0/kubectl-waypoint_" + goos + "_" + goarch + ".tar.gz",
				Sha256:   strings.Repeat("a", 64),
				Bin:      bin,
				Selector: &metav1.LabelSelector{MatchLabels: map[string]string{"os": goos, "arch": goarch}},
			})
		}
	}
	if err := m.Validate(); err != nil {
		t.Fatal(err)
	}
	for _, sys := range []string{"linux/amd64", "linux/arm64", "darwin/amd64", "darwin/arm64", "windows/amd64"} {
		found := false
		for i := range m.Spec.Platforms {
			for _, s := range m.Matching(i) {
				found = found || s == sys
			}
		}
		if !found {
			t.Errorf("no platform for %s", sys)
		}
	}
}
