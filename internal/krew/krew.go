// Package krew checks a krew plugin manifest by the rules krew and its index
// apply before they accept one: the fields krew reads, a semantic version,
// and platforms whose selectors, checksums and binaries are usable.
package krew

import (
	"archive/tar"
	"archive/zip"
	"bytes"
	"compress/gzip"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"net/url"
	"os"
	"path"
	"path/filepath"
	"regexp"
	"strings"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/labels"
	"k8s.io/apimachinery/pkg/util/version"
	"sigs.k8s.io/yaml"
)

// APIVersion and Kind are those of every krew plugin manifest.
const (
	APIVersion = "krew.googlecontainertools.github.com/v1alpha2"
	Kind       = "Plugin"
)

// Manifest is a krew plugin manifest, with the fields krew knows.
type Manifest struct {
	APIVersion string `json:"apiVersion"`
	Kind       string `json:"kind"`
	Metadata   struct {
		Name string `json:"name"`
	} `json:"metadata"`
	Spec Spec `json:"spec"`
}

// Spec is the spec of a plugin manifest.
type Spec struct {
	Version          string     `json:"version"`
	Homepage         string     `json:"homepage,omitempty"`
	ShortDescription string     `json:"shortDescription"`
	Description      string     `json:"description,omitempty"`
	Caveats          string     `json:"caveats,omitempty"`
	Platforms        []Platform `json:"platforms"`
}

// Platform is one archive of a plugin and the systems it is for.
type Platform struct {
	URI      string                `json:"uri"`
	Sha256   string                `json:"sha256"`
	Bin      string                `json:"bin"`
	Files    []File                `json:"files,omitempty"`
	Selector *metav1.LabelSelector `json:"selector"`
}

// File is a file operation of a platform: what to copy from the archive.
type File struct {
	From string `json:"from"`
	To   string `json:"to"`
}

// Systems are the os/arch pairs krew installs on, as "os/arch".
var Systems = []string{"darwin/amd64", "darwin/arm64", "linux/amd64", "linux/arm", "linux/arm64", "linux/ppc64le", "windows/amd64", "windows/arm64"}

var (
	safeName = regexp.MustCompile(`^[\w-]+$`)
	sha256Re = regexp.MustCompile(`^[a-f0-9]{64}$`)
	// Device names Windows forbids as file names.
	windowsReserved = []string{"CON", "PRN", "AUX", "NUL", "COM1", "COM2", "COM3", "COM4", "COM5", "COM6", "COM7", "COM8", "COM9", "LPT1", "LPT2", "LPT3", "LPT4", "LPT5", "LPT6", "LPT7", "LPT8", "LPT9"}
)

// Parse decodes a manifest strictly: a field krew does not know is an error.
func Parse(data []byte) (*Manifest, error) {
	var m Manifest
	if err := yaml.UnmarshalStrict(data, &m); err != nil {
		return nil, fmt.Errorf("decode manifest: %w", err)
	}
	return &m, nil
}

// ValidateFile parses and validates the manifest at file, whose base name
// must be the plugin's name followed by ".yaml".
func ValidateFile(file string) (*Manifest, error) {
	data, err := os.ReadFile(file)
	if err != nil {
		return nil, err
	}
	m, err := Parse(data)
	if err != nil {
		return nil, err
	}
	base := filepath.Base(file)
	if filepath.Ext(base) != ".yaml" {
		return nil, fmt.Errorf("manifest file %s must end in .yaml", base)
	}
	if want := strings.TrimSuffix(base, ".yaml"); m.Metadata.Name != want {
		return nil, fmt.Errorf("manifest file %s holds plugin %q: the file must be named after the plugin", base, m.Metadata.Name)
	}
	return m, m.Validate()
}

// Validate checks the manifest by krew's rules.
func (m *Manifest) Validate() error {
	if m.APIVersion != APIVersion {
		return fmt.Errorf("apiVersion is %q, want %q", m.APIVersion, APIVersion)
	}
	if m.Kind != Kind {
		return fmt.Errorf("kind is %q, want %q", m.Kind, Kind)
	}
	name := m.Metadata.Name
	if !safeName.MatchString(name) {
		return fmt.Errorf("plugin name %q must match %s", name, safeName)
	}
	for _, r := range windowsReserved {
		if strings.EqualFold(name, r) {
			return fmt.Errorf("plugin name %q is a reserved file name on Windows", name)
		}
	}
	if strings.HasPrefix(name, "kubectl-") {
		return fmt.Errorf("plugin name %q must not start with kubectl-: krew adds it", name)
	}
	s := m.Spec
	if s.ShortDescription == "" {
		return errors.New("spec.shortDescription is empty")
	}
	if strings.ContainsAny(s.ShortDescription, "\r\n") {
		return errors.New("spec.shortDescription must be one line")
	}
	if s.Description == "" {
		return errors.New("spec.description is empty: the index asks for one")
	}
	if s.Homepage != "" {
		if u, err := url.Parse(s.Homepage); err != nil || u.Scheme != "https" {
			return fmt.Errorf("spec.homepage %q must be an https URL", s.Homepage)
		}
	}
	if !strings.HasPrefix(s.Version, "v") {
		return fmt.Errorf("spec.version %q must start with v", s.Version)
	}
	if _, err := version.ParseSemantic(s.Version); err != nil {
		return fmt.Errorf("spec.version %q is not a semantic version: %w", s.Version, err)
	}
	if len(s.Platforms) == 0 {
		return errors.New("spec.platforms is empty")
	}
	for i, p := range s.Platforms {
		if err := p.validate(); err != nil {
			return fmt.Errorf("spec.platforms[%d]: %w", i, err)
		}
	}
	return m.checkSelectors()
}

