package docgen

import (
	"fmt"
	"go/ast"
	"go/parser"
	"go/token"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"testing"
)

// TestSupportedVersions holds the "Supported versions" paragraph of the
// README to the versions the tests run: the current ones of
// hack/tools/go.mod, that every integration test uses, and those of each
// folder of TestVersionMatrix's matrixPins (pkg/cli/matrix_integration_test.go),
// whose go.mod pins an older k8s.io/kubernetes or sigs.k8s.io/gateway-api
// and takes the rest from hack/tools (hack/controlplane.sh). A range ("1.34
// to 1.36") claims every minor between, so it fails unless each is run.
func TestSupportedVersions(t *testing.T) {
	root := filepath.Join("..", "..")
	run, err := versionsRun(root)
	if err != nil {
		t.Fatal(err)
	}
	readme, err := os.ReadFile(filepath.Join(root, "README.md"))
	if err != nil {
		t.Fatal(err)
	}
	claim, err := readVersionClaim(string(readme))
	if err != nil {
		t.Fatal(err)
	}
	want := run.claim()
	for _, c := range []struct {
		what        string
		claimed, is []string
	}{
		{"Kubernetes minors", claim.kubernetes, want.kubernetes},
		{"kube-apiserver versions", claim.apiservers, want.apiservers},
		{"Gateway API CRD versions", claim.gatewayAPI, want.gatewayAPI},
		{"Istio CRD minor", claim.istio, want.istio},
		{"Kubernetes minor beside istiod", claim.current, want.current},
		{"pairs of the version matrix", claim.matrix, want.matrix},
	} {
		if !slices.Equal(c.claimed, c.is) {
			t.Errorf("README.md, Supported versions: the %s claimed are %q, but the tests run %q", c.what, c.claimed, c.is)
		}
	}
}

// TestReadVersionClaim pins how the paragraph is read: a range is every
// minor between its ends.
func TestReadVersionClaim(t *testing.T) {
	c, err := readVersionClaim("Supported versions: Kubernetes 1.34 to 1.36 (kube-apiserver v1.34.4 and\nv1.36.3), the Gateway API standard CRDs v1.2.0 (the Istio docs') to v1.6.3, and Istio's v1.31 CRDs; beside Kubernetes 1.36, and (Kubernetes\n1.34 with the Gateway API v1.6.3).\n\nNext paragraph: Kubernetes 1.20.")
	if err != nil {
		t.Fatal(err)
	}
	got := fmt.Sprint(c.kubernetes, c.apiservers, c.gatewayAPI, c.istio, c.current, c.matrix)
	if want := "[1.34 1.35 1.36] [v1.34.4 v1.36.3] [v1.2 v1.3 v1.4 v1.5 v1.6] [1.31] [1.36] [Kubernetes 1.34 with the Gateway API v1.6.3]"; got != want {
		t.Errorf("read %s, want %s", got, want)
	}
}

// versionClaim is what the paragraph says, or what it should say, each
// list sorted.
type versionClaim struct {
	kubernetes []string // minors: 1.34
	apiservers []string // exact: v1.34.4
	gatewayAPI []string // exact (v1.2.0), or minors (v1.2) of a range
	istio      []string // minor of Istio's CRDs: 1.31
	current    []string // the minor istiod runs beside: 1.36
	matrix     []string // "Kubernetes 1.34 with the Gateway API v1.6.3"
}

var (
	claimParagraphRE = regexp.MustCompile(`(?s)Supported versions:.*?(\n\n|$)`)
	claimKubeRE      = regexp.MustCompile(`Kubernetes (\d+\.\d+(?:(?:, | and | to )\d+\.\d+)*) \(kube-apiserver (v[\d.]+(?:(?:, | and )v[\d.]+)*)`)
	claimGatewayRE   = regexp.MustCompile(`Gateway API standard CRDs (v[\d.]+)(?: \([^)]*\))?((?:(?:, | and | to )v[\d.]+)*)`)
	claimIstioRE     = regexp.MustCompile(`Istio's v(\d+\.\d+) CRDs`)
	claimCurrentRE   = regexp.MustCompile(`beside Kubernetes (\d+\.\d+)`)
	claimPairRE      = regexp.MustCompile(`Kubernetes (\d+\.\d+) with the Gateway API (v[\d.]+)|the Gateway API (v[\d.]+) with Kubernetes (\d+\.\d+)`)
	claimListSepRE   = regexp.MustCompile(`, | and `)
)

