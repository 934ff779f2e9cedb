package cli

import (
	"go/ast"
	"go/parser"
	"go/token"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
)

// serverRoots are the names through which a test of this package reaches
// a real API server: the control plane TestMain starts, the helper that
// runs the tool against it, and the functions of internal/testenv that
// start one of a test's own.
var serverRoots = []string{"env", "runKube", "testenv.Start", "testenv.StartWithOptions", "testenv.RunMain"}

// TestUnitNamesMatchServerUse holds the naming rule that `make unit` relies
// on: it runs `go test -run '^(TestUnit|Fuzz)' ./pkg/cli`, for which
// TestMain starts no server. So a test that needs no server must be named
// TestUnit... (or make unit misses it), and neither a TestUnit... test nor
// a fuzz target may reach a server (it would fail there, env being nil).
// It parses the package's test files and follows every top-level function,
// method and variable a test names, transitively, to see whether it reaches
// one of serverRoots.
//
// It holds internal/testenv's tests to the same rule, as make unit runs
// them the same way.
func TestUnitNamesMatchServerUse(t *testing.T) {
	for _, dir := range []string{".", filepath.Join("..", "..", "internal", "testenv")} {
		g := parseTestGraph(t, dir)
		for _, name := range g.tests {
			chain := g.path(name, serverRoots)
			server := chain != nil
			unit := strings.HasPrefix(name, "TestUnit") || strings.HasPrefix(name, "Fuzz")
			switch {
			case server && unit:
				t.Errorf("%s (%s) reaches an API server (%s), but make unit runs it without one: name it Test... without Unit, or drop what needs the server", name, dir, strings.Join(chain, " -> "))
			case !server && !unit:
				t.Errorf("%s (%s) needs no API server, but make unit runs only TestUnit... tests: rename it TestUnit%s", name, dir, strings.TrimPrefix(name, "Test"))
			}
		}
	}
}

// testGraph is what the top-level declarations of a package's test files
// name: each function (by name), method (by "Recv.Name" and also by its bare
// name, since a call x.Name cannot be told apart without types) and
// package-level variable, mapped to the top-level names its body uses.
type testGraph struct {
	uses  map[string][]string
	tests []string
}

// parseTestGraph reads the _test.go files of dir.
func parseTestGraph(t *testing.T, dir string) *testGraph {
	t.Helper()
	files, err := filepath.Glob(filepath.Join(dir, "*_test.go"))
	if err != nil || len(files) == 0 {
		t.Fatalf("no test files in %s: %v", dir, err)
	}
	fset := token.NewFileSet()
	g := &testGraph{uses: map[string][]string{}}
	for _, f := range files {
		file, err := parser.ParseFile(fset, f, nil, parser.SkipObjectResolution)
		if err != nil {
			t.Fatal(err)
		}
		for _, decl := range file.Decls {
			switch d := decl.(type) {
			case *ast.FuncDecl:
				names := []string{d.Name.Name}
				if d.Recv != nil && len(d.Recv.List) == 1 {
					names = append(names, recvName(d.Recv.List[0].Type)+"."+d.Name.Name)
				} else if d.Name.Name != "TestMain" && (strings.HasPrefix(d.Name.Name, "Test") || strings.HasPrefix(d.Name.Name, "Fuzz")) {
					g.tests = append(g.tests, d.Name.Name)
				}
				used := namesIn(d.Body)
				for _, n := range names {
					g.uses[n] = append(g.uses[n], used...)
				}
			case *ast.GenDecl:
				for _, spec := range d.Specs {
					if vs, ok := spec.(*ast.ValueSpec); ok {
						used := namesIn(vs)
						for _, n := range vs.Names {
							g.uses[n.Name] = append(g.uses[n.Name], used...)
						}
					}
				}
			}
		}
	}
	slices.Sort(g.tests)
	return g
}

// recvName is the type name of a method's receiver: T of T, *T, T[P].
func recvName(e ast.Expr) string {
	switch x := e.(type) {
	case *ast.StarExpr:
		return recvName(x.X)
	case *ast.IndexExpr:
		return recvName(x.X)
	case *ast.IndexListExpr:
		return recvName(x.X)
	case *ast.Ident:
		return x.Name
	}
	return ""
}

// namesIn is every identifier node uses, the selected name of each
// selector x.Name included (a method call names the method), and "pkg.Name"
// for each selector on a plain identifier (a package's function). A local
// variable that shadows a top-level name counts as that name: the graph
// errs towards "reaches the server".
func namesIn(node ast.Node) []string {
	var out []string
	if node == nil {
		return nil
	}
	ast.Inspect(node, func(n ast.Node) bool {
		switch x := n.(type) {
		case *ast.Ident:
			out = append(out, x.Name)
		case *ast.SelectorExpr:
			if id, ok := x.X.(*ast.Ident); ok {
				out = append(out, id.Name+"."+x.Sel.Name)
			}
		}
		return true
	})
	return out
}

// path is a chain of declarations from the declaration name to one of
// roots, through other top-level declarations of the test files; nil when
// it reaches none.
func (g *testGraph) path(name string, roots []string) []string {
	seen := map[string]bool{name: true}
	prev := map[string]string{}
	queue := []string{name}
	for len(queue) > 0 {
		cur := queue[0]
		queue = queue[1:]
		for _, u := range g.uses[cur] {
			if slices.Contains(roots, u) {
				chain := []string{u}
				for n := cur; n != ""; n = prev[n] {
					chain = append([]string{n}, chain...)
				}
				return chain
			}
			if _, declared := g.uses[u]; declared && !seen[u] {
				seen[u] = true
				prev[u] = cur
				queue = append(queue, u)
			}
		}
	}
	return nil
}

// TestUnitServerGraph: the graph follows helpers, methods, package-level
// variables and testenv's starters, and leaves alone what reaches none.
func TestUnitServerGraph(t *testing.T) {
	dir := t.TempDir()
	src := `package x

var table = []func(){func() { viaMethod() }}

type fixture struct{}

func (f *fixture) apply() { _ = env }

func viaMethod() { var f fixture; f.apply() }

func viaVar() { table[0]() }

func starts() { testenv.StartWithOptions(testenv.Options{}) }

func pure() { _ = strings.TrimSpace(" ") }

func TestA(t *testing.T) { viaVar() }
func TestB(t *testing.T) { pure() }
func TestC(t *testing.T) { starts() }
func TestD(t *testing.T) { runKube(t) }
`
	if err := os.WriteFile(filepath.Join(dir, "x_test.go"), []byte(src), 0o600); err != nil {
		t.Fatal(err)
	}
	g := parseTestGraph(t, dir)
	want := map[string]string{
		"TestA": "TestA -> viaVar -> table -> viaMethod -> apply -> env",
		"TestB": "",
		"TestC": "TestC -> starts -> testenv.StartWithOptions",
		"TestD": "TestD -> runKube",
	}
	if !slices.Equal(g.tests, []string{"TestA", "TestB", "TestC", "TestD"}) {
		t.Fatalf("tests %q", g.tests)
	}
	for name, chain := range want {
		if got := strings.Join(g.path(name, serverRoots), " -> "); got != chain {
			t.Errorf("%s: %q, want %q", name, got, chain)
		}
	}
}
