package kube

import (
	"go/build"
	"path/filepath"
	"slices"
	"strings"
	"testing"
)

// TestLowestLayer: pkg/kube is the lowest layer of the tool; of the
// module's packages it may import (through any chain) only those below it.
func TestLowestLayer(t *testing.T) {
	const module = "github.com/kubectl-waypoint/kubectl-waypoint/"
	below := []string{module + "internal/fanout"}
	seen := map[string]bool{}
	var walk func(dir string)
	walk = func(dir string) {
		pkg, err := build.ImportDir(dir, 0)
		if err != nil {
			t.Fatalf("%s: %v", dir, err)
		}
		for _, imp := range pkg.Imports {
			if !strings.HasPrefix(imp, module) || seen[imp] {
				continue
			}
			seen[imp] = true
			if !slices.Contains(below, imp) {
				t.Errorf("pkg/kube imports %s: the lowest layer imports nothing above it", imp)
			}
			walk(filepath.Join("..", "..", strings.TrimPrefix(imp, module)))
		}
	}
	walk(".")
}
