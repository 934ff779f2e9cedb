package main

import (
	"errors"
	"fmt"
	"go/token"
	"go/types"
	"os"
	"path/filepath"
	"strings"

	"golang.org/x/tools/go/callgraph"
	"golang.org/x/tools/go/callgraph/cha"
	"golang.org/x/tools/go/callgraph/vta"
	"golang.org/x/tools/go/packages"
	"golang.org/x/tools/go/ssa"
	"golang.org/x/tools/go/ssa/ssautil"
)

// patterns are the packages walked: the binary and its libraries. hack/ and
// test/ are left out; none of the commands calls into them.
var patterns = []string{"./cmd/...", "./pkg/...", "./internal/..."}

// module is the main module, loaded as SSA, with its call graph and layers.
type module struct {
	root  string // absolute repository root, for file names
	path  string // module path
	fset  *token.FileSet
	cli   *ssa.Package
	graph *callgraph.Graph
	// layer ranks a package path relative to the module, 0 the highest;
	// a package that is absent has no layer and never climbs.
	layer map[string]int
	// usedBy says, for an internal package, whose layer it took.
	usedBy map[string]string
}

// load type-checks the module's packages from source (their dependencies
// from export data), builds their SSA with generics instantiated, so that a
// callback passed to a generic function is seen per instance, and computes
// the call graph.
func load(root, algo string) (*module, error) {
	abs, err := filepath.Abs(root)
	if err != nil {
		return nil, err
	}
	cfg := &packages.Config{
		Mode: packages.NeedName | packages.NeedFiles | packages.NeedCompiledGoFiles |
			packages.NeedImports | packages.NeedTypes |
			packages.NeedTypesSizes | packages.NeedSyntax | packages.NeedTypesInfo |
			packages.NeedModule,
		Dir: abs,
	}
	pkgs, err := packages.Load(cfg, patterns...)
	if err != nil {
		return nil, fmt.Errorf("load packages in %s: %w", abs, err)
	}
	if n := printErrors(pkgs, 10); n > 0 {
		return nil, fmt.Errorf("%d errors in the packages: walk a tree that builds", n)
	}
	if len(pkgs) == 0 || pkgs[0].Module == nil {
		return nil, fmt.Errorf("no module found in %s: give the repository root", abs)
	}
	m := &module{root: abs, path: pkgs[0].Module.Path}

	// Only the module's own packages are built: a call into another module
	// or the standard library ends the walk, so their bodies are not needed.
	prog, ssaPkgs := ssautil.Packages(pkgs, ssa.InstantiateGenerics)
	for _, p := range ssaPkgs {
		if p == nil {
			continue
		}
		p.Build()
		if p.Pkg.Path() == m.path+"/pkg/cli" {
			m.cli = p
		}
	}
	if m.cli == nil {
		return nil, errors.New("package pkg/cli not found: give the repository root")
	}
	m.fset = prog.Fset

	switch algo {
	case "vta":
		// VTA resolves a call through a func value or an interface to the
		// functions and types that flow there, which is what a closure passed
		// down and called back needs; CHA is its starting point.
		m.graph = vta.CallGraph(ssautil.AllFunctions(prog), nil)
	case "cha":
		m.graph = cha.CallGraph(prog)
	default:
		return nil, fmt.Errorf("unknown call graph %q: must be vta or cha", algo)
	}
	m.graph.DeleteSyntheticNodes()
	m.setLayers(pkgs)
	return m, nil
}

// printErrors prints the first max errors of the packages, in the order
// go/packages reports them, and returns how many there are.
func printErrors(pkgs []*packages.Package, max int) int {
	n := 0
	packages.Visit(pkgs, nil, func(p *packages.Package) {
		for _, err := range p.Errors {
			if n < max {
				fmt.Fprintln(os.Stderr, err)
			}
			n++
		}
	})
	if n > max {
		fmt.Fprintf(os.Stderr, "... and %d more\n", n-max)
	}
	return n
}

// runMethod is (*cli.<options>).Run.
func (m *module) runMethod(options string) (*ssa.Function, error) {
	t, ok := m.cli.Members[options].(*ssa.Type)
	if !ok {
		return nil, fmt.Errorf("no type %s in pkg/cli", options)
	}
	ptr := types.NewPointer(t.Type())
	sel := m.cli.Prog.MethodSets.MethodSet(ptr).Lookup(m.cli.Pkg, "Run")
	if sel == nil {
		return nil, fmt.Errorf("no method (*cli.%s).Run", options)
	}
	return m.cli.Prog.MethodValue(sel), nil
}

// layers lists the packages from the highest layer down; packages on one line
// share a layer.
var layers = [][]string{
	{"cmd/kubectl-waypoint"},
	{"pkg/cli"},
	{"pkg/waypoint"},
	{"pkg/policy"},
	{"pkg/enroll"},
	{"pkg/mesh", "pkg/render", "pkg/gitops", "pkg/fleet"},
	{"pkg/bulk", "pkg/kube", "pkg/istio"},
}

// setLayers ranks the listed packages, then gives an internal package the
// layer of the lowest package that imports it: a helper shared by pkg/cli and
// pkg/kube sits with pkg/kube, and calling pkg/cli from it is a climb.
func (m *module) setLayers(pkgs []*packages.Package) {
	m.layer = map[string]int{}
	m.usedBy = map[string]string{}
	for rank, line := range layers {
		for _, p := range line {
			m.layer[p] = rank
		}
	}
	importers := map[string][]string{}
	packages.Visit(pkgs, nil, func(p *packages.Package) {
		from, ok := m.rel(p.PkgPath)
		if !ok {
			return
		}
		for path := range p.Imports {
			if to, ok := m.rel(path); ok {
				importers[to] = append(importers[to], from)
			}
		}
	})
	// Internal packages importing internal packages: repeat until nothing
	// changes, at most once per package.
	for range len(importers) + 1 {
		changed := false
		for to, froms := range importers {
			if !strings.HasPrefix(to, "internal/") {
				continue
			}
			for _, from := range froms {
				rank, ok := m.layer[from]
				if !ok {
					continue
				}
				if old, ok := m.layer[to]; !ok || rank > old || rank == old && from < m.usedBy[to] {
					m.layer[to], m.usedBy[to] = rank, from
					changed = true
				}
			}
		}
		if !changed {
			break
		}
	}
}

// rel is a package path relative to the module, and whether it is in it.
func (m *module) rel(path string) (string, bool) {
	if path == m.path {
		return ".", true
	}
	rest, ok := strings.CutPrefix(path, m.path+"/")
	return rest, ok
}