func (p Platform) validate() error {
	if p.URI == "" {
		return errors.New("uri is empty")
	}
	if u, err := url.Parse(p.URI); err != nil || u.Scheme != "https" {
		return fmt.Errorf("uri %q must be an https URL", p.URI)
	}
	if !sha256Re.MatchString(p.Sha256) {
		return fmt.Errorf("sha256 %q must match %s", p.Sha256, sha256Re)
	}
	if p.Bin == "" {
		return errors.New("bin is empty")
	}
	if p.Files != nil && len(p.Files) == 0 {
		return errors.New("files must be left out or not empty")
	}
	for _, f := range p.Files {
		if f.From == "" || f.To == "" {
			return errors.New("files need both from and to")
		}
	}
	sel := p.Selector
	if sel == nil {
		return errors.New("selector is missing")
	}
	if len(sel.MatchLabels) == 0 && len(sel.MatchExpressions) == 0 {
		return errors.New("selector is empty")
	}
	for k := range sel.MatchLabels {
		if k != "os" && k != "arch" {
			return fmt.Errorf("selector key %q: only os and arch are supported", k)
		}
	}
	for _, e := range sel.MatchExpressions {
		if e.Key != "os" && e.Key != "arch" {
			return fmt.Errorf("selector key %q: only os and arch are supported", e.Key)
		}
	}
	if _, err := metav1.LabelSelectorAsSelector(sel); err != nil {
		return fmt.Errorf("selector: %w", err)
	}
	return nil
}

// checkSelectors requires each platform to match some system krew runs on,
// no system to be matched twice, and windows binaries to end in .exe.
func (m *Manifest) checkSelectors() error {
	for i, p := range m.Spec.Platforms {
		matched := m.Matching(i)
		if len(matched) == 0 {
			return fmt.Errorf("spec.platforms[%d]: its selector matches none of %v", i, Systems)
		}
		for _, sys := range matched {
			if strings.HasPrefix(sys, "windows/") && !strings.HasSuffix(p.Bin, ".exe") {
				return fmt.Errorf("spec.platforms[%d]: bin %q for %s must end in .exe", i, p.Bin, sys)
			}
		}
	}
	for _, sys := range Systems {
		var at []int
		for i := range m.Spec.Platforms {
			for _, s := range m.Matching(i) {
				if s == sys {
					at = append(at, i)
				}
			}
		}
		if len(at) > 1 {
			return fmt.Errorf("spec.platforms %v all match %s: selectors must not overlap", at, sys)
		}
	}
	return nil
}

// Matching lists the systems the selector of platform i matches.
func (m *Manifest) Matching(i int) []string {
	sel, err := metav1.LabelSelectorAsSelector(m.Spec.Platforms[i].Selector)
	if err != nil {
		return nil
	}
	var out []string
	for _, sys := range Systems {
		goos, arch, _ := strings.Cut(sys, "/")
		if sel.Matches(labels.Set{"os": goos, "arch": arch}) {
			out = append(out, sys)
		}
	}
	return out
}

// CheckArchive checks a local copy of the archive of platform p: its
// checksum, and that it holds p's bin and a license file, which the index
// requires.
func (p Platform) CheckArchive(file string) error {
	data, err := os.ReadFile(file)
	if err != nil {
		return err
	}
	sum := sha256.Sum256(data)
	if got := hex.EncodeToString(sum[:]); got != p.Sha256 {
		return fmt.Errorf("%s: sha256 is %s, the manifest says %s", filepath.Base(file), got, p.Sha256)
	}
	names, err := archiveFiles(file, data)
	if err != nil {
		return err
	}
	var bin, license bool
	for _, n := range names {
		n = path.Clean(n)
		bin = bin || n == path.Clean(p.Bin)
		license = license || strings.HasPrefix(strings.ToUpper(path.Base(n)), "LICENSE")
	}
	if !bin {
		return fmt.Errorf("%s holds no %s", filepath.Base(file), p.Bin)
	}
	if !license {
		return fmt.Errorf("%s holds no license file", filepath.Base(file))
	}
	return nil
}

func archiveFiles(file string, data []byte) ([]string, error) {
	var names []string
	switch {
	case strings.HasSuffix(file, ".zip"):
		z, err := zip.NewReader(bytes.NewReader(data), int64(len(data)))
		if err != nil {
			return nil, err
		}
		for _, f := range z.File {
			names = append(names, f.Name)
		}
	case strings.HasSuffix(file, ".tar.gz"), strings.HasSuffix(file, ".tgz"):
		gz, err := gzip.NewReader(bytes.NewReader(data))
		if err != nil {
			return nil, err
		}
		tr := tar.NewReader(gz)
		for {
			h, err := tr.Next()
			if err == io.EOF {
				break
			}
			if err != nil {
				return nil, err
			}
			names = append(names, h.Name)
		}
	default:
		return nil, fmt.Errorf("%s: krew installs .tar.gz and .zip archives only", filepath.Base(file))
	}
	return names, nil
}