// readVersionClaim reads the "Supported versions" paragraph of the README.
func readVersionClaim(readme string) (versionClaim, error) {
	var c versionClaim
	p := claimParagraphRE.FindString(readme)
	if p == "" {
		return c, fmt.Errorf(`README.md has no "Supported versions:" paragraph`)
	}
	p = strings.Join(strings.Fields(p), " ")
	m := claimKubeRE.FindStringSubmatch(p)
	if m == nil {
		return c, fmt.Errorf("README.md, Supported versions: no %q in %q", "Kubernetes X and Y (kube-apiserver vX.Y.Z and ...", p)
	}
	c.kubernetes = versionList(m[1], "")
	c.apiservers = versionList(m[2], "v")
	if m = claimGatewayRE.FindStringSubmatch(p); m == nil {
		return c, fmt.Errorf("README.md, Supported versions: no %q in %q", "the Gateway API standard CRDs vX (...) and vY", p)
	}
	c.gatewayAPI = versionList(m[1]+m[2], "v")
	if m = claimIstioRE.FindStringSubmatch(p); m != nil {
		c.istio = []string{m[1]}
	}
	if m = claimCurrentRE.FindStringSubmatch(p); m != nil {
		c.current = []string{m[1]}
	}
	for _, m := range claimPairRE.FindAllStringSubmatch(p, -1) {
		if m[1] != "" {
			c.matrix = append(c.matrix, matrixPair(m[1], m[2]))
		} else {
			c.matrix = append(c.matrix, matrixPair(m[4], m[3]))
		}
	}
	slices.Sort(c.matrix)
	return c, nil
}

// versionList reads "1.34, 1.35 and 1.36" or "1.34 to 1.36" (every minor
// between), each version given prefix, sorted by version.
func versionList(s, prefix string) []string {
	var out []string
	for _, part := range claimListSepRE.Split(s, -1) {
		from, to, isRange := strings.Cut(part, " to ")
		if !isRange {
			out = append(out, prefix+strings.TrimPrefix(from, "v"))
			continue
		}
		a, b := parseMinor(strings.TrimPrefix(from, "v")), parseMinor(strings.TrimPrefix(to, "v"))
		for minor := a[1]; minor <= b[1] && a[0] == b[0]; minor++ {
			out = append(out, fmt.Sprintf("%s%d.%d", prefix, a[0], minor))
		}
	}
	sortVersions(out)
	return out
}

// parseMinor is the major and minor of "1.34" or "1.34.4".
func parseMinor(v string) [2]int {
	parts := strings.Split(v, ".")
	var out [2]int
	for i := 0; i < 2 && i < len(parts); i++ {
		out[i], _ = strconv.Atoi(parts[i])
	}
	return out
}

// sortVersions sorts versions as numbers: v1.10 after v1.9.
func sortVersions(vs []string) {
	key := func(v string) string {
		var b strings.Builder
		for _, n := range strings.Split(strings.TrimPrefix(v, "v"), ".") {
			i, _ := strconv.Atoi(n)
			fmt.Fprintf(&b, "%06d.", i)
		}
		return b.String()
	}
	slices.SortFunc(vs, func(a, b string) int { return strings.Compare(key(a), key(b)) })
}

func matrixPair(kubernetes, gatewayAPI string) string {
	return "Kubernetes " + kubernetes + " with the Gateway API " + gatewayAPI
}

// controlPlane is the versions one control plane of the tests runs.
type controlPlane struct {
	kubernetes, gatewayAPI string // as required: v1.36.3, v1.6.3
}

// testedVersions are the control planes the tests run: the current one,
// and one per folder of matrixPins.
type testedVersions struct {
	current controlPlane
	istio   string // istio.io/api, as required: v1.31.1
	matrix  []controlPlane
}

