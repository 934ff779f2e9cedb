package docgen

import (
	"fmt"
	"maps"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"golang.org/x/mod/modfile"
)

// buildModules are the go.mod files of what a new machine compiles: the
// tool and its tests, the control plane (hack/tools) and istiod and istioctl
// (hack/istiod).
var buildModules = []string{"go.mod", "hack/tools/go.mod", "hack/istiod/go.mod"}

// TestBuildModulesAgree holds every module that two of buildModules require
// to one version. The Go build cache shares a compiled package between
// builds only when the package and everything it imports are at the same
// versions: one client-go patch apart, istiod's build compiled its own
// k8s.io/api, client-go and all above them again, about a third of the
// source a cold `.ci/run` compiles for istiod (docs/performance.md). Raise
// the lower one with `go get module@version` in its folder.
func TestBuildModulesAgree(t *testing.T) {
	root := filepath.Join("..", "..")
	versions := map[string]map[string]string{} // module -> go.mod -> version
	for _, f := range buildModules {
		req, err := effectiveVersions(filepath.Join(root, f))
		if err != nil {
			t.Fatal(err)
		}
		for mod, v := range req {
			if versions[mod] == nil {
				versions[mod] = map[string]string{}
			}
			versions[mod][f] = v
		}
	}
	for _, mod := range slices.Sorted(maps.Keys(versions)) {
		byFile := versions[mod]
		if len(slices.Compact(slices.Sorted(maps.Values(byFile)))) > 1 {
			var at []string
			for _, f := range buildModules {
				if v, ok := byFile[f]; ok {
					at = append(at, fmt.Sprintf("%s in %s", v, f))
				}
			}
			t.Errorf("%s is required at more than one version: %s", mod, strings.Join(at, ", "))
		}
	}
}

// effectiveVersions are the versions a go.mod selects, by module path: its
// requirements, with the version a replace directive puts in their place
// (a replace by a local directory has none and is left out).
func effectiveVersions(path string) (map[string]string, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, err
	}
	f, err := modfile.Parse(path, b, nil)
	if err != nil {
		return nil, err
	}
	out := map[string]string{}
	for _, r := range f.Require {
		out[r.Mod.Path] = r.Mod.Version
	}
	for _, r := range f.Replace {
		if _, ok := out[r.Old.Path]; !ok {
			continue
		}
		if r.New.Version == "" {
			delete(out, r.Old.Path)
			continue
		}
		out[r.Old.Path] = r.New.Version
	}
	return out, nil
}
