package main

import (
	"go/token"
	"go/types"

	"golang.org/x/tools/go/ssa"
)

// A walk is what following the context from one Run found. Functions are
// named by their source: the instances of a generic function are one function.
type walk struct {
	start *ssa.Function
	// holders are the functions reached that hold the context: stops (a
	// context parameter) and closures that only capture one.
	holders map[*ssa.Function]bool
	// calls are the distinct call edges from a holder to a holder (with
	// every, to any function of the module).
	calls map[call]bool
}

// A call is one edge of the walk: a call site and one function it may call.
type call struct {
	caller, callee *ssa.Function
	site           token.Pos
	how            string // "func value", "interface" or "direct"
}

// walk follows the context from start. From a function that holds it, it goes
// to every function of the module the call graph says it may call and that
// holds a context too: one that takes it as a parameter, or a closure that
// captures it (the func() error given to kube.Retry carries the context as
// surely as a parameter would). It also goes into every closure a holder
// builds that holds a context: such a closure may run later, through the
// standard library (errgroup, sync) or another package of the module, and
// that package's call of it is a move or a climb when the call graph has it.
//
// With every, the calls a holder makes to functions of the module that do
// not hold a context (callbacks such as progress and event hooks, Error
// methods) are counted as well, though the walk does not go on from them.
//
// A call through a func value is followed only to a function the command
// could have made into a value (see made): the call graph has one set of
// callees per call site for the whole program, so bulk.ForEach would
// otherwise call, in every command, the closures of all the others.
func (m *module) walk(start *ssa.Function, every bool) *walk {
	made := m.made(start)
	w := &walk{start: start, holders: map[*ssa.Function]bool{}, calls: map[call]bool{}}
	seen := map[*ssa.Function]bool{start: true}
	queue := []*ssa.Function{start}
	for len(queue) > 0 {
		fn := queue[0]
		queue = queue[1:]
		w.holders[source(fn)] = true
		if node := m.graph.Nodes[fn]; node != nil {
			for _, e := range node.Out {
				callee := e.Callee.Func
				if !m.inModule(callee) || throughValue(e.Site) && !made[valueKey(callee)] {
					continue
				}
				if !holds(callee) {
					if every {
						w.calls[call{caller: source(fn), callee: source(callee), site: e.Site.Pos(), how: how(e.Site)}] = true
					}
					continue
				}
				w.calls[call{caller: source(fn), callee: source(callee), site: e.Site.Pos(), how: how(e.Site)}] = true
				if !seen[callee] {
					seen[callee] = true
					queue = append(queue, callee)
				}
			}
		}
		for _, anon := range fn.AnonFuncs {
			if holds(anon) && !seen[anon] {
				seen[anon] = true
				queue = append(queue, anon)
			}
		}
	}
	return w
}

// made is every function of the module that the code reachable from start
// turns into a value (a closure, a method value, a function passed or
// stored), keyed by valueKey. Reachable means by direct calls and interface
// calls from start, or from such a value, whether the context reaches it or
// not: a callback is often built in a helper that takes no context.
func (m *module) made(start *ssa.Function) map[any]bool {
	made := map[any]bool{}
	seen := map[*ssa.Function]bool{start: true}
	queue := []*ssa.Function{start}
	visit := func(fn *ssa.Function) {
		if !seen[fn] && m.inModule(fn) {
			seen[fn] = true
			queue = append(queue, fn)
		}
	}
	for len(queue) > 0 {
		fn := queue[0]
		queue = queue[1:]
		for _, b := range fn.Blocks {
			for _, instr := range b.Instrs {
				for _, v := range funcValues(instr) {
					made[valueKey(v)] = true
					visit(v)
					if obj, ok := v.Object().(*types.Func); ok && v.Synthetic != "" {
						// a method value or expression: its wrapper calls the method
						if target := fn.Prog.FuncValue(obj); target != nil {
							visit(target)
						}
					}
				}
			}
		}
		if node := m.graph.Nodes[fn]; node != nil {
			for _, e := range node.Out {
				if !throughValue(e.Site) {
					visit(e.Callee.Func)
				}
			}
		}
	}
	return made
}

// funcValues are the functions instr uses as values rather than calls.
func funcValues(instr ssa.Instruction) []*ssa.Function {
	var static *ssa.Value
	if c, ok := instr.(ssa.CallInstruction); ok && c.Common().StaticCallee() != nil {
		static = &c.Common().Value
	}
	var out []*ssa.Function
	for _, op := range instr.Operands(nil) {
		if op == static || op == nil {
			continue
		}
		if fn, ok := (*op).(*ssa.Function); ok {
			out = append(out, fn)
		}
	}
	return out
}

// throughValue says whether site calls a func value (not a function by name,
// not an interface method).
func throughValue(site ssa.CallInstruction) bool {
	c := site.Common()
	return !c.IsInvoke() && c.StaticCallee() == nil
}

// how says how site calls: through a func value, an interface method, or a
// function or method by name.
func how(site ssa.CallInstruction) string {
	switch {
	case site.Common().IsInvoke():
		return "interface"
	case throughValue(site):
		return "func value"
	}
	return "direct"
}

// valueKey names a function made into a value the same way at the place it is
// made and at the place it is called: a closure by its source, a named
// function or method (also behind its method-value wrapper) by its object.
func valueKey(fn *ssa.Function) any {
	if obj, ok := fn.Object().(*types.Func); ok {
		return obj.Origin()
	}
	return source(fn)
}

// source is the function as written: a generic function for its instances.
func source(fn *ssa.Function) *ssa.Function {
	if o := fn.Origin(); o != nil {
		return o
	}
	return fn
}

// pkgOf is the package a function is written in; a closure is in its
// enclosing function's.
func pkgOf(fn *ssa.Function) *types.Package {
	fn = source(fn)
	for fn.Parent() != nil {
		fn = fn.Parent()
	}
	if fn.Pkg == nil {
		return nil
	}
	return fn.Pkg.Pkg
}

// inModule says whether fn is written in the module and has a body here.
func (m *module) inModule(fn *ssa.Function) bool {
	p := pkgOf(fn)
	if p == nil || len(fn.Blocks) == 0 {
		return false
	}
	_, ok := m.rel(p.Path())
	return ok
}

// holds says whether fn has a context: as a parameter or, for a closure,
// captured.
func holds(fn *ssa.Function) bool { return takesContext(fn) || capturesContext(fn) }

// takesContext says whether one of fn's parameters is a context.Context.
func takesContext(fn *ssa.Function) bool {
	params := fn.Signature.Params()
	for v := range params.Variables() {
		if isContext(v.Type()) {
			return true
		}
	}
	return false
}

// capturesContext says whether fn is a closure over a context.Context.
func capturesContext(fn *ssa.Function) bool {
	for _, fv := range fn.FreeVars {
		if isContext(fv.Type()) {
			return true
		}
	}
	return false
}

// isContext says whether t is context.Context, or a variable of it that a
// closure captures by reference.
func isContext(t types.Type) bool {
	if p, ok := types.Unalias(t).(*types.Pointer); ok {
		t = p.Elem() // a captured variable the closure assigns
	}
	n, ok := types.Unalias(t).(*types.Named)
	if !ok {
		return false
	}
	obj := n.Obj()
	return obj.Pkg() != nil && obj.Pkg().Path() == "context" && obj.Name() == "Context"
}
