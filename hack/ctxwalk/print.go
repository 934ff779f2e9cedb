package main

import (
	"cmp"
	"fmt"
	"go/token"
	"io"
	"path/filepath"
	"slices"
	"strings"

	"golang.org/x/tools/go/ssa"
)

// printLayers says how packages are ranked, internal ones included.
func printLayers(out io.Writer, m *module) {
	fmt.Fprintln(out, "layers, highest first:")
	for rank, line := range layers {
		fmt.Fprintf(out, "  %d %s\n", rank, strings.Join(line, ", "))
	}
	var internal []string
	for p, from := range m.usedBy {
		internal = append(internal, fmt.Sprintf("%s (layer %d, of its lowest importer %s)", p, m.layer[p], from))
	}
	slices.Sort(internal)
	for _, line := range internal {
		fmt.Fprintln(out, "  "+line)
	}
	fmt.Fprintln(out, "  any other package: no layer, its calls are moves but never climbs")
}

// A line is one call edge or one stop (callee only), printed.
type line struct {
	file                string
	line                int
	caller, callee, how string
	climb               bool
}

// at is where the call is, file:line.
func (l line) at() string { return fmt.Sprintf("%s:%d", l.file, l.line) }

// printWalk prints the counts of a walk and its climbs; verbose adds the
// stops and the moves.
func printWalk(out io.Writer, m *module, title string, w *walk, verbose bool) {
	var stops []line
	var carriers []string
	files := map[string]bool{}
	for fn := range w.holders {
		if !takesContext(fn) {
			carriers = append(carriers, m.name(fn))
			continue
		}
		file, n := m.position(fn.Pos())
		files[file] = true
		stops = append(stops, line{file: file, line: n, callee: m.name(fn)})
	}
	var moves []line
	climbs := map[string]int{}
	climbSites := map[string]bool{}
	handed := 0
	for c := range w.calls {
		from, to := m.pkg(c.caller), m.pkg(c.callee)
		if from == to {
			continue
		}
		file, n := m.position(c.site)
		l := line{
			file:   file,
			line:   n,
			caller: fmt.Sprintf("%s [%s]", m.name(c.caller), from),
			callee: fmt.Sprintf("%s [%s]", m.name(c.callee), to),
			how:    c.how,
			climb:  m.climbs(from, to),
		}
		if l.climb {
			climbs[c.how]++
			climbSites[l.at()] = true
			if m.layer[from] == len(layers)-1 && w.handedDown(c) {
				handed++
				l.how += ", handed down"
			}
		}
		moves = append(moves, l)
	}
	byPlace := func(a, b line) int {
		return cmp.Or(cmp.Compare(a.file, b.file), cmp.Compare(a.line, b.line),
			cmp.Compare(a.caller, b.caller), cmp.Compare(a.callee, b.callee))
	}
	slices.SortFunc(moves, byPlace)
	slices.SortFunc(stops, byPlace)
	slices.Sort(carriers)

	fmt.Fprintf(out, "\n%s: from %s\n", title, m.name(w.start))
	total := climbs["func value"] + climbs["interface"] + climbs["direct"]
	fmt.Fprintf(out, "  stops %d in %d files, moves %d, climbs %d at %d call sites (through a func value %d, an interface %d, by name %d)\n",
		len(stops), len(files), len(moves), total, len(climbSites), climbs["func value"], climbs["interface"], climbs["direct"])
	fmt.Fprintf(out, "  climbs other than out of the lowest layer into a closure handed down by its caller: %d\n", total-handed)
	fmt.Fprintf(out, "  closures reached that only capture the context: %d\n", len(carriers))
	fmt.Fprintln(out, "  climbs (call site: caller -> callee, how):")
	for _, l := range moves {
		if l.climb {
			fmt.Fprintf(out, "    %s: %s -> %s, %s\n", l.at(), l.caller, l.callee, l.how)
		}
	}
	if !verbose {
		return
	}
	fmt.Fprintln(out, "  stops:")
	for _, s := range stops {
		fmt.Fprintf(out, "    %s  %s\n", s.at(), s.callee)
	}
	fmt.Fprintln(out, "  closures that only capture the context:")
	for _, s := range carriers {
		fmt.Fprintln(out, "    "+s)
	}
	fmt.Fprintln(out, "  moves (a climb is marked ^):")
	for _, l := range moves {
		mark := " "
		if l.climb {
			mark = "^"
		}
		fmt.Fprintf(out, "    %s %s: %s -> %s, %s\n", mark, l.at(), l.caller, l.callee, l.how)
	}
}

// climbs says whether a call from package from to package to goes up a layer.
func (m *module) climbs(from, to string) bool {
	f, ok := m.layer[from]
	if !ok {
		return false
	}
	t, ok := m.layer[to]
	return ok && t < f
}

// pkg is the package of fn relative to the module.
func (m *module) pkg(fn *ssa.Function) string {
	rel, _ := m.rel(pkgOf(fn).Path())
	return rel
}

// name is fn as its package's callers would write it, closures numbered as
// SSA numbers them: cli.(*ApplyOptions).Run$1.
func (m *module) name(fn *ssa.Function) string {
	p := pkgOf(fn)
	return p.Name() + "." + fn.RelString(p)
}

// position is where pos is: the file relative to the repository root, and
// the line.
func (m *module) position(pos token.Pos) (string, int) {
	p := m.fset.Position(pos)
	file := p.Filename
	if rel, err := filepath.Rel(m.root, file); err == nil {
		file = filepath.ToSlash(rel)
	}
	return file, p.Line
}

// handedDown says whether a climb only calls back a closure that the code
// calling the lower layer handed to it, as kube.Retry and fanout.ForEach
// call the func their caller passes (printWalk asks it only of climbs out
// of the lowest layer, pkg/kube, pkg/bulk, pkg/istio and the helpers they
// use: a domain package that calls back a higher one always climbs): the callee is a closure, and going
// back from the climb's caller along the walk (its callers, and for a
// closure the function that made it) reaches the function that made the
// callee, or one that calls that maker by name (a constructor such as
// policy.unstructuredPage). The context goes down and comes back along the
// same path: no lower layer names a higher one, nor keeps the func.
func (w *walk) handedDown(c call) bool {
	if c.how != "func value" || c.callee.Parent() == nil {
		return false
	}
	maker := top(c.callee)
	seen := map[*ssa.Function]bool{c.caller: true}
	frontier := []*ssa.Function{c.caller}
	for len(frontier) > 0 {
		f := frontier[0]
		frontier = frontier[1:]
		var back []*ssa.Function
		if f.Parent() != nil {
			back = append(back, f.Parent())
		}
		for d := range w.calls {
			if d.callee == f {
				back = append(back, d.caller)
			}
		}
		for _, b := range back {
			if top(b) == maker || callsByName(b, maker) {
				return true
			}
			if !seen[b] {
				seen[b] = true
				frontier = append(frontier, b)
			}
		}
	}
	return false
}

// top is the function a closure is in, or fn itself.
func top(fn *ssa.Function) *ssa.Function {
	for fn.Parent() != nil {
		fn = fn.Parent()
	}
	return fn
}

// callsByName says whether fn calls callee statically.
func callsByName(fn, callee *ssa.Function) bool {
	for _, b := range fn.Blocks {
		for _, ins := range b.Instrs {
			if call, ok := ins.(ssa.CallInstruction); ok && call.Common().StaticCallee() == callee {
				return true
			}
		}
	}
	return false
}