// versionsRun reads the versions the tests run from the go.mod files.
func versionsRun(root string) (testedVersions, error) {
	var tv testedVersions
	tools := filepath.Join(root, "hack", "tools")
	current, err := effectiveVersions(filepath.Join(tools, "go.mod"))
	if err != nil {
		return tv, err
	}
	tv.current = controlPlane{current["k8s.io/kubernetes"], current["sigs.k8s.io/gateway-api"]}
	tv.istio = current["istio.io/api"]
	if tv.current.kubernetes == "" || tv.current.gatewayAPI == "" || tv.istio == "" {
		return tv, fmt.Errorf("hack/tools/go.mod requires no k8s.io/kubernetes, sigs.k8s.io/gateway-api or istio.io/api: %v", current)
	}
	pins, err := matrixPinFolders(filepath.Join(root, "pkg", "cli", "matrix_integration_test.go"))
	if err != nil {
		return tv, err
	}
	for _, pin := range pins {
		req, err := effectiveVersions(filepath.Join(tools, pin, "go.mod"))
		if err != nil {
			return tv, err
		}
		cp := tv.current
		if v := req["k8s.io/kubernetes"]; v != "" {
			cp.kubernetes = v
		}
		if v := req["sigs.k8s.io/gateway-api"]; v != "" {
			cp.gatewayAPI = v
		}
		if cp == tv.current {
			return tv, fmt.Errorf("hack/tools/%s/go.mod pins neither k8s.io/kubernetes nor sigs.k8s.io/gateway-api", pin)
		}
		tv.matrix = append(tv.matrix, cp)
	}
	return tv, nil
}

// claim is what the paragraph should say of these versions.
func (tv testedVersions) claim() versionClaim {
	var c versionClaim
	kubernetes := map[string]bool{}
	apiservers := map[string]bool{}
	gatewayAPI := map[string]bool{}
	for _, cp := range append([]controlPlane{tv.current}, tv.matrix...) {
		kubernetes[kubeMinor(cp.kubernetes)] = true
		apiservers[cp.kubernetes] = true
		gatewayAPI[cp.gatewayAPI] = true
	}
	for _, set := range []struct {
		m   map[string]bool
		out *[]string
	}{{kubernetes, &c.kubernetes}, {apiservers, &c.apiservers}, {gatewayAPI, &c.gatewayAPI}} {
		for v := range set.m {
			*set.out = append(*set.out, v)
		}
		sortVersions(*set.out)
	}
	c.istio = []string{kubeMinor(tv.istio)}
	c.current = []string{kubeMinor(tv.current.kubernetes)}
	for _, cp := range tv.matrix {
		c.matrix = append(c.matrix, matrixPair(kubeMinor(cp.kubernetes), cp.gatewayAPI))
	}
	slices.Sort(c.matrix)
	return c
}

// kubeMinor is "1.36" of "v1.36.3".
func kubeMinor(v string) string {
	m := parseMinor(strings.TrimPrefix(v, "v"))
	return fmt.Sprintf("%d.%d", m[0], m[1])
}

// matrixPinFolders reads the folders of matrixPins, the first field of
// each element of its composite literal.
func matrixPinFolders(path string) ([]string, error) {
	f, err := parser.ParseFile(token.NewFileSet(), path, nil, parser.SkipObjectResolution)
	if err != nil {
		return nil, err
	}
	var pins []string
	for _, d := range f.Decls {
		g, ok := d.(*ast.GenDecl)
		if !ok || g.Tok != token.VAR {
			continue
		}
		for _, spec := range g.Specs {
			vs := spec.(*ast.ValueSpec)
			if len(vs.Names) != 1 || vs.Names[0].Name != "matrixPins" || len(vs.Values) != 1 {
				continue
			}
			lit, ok := vs.Values[0].(*ast.CompositeLit)
			if !ok {
				return nil, fmt.Errorf("%s: matrixPins is not a composite literal", path)
			}
			for _, el := range lit.Elts {
				pin := ""
				if c, ok := el.(*ast.CompositeLit); ok && len(c.Elts) > 0 {
					if b, ok := c.Elts[0].(*ast.BasicLit); ok && b.Kind == token.STRING {
						pin, _ = strconv.Unquote(b.Value)
					}
				}
				if pin == "" {
					return nil, fmt.Errorf("%s: an element of matrixPins does not start with its folder as a string", path)
				}
				pins = append(pins, pin)
			}
		}
	}
	if len(pins) == 0 {
		return nil, fmt.Errorf("%s: no matrixPins found", path)
	}
	return pins, nil
}
