package docgen

import (
	"fmt"
	"go/ast"
	"go/parser"
	"go/token"
	"os"
	"path/filepath"
	"regexp"
	"sort"
	"strconv"
	"strings"
	"sync"
	"testing"
	"unicode"
)

// This file finds the messages the tool can print, by reading its code
// (go/ast, no type checking): the patterns that troubleshooting_test.go
// holds docs/troubleshooting.md to.
//
// A message starts at a sink: errors.New; a call of a function whose name
// ends in Errorf or Warnf (fmt.Errorf, usageErrorf, IOStreams.Warnf and
// IOStreams.Errorf); fmt.Fprint* to a stream named stderr or ErrOut; or
// what an Error() method returns. Its argument is evaluated into patterns
// of fixed text and holes (values filled in at run time), one per form the
// message can take, following: string literals and constants (of any
// package of the module); + and +=; fmt.Sprintf and fmt.Errorf, their verbs
// filled with their arguments (and %s with the String method of a value
// whose type is plain to see); local variables, through the statements
// before their use (either branch of an if, any case of a switch);
// strings.Join (each element); the returns of the module's functions and
// methods called; and the values the module assigns to a field of a type
// that is plain to see. Beyond the sinks, the values assigned to a field
// that a message reads are messages too (a bulk.Record's Error), and so
// are the arguments given for a parameter that is a whole message. What
// the scan cannot follow is a hole; a value of too many forms, or of none
// with a word in it, is one too.

// piece is a run of fixed text, or a hole.
type piece struct {
	text string
	hole bool
}

// pattern is a message as the code builds it: fixed text and holes.
type pattern []piece

var holePattern = pattern{{hole: true}}

func literal(s string) pattern { return pattern{{text: s}} }

// concat is p then q, with neighbouring texts (and holes) merged.
func (p pattern) concat(q pattern) pattern {
	out := append(pattern{}, p...)
	for _, x := range q {
		if n := len(out); n > 0 && out[n-1].hole == x.hole {
			out[n-1].text += x.text
			continue
		}
		out = append(out, x)
	}
	return out
}

// key tells patterns apart (String does not tell a hole from "…").
func (p pattern) key() string {
	var b strings.Builder
	for _, x := range p {
		if x.hole {
			b.WriteString("\x00")
		} else {
			b.WriteString(x.text)
		}
	}
	return b.String()
}

// lines splits p at its newlines, each line trimmed of spaces.
func (p pattern) lines() []pattern {
	var out []pattern
	cur := pattern{}
	for _, x := range p {
		if x.hole {
			cur = cur.concat(holePattern)
			continue
		}
		parts := strings.Split(x.text, "\n")
		for i, part := range parts {
			if i > 0 {
				out = append(out, cur.trim())
				cur = pattern{}
			}
			cur = cur.concat(literal(part))
		}
	}
	return append(out, cur.trim())
}

func (p pattern) trim() pattern {
	out := append(pattern{}, p...)
	for len(out) > 0 && !out[0].hole {
		if out[0].text = strings.TrimLeft(out[0].text, " "); out[0].text != "" {
			break
		}
		out = out[1:]
	}
	for n := len(out); n > 0 && !out[n-1].hole; n = len(out) {
		if out[n-1].text = strings.TrimRight(out[n-1].text, " "); out[n-1].text != "" {
			break
		}
		out = out[:n-1]
	}
	return out
}

// String is p as the doc writes it: … for each hole.
func (p pattern) String() string {
	var b strings.Builder
	for _, x := range p {
		if x.hole {
			b.WriteString("…")
		} else {
			b.WriteString(x.text)
		}
	}
	return b.String()
}

// regexp matches the texts p can be, a hole matching anything.
func (p pattern) regexp() *regexp.Regexp {
	key := p.key()
	if re, ok := patternREs.Load(key); ok {
		return re.(*regexp.Regexp)
	}
	re := p.compile()
	patternREs.Store(key, re)
	return re
}

// within matches a text that holds one of the texts p can be.
func (p pattern) within() *regexp.Regexp {
	re := p.regexp().String()
	return regexp.MustCompile(`(?s)` + strings.TrimSuffix(strings.TrimPrefix(re, `^(?s)`), `$`))
}

// patternREs are the regexps of the patterns, by key.
var patternREs sync.Map

func (p pattern) compile() *regexp.Regexp {
	var b strings.Builder
	b.WriteString(`^(?s)`)
	for _, x := range p {
		if x.hole {
			b.WriteString(`.*`)
		} else {
			b.WriteString(regexp.QuoteMeta(x.text))
		}
	}
	b.WriteString(`$`)
	return regexp.MustCompile(b.String())
}

// fixed are the fixed parts of p, trimmed of the punctuation around holes.
func (p pattern) fixed() []string {
	var out []string
	for _, x := range p {
		if t := strings.Trim(x.text, " :;,.()\"'"); !x.hole && t != "" {
			out = append(out, t)
		}
	}
	return out
}

// longestFixed is the longest fixed part of p.
func (p pattern) longestFixed() string {
	best := ""
	for _, f := range p.fixed() {
		if len(f) > len(best) {
			best = f
		}
	}
	return best
}

// codeMessage is one form of one line of a message, and where its sink
// is. The forms of a line are the texts its values may take.
type codeMessage struct {
	pos  string
	line int
	pat  pattern
}

// maxDepth bounds how deep an evaluation follows values.
const maxDepth = 24

// maxAlternatives bounds the texts a value may take before it is taken
// as a hole.
const maxAlternatives = 32

// pkgInfo is one package of the module.
type pkgInfo struct {
	name    string
	files   []*ast.File
	values  map[string]ast.Expr // package-level constants and variables
	funcs   map[string]*ast.FuncDecl
	methods map[string][]*ast.FuncDecl
	structs map[string][]structField // the fields of each struct type, in order
}

// structField is a field of a struct type: its name, and its type's.
type structField struct{ name, typ string }

// frame is where an expression is evaluated.
type frame struct {
	pkg  *pkgInfo
	file *ast.File
	fn   *ast.FuncDecl // nil at package level
}

// codeScan holds the parsed code and what the evaluation found.
type codeScan struct {
	module   string
	fset     *token.FileSet
	pkgs     map[string]*pkgInfo // by import path
	fields   map[string]bool     // fields a message reads
	assigned map[string][]fieldValue
	params   map[*ast.FuncDecl]map[int]bool
	visiting map[string]bool
	messages map[string]codeMessage // by position and text
	memos    map[memoKey][]pattern
}

// scanMessages parses the non-test Go files of pkg/ and cmd/ (and of the
// module's internal packages they import) under root, and returns the
// messages found, sorted.
func scanMessages(root string) ([]codeMessage, error) {
	mod, err := os.ReadFile(filepath.Join(root, "go.mod"))
	if err != nil {
		return nil, err
	}
	s := &codeScan{
		module: strings.TrimSpace(strings.TrimPrefix(strings.SplitN(string(mod), "\n", 2)[0], "module")),
		fset:   token.NewFileSet(), pkgs: map[string]*pkgInfo{}, assigned: map[string][]fieldValue{},
		fields: map[string]bool{}, params: map[*ast.FuncDecl]map[int]bool{},
		visiting: map[string]bool{}, messages: map[string]codeMessage{}, memos: map[memoKey][]pattern{},
	}
	var dirs []string
	for _, top := range []string{"pkg", "cmd"} {
		err := filepath.Walk(filepath.Join(root, top), func(path string, info os.FileInfo, err error) error {
			if err == nil && info.IsDir() && info.Name() != "testdata" {
				dirs = append(dirs, path)
			}
			return err
		})
		if err != nil {
			return nil, err
		}
	}
	for len(dirs) > 0 {
		dir := dirs[0]
		dirs = dirs[1:]
		rel, err := filepath.Rel(root, dir)
		if err != nil {
			return nil, err
		}
		path := s.module + "/" + filepath.ToSlash(rel)
		if s.pkgs[path] != nil {
			continue
		}
		p, err := s.parseDir(path, dir)
		if err != nil {
			return nil, err
		}
		if p == nil {
			continue
		}
		for _, f := range p.files {
			for _, imp := range f.Imports {
				ip, _ := strconv.Unquote(imp.Path.Value)
				if strings.HasPrefix(ip, s.module+"/internal/") && s.pkgs[ip] == nil {
					dirs = append(dirs, filepath.Join(root, filepath.FromSlash(strings.TrimPrefix(ip, s.module+"/"))))
				}
			}
		}
	}
	s.findSinks()
	var out []codeMessage
	for _, m := range s.messages {
		out = append(out, m)
	}
	sort.Slice(out, func(i, j int) bool {
		if out[i].pos != out[j].pos {
			return out[i].pos < out[j].pos
		}
		if out[i].line != out[j].line {
			return out[i].line < out[j].line
		}
		return out[i].pat.String() < out[j].pat.String()
	})
	return out, nil
}

// parseDir parses the non-test Go files of one directory; an empty
// package is recorded as such and returned as nil.
func (s *codeScan) parseDir(path, dir string) (*pkgInfo, error) {
	p := &pkgInfo{values: map[string]ast.Expr{}, funcs: map[string]*ast.FuncDecl{}, methods: map[string][]*ast.FuncDecl{}, structs: map[string][]structField{}}
	s.pkgs[path] = p
	entries, err := os.ReadDir(dir)
	if err != nil {
		return nil, err
	}
	for _, e := range entries {
		name := e.Name()
		if e.IsDir() || !strings.HasSuffix(name, ".go") || strings.HasSuffix(name, "_test.go") {
			continue
		}
		f, err := parser.ParseFile(s.fset, filepath.Join(dir, name), nil, parser.SkipObjectResolution)
		if err != nil {
			return nil, err
		}
		p.name = f.Name.Name
		p.files = append(p.files, f)
		for _, d := range f.Decls {
			switch d := d.(type) {
			case *ast.FuncDecl:
				if d.Recv == nil {
					p.funcs[d.Name.Name] = d
				} else {
					p.methods[d.Name.Name] = append(p.methods[d.Name.Name], d)
				}
			case *ast.GenDecl:
				for _, spec := range d.Specs {
					switch spec := spec.(type) {
					case *ast.ValueSpec:
						for i, n := range spec.Names {
							if i < len(spec.Values) {
								p.values[n.Name] = spec.Values[i]
							}
						}
					case *ast.TypeSpec:
						if st, ok := spec.Type.(*ast.StructType); ok {
							var fields []structField
							for _, f := range st.Fields.List {
								typ := baseType(f.Type)
								if len(f.Names) == 0 {
									fields = append(fields, structField{typ, typ})
								}
								for _, n := range f.Names {
									fields = append(fields, structField{n.Name, typ})
								}
							}
							p.structs[spec.Name.Name] = fields
						}
					}
				}
			}
		}
	}
	if len(p.files) == 0 {
		return nil, nil
	}
	return p, nil
}

// findSinks evaluates every sink, then the values of the fields and
// parameters the messages read, until no new one is found.
func (s *codeScan) findSinks() {
	for _, p := range s.pkgs {
		for _, f := range p.files {
			ast.Inspect(f, func(n ast.Node) bool {
				fn, ok := n.(*ast.FuncDecl)
				if !ok {
					return true
				}
				fr := frame{pkg: p, file: f, fn: fn}
				if fn.Recv != nil && fn.Name.Name == "Error" && fn.Body != nil {
					ast.Inspect(fn.Body, func(n ast.Node) bool {
						if r, ok := n.(*ast.ReturnStmt); ok && len(r.Results) == 1 {
							s.add(r.Results[0], s.eval(fr, r.Results[0], 0))
						}
						_, lit := n.(*ast.FuncLit)
						return !lit
					})
				}
				if fn.Body != nil {
					ast.Inspect(fn.Body, func(n ast.Node) bool {
						if call, ok := n.(*ast.CallExpr); ok {
							s.sinkCall(fr, call)
						}
						return true
					})
				}
				return false
			})
			// Package-level sinks: var ErrX = errors.New("...").
			for _, d := range f.Decls {
				if g, ok := d.(*ast.GenDecl); ok {
					ast.Inspect(g, func(n ast.Node) bool {
						if call, ok := n.(*ast.CallExpr); ok {
							s.sinkCall(frame{pkg: p, file: f}, call)
						}
						return true
					})
				}
			}
		}
	}
	done := map[string]bool{}
	paramsDone := map[*ast.FuncDecl]map[int]bool{}
	for {
		found := false
		for field := range s.fields {
			if !done[field] {
				done[field] = true
				found = true
				s.fieldValues(field)
			}
		}
		for fn, idx := range s.params {
			for i := range idx {
				if paramsDone[fn] == nil {
					paramsDone[fn] = map[int]bool{}
				}
				if !paramsDone[fn][i] {
					paramsDone[fn][i] = true
					found = true
					s.argumentValues(fn, i)
				}
			}
		}
		if !found {
			return
		}
	}
}

// sinkCall records the message of call when it is a sink.
func (s *codeScan) sinkCall(fr frame, call *ast.CallExpr) {
	pkg, name := calleeName(call)
	switch {
	case pkg == "errors" && name == "New" && len(call.Args) == 1:
		s.sinkWhole(fr, call.Args[0], nil)
		s.add(call, s.eval(fr, call.Args[0], 0))
	case isSinkName(name):
		if len(call.Args) > 0 {
			s.sinkWhole(fr, call.Args[0], call.Args[1:])
			s.add(call, s.format(fr, call.Args[0], call.Args[1:], 0))
		}
	case pkg == "fmt" && strings.HasPrefix(name, "Fprint") && len(call.Args) > 1 && isErrStream(call.Args[0]):
		if name == "Fprintf" {
			s.add(call, s.format(fr, call.Args[1], call.Args[2:], 0))
			return
		}
		msg := pattern{}
		for i, a := range call.Args[1:] {
			if i > 0 && name == "Fprintln" {
				msg = msg.concat(literal(" "))
			}
			msg = msg.concat(s.one(s.eval(fr, a, 0)))
		}
		s.add(call, []pattern{msg})
	}
}

// isSinkName reports whether a function of that name prints or returns
// the message it formats: fmt.Errorf, usageErrorf, IOStreams.Warnf.
func isSinkName(name string) bool {
	return strings.HasSuffix(name, "Errorf") || strings.HasSuffix(name, "Warnf")
}

// sinkWhole notes a parameter of the enclosing function that is a whole
// message (errors.New(msg), Warnf(msg), Warnf("%s", msg)): every argument
// given for it is a message too.
func (s *codeScan) sinkWhole(fr frame, format ast.Expr, args []ast.Expr) {
	whole := format
	if lit, ok := format.(*ast.BasicLit); ok && len(args) == 1 && (lit.Value == `"%s"` || lit.Value == `"%v"`) {
		whole = args[0]
	}
	id, ok := whole.(*ast.Ident)
	if !ok || fr.fn == nil || isSinkName(fr.fn.Name.Name) {
		return
	}
	if i := paramIndex(fr.fn, id.Name); i >= 0 {
		if s.params[fr.fn] == nil {
			s.params[fr.fn] = map[int]bool{}
		}
		s.params[fr.fn][i] = true
	}
}

// add records each line of each pattern of a message.
func (s *codeScan) add(at ast.Node, pats []pattern) {
	pos := s.fset.Position(at.Pos())
	where := fmt.Sprintf("%s:%d", filepath.ToSlash(filepath.Join(filepath.Base(filepath.Dir(pos.Filename)), filepath.Base(pos.Filename))), pos.Line)
	for _, p := range pats {
		for i, line := range p.lines() {
			if len(line.fixed()) == 0 {
				continue
			}
			s.messages[fmt.Sprintf("%s\x00%d\x00%s", where, i, line.key())] = codeMessage{pos: where, line: i, pat: line}
		}
	}
}

// fieldValue is a value assigned to a field, where, and the name of the
// type whose field it is ("" when that is not plain to see).
type fieldValue struct {
	fr   frame
	at   ast.Node
	expr ast.Expr
	typ  string
}

// fieldAssignments are the values assigned to a field of that name, of
// any type: F: value in a composite literal, x.F = value, x.F[k] = value.
func (s *codeScan) fieldAssignments(field string) []fieldValue {
	if out, ok := s.assigned[field]; ok {
		return out
	}
	out := []fieldValue{}
	defer func() { s.assigned[field] = out }()
	elided := map[*ast.CompositeLit]string{}
	for _, p := range s.pkgs {
		for _, f := range p.files {
			for _, d := range f.Decls {
				fr := frame{pkg: p, file: f}
				if fn, ok := d.(*ast.FuncDecl); ok {
					fr.fn = fn
				}
				ast.Inspect(d, func(n ast.Node) bool {
					switch n := n.(type) {
					case *ast.CompositeLit:
						typ := baseType(n.Type)
						switch n.Type.(type) {
						case *ast.ArrayType, *ast.MapType:
							// []T{{...}}: the elements are T, their type elided.
							for _, el := range n.Elts {
								if kv, ok := el.(*ast.KeyValueExpr); ok {
									el = kv.Value
								}
								if c, ok := el.(*ast.CompositeLit); ok && c.Type == nil {
									elided[c] = typ
								}
							}
							return true
						case nil:
							typ = elided[n]
						}
						for i, el := range n.Elts {
							if kv, ok := el.(*ast.KeyValueExpr); ok {
								if k, ok := kv.Key.(*ast.Ident); ok && k.Name == field {
									out = append(out, fieldValue{fr, kv, kv.Value, typ})
								}
								continue
							}
							// T{a, b}: the fields in the order of T's declaration.
							for _, q := range s.pkgs {
								if fields := q.structs[typ]; i < len(fields) && fields[i].name == field {
									out = append(out, fieldValue{fr, el, el, typ})
								}
							}
						}
					case *ast.AssignStmt:
						for i, l := range n.Lhs {
							if ix, ok := l.(*ast.IndexExpr); ok {
								l = ix.X
							}
							if sel, ok := l.(*ast.SelectorExpr); ok && sel.Sel.Name == field && len(n.Rhs) == len(n.Lhs) {
								out = append(out, fieldValue{fr, n, n.Rhs[i], s.typeName(fr, sel.X)})
							}
						}
					}
					return true
				})
			}
		}
	}
	return out
}

// fieldValues records as messages the values assigned to a field that a
// message reads (the elements of x.F = append(x.F, ...) for a list).
func (s *codeScan) fieldValues(field string) {
	for _, v := range s.fieldAssignments(field) {
		s.add(v.at, s.elements(v.fr, v.expr, 0))
	}
}

// field is the texts field name of x may hold: a hole (it may be set
// where the module does not say, decoded from the API server), and, when
// the type of x is plain to see, each value the module assigns to that
// field of that type, unless there are too many (a name, not a message).
func (s *codeScan) field(fr frame, x ast.Expr, name string, depth int) []pattern {
	s.readField(name)
	typ := s.typeName(fr, x)
	if answerFields[name] != "" || typ == "" {
		return []pattern{holePattern}
	}
	return s.memo(memoKey{field: typ + "." + name, kind: 'f'}, depth, func() []pattern {
		out := []pattern{holePattern}
		for _, v := range s.fieldAssignments(name) {
			if v.typ != typ {
				continue
			}
			if lit, ok := v.expr.(*ast.BasicLit); ok && lit.Value == `""` {
				continue // the zero value, said explicitly
			}
			out = union(out, s.elements(v.fr, v.expr, depth+1))
			if len(out) > maxAlternatives {
				return []pattern{holePattern}
			}
		}
		return wordless(out)
	})
}

// elements are the texts of a value that is a string, or of the
// elements of one that is a list.
func (s *codeScan) elements(fr frame, e ast.Expr, depth int) []pattern {
	if call, ok := e.(*ast.CallExpr); ok {
		if _, name := calleeName(call); name == "append" {
			var out []pattern
			for i, a := range call.Args[1:] {
				if call.Ellipsis.IsValid() && i == len(call.Args)-2 {
					out = append(out, s.list(fr, a, depth)...)
				} else {
					out = append(out, s.eval(fr, a, depth)...)
				}
			}
			return out
		}
	}
	if c, ok := e.(*ast.CompositeLit); ok {
		var out []pattern
		for _, el := range c.Elts {
			if kv, ok := el.(*ast.KeyValueExpr); ok {
				el = kv.Value
			}
			out = append(out, s.eval(fr, el, depth)...)
		}
		return out
	}
	return s.eval(fr, e, depth)
}

// argumentValues records as messages the arguments given for parameter i
// of fn, at every call of a function or method of its name.
func (s *codeScan) argumentValues(fn *ast.FuncDecl, i int) {
	for _, p := range s.pkgs {
		for _, f := range p.files {
			for _, d := range f.Decls {
				fr := frame{pkg: p, file: f}
				if fd, ok := d.(*ast.FuncDecl); ok {
					fr.fn = fd
				}
				ast.Inspect(d, func(n ast.Node) bool {
					call, ok := n.(*ast.CallExpr)
					if !ok || i >= len(call.Args) {
						return true
					}
					if _, name := calleeName(call); name == fn.Name.Name && s.resolve(fr, call) != nil {
						for _, target := range s.resolve(fr, call) {
							if target == fn {
								s.add(call, s.eval(fr, call.Args[i], 0))
							}
						}
					}
					return true
				})
			}
		}
	}
}

// memoKey names an evaluation already made: of a node, as a text ('e'),
// a list ('l') or result idx of a call ('c'); or of a field ('f').
type memoKey struct {
	node  ast.Node
	field string
	kind  byte
	idx   int
}

// memo returns the remembered result of an evaluation, or makes it. A
// value whose evaluation is under way (a cycle) is a hole.
func (s *codeScan) memo(k memoKey, depth int, eval func() []pattern) []pattern {
	if v, ok := s.memos[k]; ok {
		return v
	}
	if depth > maxDepth {
		return []pattern{holePattern}
	}
	s.memos[k] = []pattern{holePattern}
	v := eval()
	s.memos[k] = v
	return v
}

// eval returns the texts e may have.
func (s *codeScan) eval(fr frame, e ast.Expr, depth int) []pattern {
	return s.memo(memoKey{node: e, kind: 'e'}, depth, func() []pattern { return s.evalExpr(fr, e, depth) })
}

func (s *codeScan) evalExpr(fr frame, e ast.Expr, depth int) []pattern {
	switch e := e.(type) {
	case *ast.BasicLit:
		if e.Kind == token.STRING {
			if v, err := strconv.Unquote(e.Value); err == nil {
				return []pattern{literal(v)}
			}
		}
	case *ast.ParenExpr:
		return s.eval(fr, e.X, depth)
	case *ast.BinaryExpr:
		if e.Op == token.ADD {
			return cross(s.eval(fr, e.X, depth+1), s.eval(fr, e.Y, depth+1))
		}
	case *ast.Ident:
		return s.ident(fr, e, depth)
	case *ast.SelectorExpr:
		if x, ok := e.X.(*ast.Ident); ok {
			if p := s.imported(fr, x.Name); p != nil {
				if v, ok := p.values[e.Sel.Name]; ok {
					return s.eval(frame{pkg: p, file: fileOf(p, v)}, v, depth+1)
				}
				return []pattern{holePattern}
			}
			if importsName(fr.file, x.Name) {
				return []pattern{holePattern}
			}
		}
		return s.field(fr, e.X, e.Sel.Name, depth+1)
	case *ast.CallExpr:
		return s.call(fr, e, 0, depth)
	case *ast.IndexExpr:
		return s.list(fr, e.X, depth+1)
	}
	return []pattern{holePattern}
}

// answerFields are fields that hold an answer, not a message: printed
// as the result of a command, and quoted after a colon when a refusal
// gives it as its cause.
var answerFields = map[string]string{
	"Message": "what explain and policies answer (enroll.Resolution, policy.Policy and Attachment)",
}

// readField notes a field that a message reads.
func (s *codeScan) readField(name string) {
	if answerFields[name] == "" {
		s.fields[name] = true
	}
}

// one is the patterns as one: itself when there is one, else a hole.
func (s *codeScan) one(pats []pattern) pattern {
	if len(pats) == 1 {
		return pats[0]
	}
	return holePattern
}

// ident evaluates a name: a parameter is a hole, a local variable every
// value assigned to it, a package-level constant or variable its value.
func (s *codeScan) ident(fr frame, id *ast.Ident, depth int) []pattern {
	name := id.Name
	if name == "nil" || name == "true" || name == "false" {
		return []pattern{holePattern}
	}
	if fr.fn != nil {
		if paramIndex(fr.fn, name) >= 0 || isFuncLitParam(fr.fn, name) {
			return []pattern{holePattern}
		}
		key := fmt.Sprintf("%p/%s", fr.fn, name)
		if s.visiting[key] {
			return []pattern{holePattern}
		}
		s.visiting[key] = true
		defer delete(s.visiting, key)
		found := false
		vals := s.flow(fr, fr.fn.Body.List, name, nil, id.Pos(), depth, &found)
		if found {
			if len(vals) == 0 {
				vals = []pattern{holePattern}
			}
			return vals
		}
	}
	if v, ok := fr.pkg.values[name]; ok {
		return s.eval(frame{pkg: fr.pkg, file: fileOf(fr.pkg, v)}, v, depth+1)
	}
	return []pattern{holePattern}
}

// theEnd is a position after every statement.
const theEnd = token.Pos(1 << 60)

// flow follows the statements before at (a use of the variable name),
// in order, and returns the values name may hold there: = and := set
// them, += appends to each; either branch of an if, any case of a switch
// (or none without a default) may be taken, a loop's body or not. A
// branch that ends in a return leaves nothing behind. found is set when
// name is assigned or declared.
func (s *codeScan) flow(fr frame, stmts []ast.Stmt, name string, vals []pattern, at token.Pos, depth int, found *bool) []pattern {
	for _, st := range stmts {
		if st.Pos() >= at {
			break
		}
		inside := at < st.End()
		switch st := st.(type) {
		case *ast.AssignStmt:
			if !inside {
				vals = s.assign(fr, st, name, vals, depth, found)
			}
		case *ast.DeclStmt:
			if g, ok := st.Decl.(*ast.GenDecl); ok {
				for _, spec := range g.Specs {
					if vs, ok := spec.(*ast.ValueSpec); ok {
						for i, id := range vs.Names {
							if id.Name != name {
								continue
							}
							*found = true
							vals = []pattern{literal("")}
							if i < len(vs.Values) {
								vals = s.eval(fr, vs.Values[i], depth+1)
							}
						}
					}
				}
			}
		case *ast.LabeledStmt:
			vals = s.flow(fr, []ast.Stmt{st.Stmt}, name, vals, at, depth, found)
		case *ast.BlockStmt:
			vals = s.flow(fr, st.List, name, vals, at, depth, found)
		case *ast.IfStmt:
			if st.Init != nil {
				vals = s.flow(fr, []ast.Stmt{st.Init}, name, vals, at, depth, found)
			}
			switch {
			case inside && within(at, st.Body):
				return s.flow(fr, st.Body.List, name, vals, at, depth, found)
			case inside && st.Else != nil && within(at, st.Else):
				return s.flow(fr, []ast.Stmt{st.Else}, name, vals, at, depth, found)
			case inside:
				return vals
			}
			var out []pattern
			if !endsInReturn(st.Body.List) {
				out = s.flow(fr, st.Body.List, name, vals, theEnd, depth, found)
			}
			switch {
			case st.Else == nil:
				out = union(out, vals)
			case !endsInReturn([]ast.Stmt{st.Else}):
				out = union(out, s.flow(fr, []ast.Stmt{st.Else}, name, vals, theEnd, depth, found))
			}
			vals = out
		case *ast.SwitchStmt, *ast.TypeSwitchStmt:
			var init ast.Stmt
			var body *ast.BlockStmt
			if sw, ok := st.(*ast.SwitchStmt); ok {
				init, body = sw.Init, sw.Body
			} else {
				sw := st.(*ast.TypeSwitchStmt)
				init, body = sw.Init, sw.Body
			}
			if init != nil {
				vals = s.flow(fr, []ast.Stmt{init}, name, vals, at, depth, found)
			}
			var out []pattern
			hasDefault := false
			for _, c := range body.List {
				cc := c.(*ast.CaseClause)
				hasDefault = hasDefault || cc.List == nil
				if inside && within(at, cc) {
					return s.flow(fr, cc.Body, name, vals, at, depth, found)
				}
				if !endsInReturn(cc.Body) {
					out = union(out, s.flow(fr, cc.Body, name, vals, theEnd, depth, found))
				}
			}
			if inside {
				return vals
			}
			if !hasDefault {
				out = union(out, vals)
			}
			vals = out
		case *ast.ForStmt, *ast.RangeStmt:
			var body *ast.BlockStmt
			if f, ok := st.(*ast.ForStmt); ok {
				body = f.Body
			} else {
				r := st.(*ast.RangeStmt)
				body = r.Body
				for _, x := range []ast.Expr{r.Key, r.Value} {
					if id, ok := x.(*ast.Ident); ok && id.Name == name {
						*found = true
						vals = []pattern{holePattern}
					}
				}
			}
			if inside {
				if within(at, body) {
					return s.flow(fr, body.List, name, vals, at, depth, found)
				}
				return vals
			}
			vals = union(vals, s.flow(fr, body.List, name, vals, theEnd, depth, found))
		}
		if len(vals) > maxAlternatives {
			vals = []pattern{holePattern}
		}
		if inside {
			// In a function literal: its statements, up to the use.
			var body *ast.BlockStmt
			ast.Inspect(st, func(n ast.Node) bool {
				if lit, ok := n.(*ast.FuncLit); ok && within(at, lit.Body) {
					body = lit.Body
				}
				return true
			})
			if body != nil {
				return s.flow(fr, body.List, name, vals, at, depth, found)
			}
			break
		}
	}
	return vals
}

// assign applies an assignment to the values of name.
func (s *codeScan) assign(fr frame, a *ast.AssignStmt, name string, vals []pattern, depth int, found *bool) []pattern {
	for i, l := range a.Lhs {
		id, ok := l.(*ast.Ident)
		if !ok || id.Name != name {
			continue
		}
		*found = true
		switch {
		case a.Tok == token.ADD_ASSIGN:
			if len(vals) == 0 {
				vals = []pattern{holePattern}
			}
			vals = cross(vals, s.eval(fr, a.Rhs[0], depth+1))
		case len(a.Rhs) == len(a.Lhs):
			vals = s.eval(fr, a.Rhs[i], depth+1)
		case len(a.Rhs) == 1:
			vals = []pattern{holePattern}
			if call, ok := a.Rhs[0].(*ast.CallExpr); ok {
				vals = s.call(fr, call, i, depth+1)
			}
		}
	}
	return vals
}

// within reports whether pos is inside n.
func within(pos token.Pos, n ast.Node) bool {
	return n.Pos() <= pos && pos < n.End()
}

// endsInReturn reports whether a block ends in a return (after a break
// or a continue, what it assigned is still there after the loop).
func endsInReturn(stmts []ast.Stmt) bool {
	if len(stmts) == 0 {
		return false
	}
	switch last := stmts[len(stmts)-1].(type) {
	case *ast.ReturnStmt:
		return true
	case *ast.BlockStmt:
		return endsInReturn(last.List)
	}
	return false
}

// union is a and b, each pattern once.
func union(a, b []pattern) []pattern {
	out := append([]pattern{}, a...)
	seen := map[string]bool{}
	for _, p := range a {
		seen[p.key()] = true
	}
	for _, p := range b {
		if !seen[p.key()] {
			seen[p.key()] = true
			out = append(out, p)
		}
	}
	return out
}

// list is every element a list value may hold: the elements appended to
// a local variable, or of a composite literal, or the lists a function
// returns.
func (s *codeScan) list(fr frame, e ast.Expr, depth int) []pattern {
	return s.memo(memoKey{node: e, kind: 'l'}, depth, func() []pattern { return s.listExpr(fr, e, depth) })
}

func (s *codeScan) listExpr(fr frame, e ast.Expr, depth int) []pattern {
	switch e := e.(type) {
	case *ast.CompositeLit:
		return s.elements(fr, e, depth)
	case *ast.Ident:
		if fr.fn == nil || paramIndex(fr.fn, e.Name) >= 0 {
			return []pattern{holePattern}
		}
		key := fmt.Sprintf("%p/[]%s", fr.fn, e.Name)
		if s.visiting[key] {
			return nil
		}
		s.visiting[key] = true
		defer delete(s.visiting, key)
		var out []pattern
		ast.Inspect(fr.fn.Body, func(n ast.Node) bool {
			a, ok := n.(*ast.AssignStmt)
			if !ok {
				return true
			}
			for i, l := range a.Lhs {
				if ix, ok := l.(*ast.IndexExpr); ok {
					l = ix.X
					if id, ok := l.(*ast.Ident); ok && id.Name == e.Name && len(a.Rhs) == len(a.Lhs) {
						out = append(out, s.eval(fr, a.Rhs[i], depth+1)...)
					}
					continue
				}
				if id, ok := l.(*ast.Ident); ok && id.Name == e.Name && len(a.Rhs) == len(a.Lhs) {
					out = append(out, s.elements(fr, a.Rhs[i], depth+1)...)
				}
			}
			return true
		})
		if len(out) == 0 {
			return []pattern{holePattern}
		}
		return out
	case *ast.CallExpr:
		var out []pattern
		for _, r := range s.returns(fr, e, 0) {
			out = append(out, s.list(r.fr, r.expr, depth+1)...)
		}
		if len(out) == 0 {
			return []pattern{holePattern}
		}
		return out
	case *ast.SelectorExpr:
		if x, ok := e.X.(*ast.Ident); !ok || (s.imported(fr, x.Name) == nil && !importsName(fr.file, x.Name)) {
			return s.field(fr, e.X, e.Sel.Name, depth+1)
		}
	}
	return []pattern{holePattern}
}

// call evaluates result i of a call.
func (s *codeScan) call(fr frame, call *ast.CallExpr, i, depth int) []pattern {
	return s.memo(memoKey{node: call, kind: 'c', idx: i}, depth, func() []pattern { return s.callExpr(fr, call, i, depth) })
}

func (s *codeScan) callExpr(fr frame, call *ast.CallExpr, i, depth int) []pattern {
	pkg, name := calleeName(call)
	switch {
	case pkg == "fmt" && (name == "Sprintf" || name == "Errorf") && len(call.Args) > 0:
		return s.format(fr, call.Args[0], call.Args[1:], depth)
	case pkg == "errors" && name == "New" && len(call.Args) == 1:
		return s.eval(fr, call.Args[0], depth+1)
	case pkg == "strings" && name == "Join" && len(call.Args) == 2:
		// One element, or one and more after the separator (a line each
		// when that is a newline).
		out := []pattern{holePattern}
		seps := s.eval(fr, call.Args[1], depth+1)
		more := cross(seps, []pattern{holePattern})
		lines := len(seps) == 1 && strings.Contains(seps[0].String(), "\n")
		for _, e := range s.list(fr, call.Args[0], depth+1) {
			if e.key() != holePattern.key() {
				out = append(out, e)
				if !lines {
					out = append(out, cross([]pattern{e}, more)...)
				}
			}
		}
		return out
	case pkg == "strings" && strings.HasPrefix(name, "Trim") && len(call.Args) > 0:
		return s.eval(fr, call.Args[0], depth+1)
	case name == "Error" && len(call.Args) == 0:
		return []pattern{holePattern}
	}
	var out []pattern
	for _, r := range s.returns(fr, call, i) {
		out = union(out, s.eval(r.fr, r.expr, depth+1))
	}
	return wordless(out)
}

// wordless is a value that came from elsewhere (a function's result, a
// field), or a hole when it is too many texts or none with a letter in
// its fixed text: a name ("…/…") or nothing, which say no more than a
// hole and would only multiply the forms of a message.
func wordless(vals []pattern) []pattern {
	if len(vals) == 0 || len(vals) > maxAlternatives {
		return []pattern{holePattern}
	}
	for _, v := range vals {
		for _, f := range v.fixed() {
			if strings.IndexFunc(f, unicode.IsLetter) >= 0 {
				return vals
			}
		}
	}
	return []pattern{holePattern}
}

// returned is an expression a function returns, and where it is.
type returned struct {
	fr   frame
	expr ast.Expr
}

// returns are the expressions the module's functions of the call's name
// return as result i.
func (s *codeScan) returns(fr frame, call *ast.CallExpr, i int) []returned {
	var out []returned
	for _, fn := range s.resolve(fr, call) {
		key := fmt.Sprintf("%p/return", fn)
		if s.visiting[key] || fn.Body == nil {
			continue
		}
		s.visiting[key] = true
		p, f := s.declaring(fn)
		callee := frame{pkg: p, file: f, fn: fn}
		ast.Inspect(fn.Body, func(n ast.Node) bool {
			if r, ok := n.(*ast.ReturnStmt); ok && i < len(r.Results) {
				out = append(out, returned{callee, r.Results[i]})
			}
			_, lit := n.(*ast.FuncLit)
			return !lit
		})
		delete(s.visiting, key)
	}
	return out
}

// resolve finds the module's functions a call may run: F() of the same
// package, pkg.F() of another, x.M() by the method's name in any package.
func (s *codeScan) resolve(fr frame, call *ast.CallExpr) []*ast.FuncDecl {
	switch fun := call.Fun.(type) {
	case *ast.Ident:
		if fn := fr.pkg.funcs[fun.Name]; fn != nil {
			return []*ast.FuncDecl{fn}
		}
	case *ast.SelectorExpr:
		if x, ok := fun.X.(*ast.Ident); ok {
			if p := s.imported(fr, x.Name); p != nil {
				if fn := p.funcs[fun.Sel.Name]; fn != nil {
					return []*ast.FuncDecl{fn}
				}
				return nil
			}
			if importsName(fr.file, x.Name) {
				return nil
			}
		}
		// A method: of the receiver's type when its type is plain to see,
		// else every method of that name.
		recv := s.typeName(fr, fun.X)
		var out, named []*ast.FuncDecl
		for _, p := range s.pkgs {
			for _, m := range p.methods[fun.Sel.Name] {
				out = append(out, m)
				if recv != "" && baseType(m.Recv.List[0].Type) == recv {
					named = append(named, m)
				}
			}
		}
		if len(named) > 0 {
			return named
		}
		return out
	}
	return nil
}

// typeName is the name of the type of x when it is plain to see: a
// receiver or parameter, a range variable over one, a composite literal.
func (s *codeScan) typeName(fr frame, x ast.Expr) string {
	switch x := x.(type) {
	case *ast.CompositeLit:
		return baseType(x.Type)
	case *ast.UnaryExpr:
		return s.typeName(fr, x.X)
	case *ast.SelectorExpr:
		// x.F: the type of field F of x's struct type.
		owner := s.typeName(fr, x.X)
		for _, p := range s.pkgs {
			for _, f := range p.structs[owner] {
				if f.name == x.Sel.Name {
					return f.typ
				}
			}
		}
		return ""
	case *ast.ParenExpr:
		return s.typeName(fr, x.X)
	case *ast.CallExpr:
		name := ""
		for _, fn := range s.resolve(fr, x) {
			if fn.Type.Results == nil || len(fn.Type.Results.List) == 0 {
				return ""
			}
			t := baseType(fn.Type.Results.List[0].Type)
			if name != "" && t != name {
				return ""
			}
			name = t
		}
		return name
	case *ast.Ident:
		if fr.fn == nil {
			return ""
		}
		var fields []*ast.Field
		if fr.fn.Recv != nil {
			fields = append(fields, fr.fn.Recv.List...)
		}
		fields = append(fields, fr.fn.Type.Params.List...)
		for _, f := range fields {
			for _, n := range f.Names {
				if n.Name == x.Name {
					return baseType(f.Type)
				}
			}
		}
		name := ""
		ast.Inspect(fr.fn.Body, func(n ast.Node) bool {
			switch n := n.(type) {
			case *ast.RangeStmt:
				if v, ok := n.Value.(*ast.Ident); ok && v.Name == x.Name {
					name = s.typeName(fr, n.X)
				}
			case *ast.AssignStmt:
				for i, l := range n.Lhs {
					if id, ok := l.(*ast.Ident); ok && id.Name == x.Name && len(n.Rhs) == len(n.Lhs) {
						if c, ok := n.Rhs[i].(*ast.CompositeLit); ok {
							name = baseType(c.Type)
						}
					}
				}
			}
			return name == ""
		})
		return name
	}
	return ""
}

// baseType is the name of a type without its package, pointer, slice or
// map: Loss for []policy.Loss.
func baseType(t ast.Expr) string {
	switch t := t.(type) {
	case *ast.Ident:
		return t.Name
	case *ast.StarExpr:
		return baseType(t.X)
	case *ast.ArrayType:
		return baseType(t.Elt)
	case *ast.MapType:
		return baseType(t.Value)
	case *ast.SelectorExpr:
		return t.Sel.Name
	case *ast.IndexExpr:
		return baseType(t.X)
	}
	return ""
}

// declaring is the package and file that hold fn.
func (s *codeScan) declaring(fn *ast.FuncDecl) (*pkgInfo, *ast.File) {
	for _, p := range s.pkgs {
		for _, f := range p.files {
			if f.Pos() <= fn.Pos() && fn.End() <= f.End() {
				return p, f
			}
		}
	}
	return nil, nil
}

// verbRE matches a verb of a format string (or %%).
var verbRE = regexp.MustCompile(`%[-+# 0-9.*\[\]]*[a-zA-Z%]`)

// format evaluates a format string and its arguments: %s and %v take the
// argument's texts, %q the same in quotes, other verbs are holes.
func (s *codeScan) format(fr frame, formatExpr ast.Expr, args []ast.Expr, depth int) []pattern {
	var out []pattern
	for _, f := range s.eval(fr, formatExpr, depth+1) {
		alts := []pattern{{}}
		arg := 0
		for _, x := range f {
			if x.hole {
				alts = cross(alts, []pattern{holePattern})
				continue
			}
			text, at := x.text, 0
			for _, loc := range verbRE.FindAllStringIndex(text, -1) {
				alts = cross(alts, []pattern{literal(text[at:loc[0]])})
				verb := text[loc[0]:loc[1]]
				at = loc[1]
				if verb == "%%" {
					alts = cross(alts, []pattern{literal("%")})
					continue
				}
				var val []pattern
				switch last := verb[len(verb)-1]; {
				case arg >= len(args):
					val = []pattern{holePattern}
				case last == 's' || last == 'v':
					val = s.stringer(fr, args[arg], depth+1)
				case last == 'q':
					val = cross(cross([]pattern{literal(`"`)}, s.eval(fr, args[arg], depth+1)), []pattern{literal(`"`)})
				default:
					s.eval(fr, args[arg], depth+1) // for the fields it reads
					val = []pattern{holePattern}
				}
				arg++
				alts = cross(alts, val)
			}
			alts = cross(alts, []pattern{literal(text[at:])})
		}
		out = append(out, alts...)
	}
	if len(out) > maxAlternatives {
		return []pattern{holePattern}
	}
	return out
}

// stringer evaluates what %s and %v print: the String method of the
// value's type when its type is plain to see and has one.
func (s *codeScan) stringer(fr frame, e ast.Expr, depth int) []pattern {
	val := s.eval(fr, e, depth)
	if len(val) != 1 || val[0].key() != holePattern.key() {
		return val
	}
	name := s.typeName(fr, e)
	if name == "" {
		return val
	}
	var out []pattern
	for _, p := range s.pkgs {
		for _, m := range p.methods["String"] {
			if baseType(m.Recv.List[0].Type) != name || m.Body == nil {
				continue
			}
			callee := frame{pkg: p, file: fileOf(p, m), fn: m}
			ast.Inspect(m.Body, func(n ast.Node) bool {
				if r, ok := n.(*ast.ReturnStmt); ok && len(r.Results) == 1 {
					out = union(out, s.eval(callee, r.Results[0], depth+1))
				}
				_, lit := n.(*ast.FuncLit)
				return !lit
			})
		}
	}
	if len(out) == 0 || len(out) > maxAlternatives {
		return val
	}
	return out
}

// cross is every a followed by every b. When that is too many, b is
// taken as a hole, so that the text before it stays.
func cross(a, b []pattern) []pattern {
	if len(a)*len(b) > maxAlternatives {
		b = []pattern{holePattern}
	}
	var out []pattern
	seen := map[string]bool{}
	for _, x := range a {
		for _, y := range b {
			xy := x.concat(y)
			if key := xy.key(); !seen[key] {
				seen[key] = true
				out = append(out, xy)
			}
		}
	}
	return out
}

// calleeName is the package (or receiver) name and the name of a call's
// function.
func calleeName(call *ast.CallExpr) (string, string) {
	switch fn := call.Fun.(type) {
	case *ast.Ident:
		return "", fn.Name
	case *ast.SelectorExpr:
		if x, ok := fn.X.(*ast.Ident); ok {
			return x.Name, fn.Sel.Name
		}
		return "", fn.Sel.Name
	}
	return "", ""
}

// isErrStream reports whether w names a standard-error stream: stderr,
// os.Stderr, s.ErrOut, errOut.
func isErrStream(w ast.Expr) bool {
	name := ""
	switch w := w.(type) {
	case *ast.Ident:
		name = w.Name
	case *ast.SelectorExpr:
		name = w.Sel.Name
	}
	name = strings.ToLower(name)
	return name == "stderr" || name == "errout"
}

// imported is the module's package that a file imports under name.
func (s *codeScan) imported(fr frame, name string) *pkgInfo {
	if fr.file == nil {
		return nil
	}
	for _, imp := range fr.file.Imports {
		path, _ := strconv.Unquote(imp.Path.Value)
		p := s.pkgs[path]
		if p == nil {
			continue
		}
		if (imp.Name != nil && imp.Name.Name == name) || (imp.Name == nil && p.name == name) {
			return p
		}
	}
	return nil
}

// importsName reports whether a file imports some package under name.
func importsName(f *ast.File, name string) bool {
	if f == nil {
		return false
	}
	for _, imp := range f.Imports {
		path, _ := strconv.Unquote(imp.Path.Value)
		if (imp.Name != nil && imp.Name.Name == name) || (imp.Name == nil && (path == name || strings.HasSuffix(path, "/"+name))) {
			return true
		}
	}
	return false
}

// fileOf is the file of p that holds n.
func fileOf(p *pkgInfo, n ast.Node) *ast.File {
	for _, f := range p.files {
		if f.Pos() <= n.Pos() && n.End() <= f.End() {
			return f
		}
	}
	return nil
}

// paramIndex is the index of a parameter (or the receiver, -2, or a named
// result, -3) of fn, or -1.
func paramIndex(fn *ast.FuncDecl, name string) int {
	i := 0
	for _, field := range fn.Type.Params.List {
		for _, n := range field.Names {
			if n.Name == name {
				return i
			}
			i++
		}
		if len(field.Names) == 0 {
			i++
		}
	}
	if fn.Recv != nil {
		for _, field := range fn.Recv.List {
			for _, n := range field.Names {
				if n.Name == name {
					return -2
				}
			}
		}
	}
	if fn.Type.Results != nil {
		for _, field := range fn.Type.Results.List {
			for _, n := range field.Names {
				if n.Name == name {
					return -3
				}
			}
		}
	}
	return -1
}

// isFuncLitParam reports whether name is a parameter of a function
// literal inside fn.
func isFuncLitParam(fn *ast.FuncDecl, name string) bool {
	found := false
	ast.Inspect(fn, func(n ast.Node) bool {
		if lit, ok := n.(*ast.FuncLit); ok {
			for _, field := range lit.Type.Params.List {
				for _, id := range field.Names {
					if id.Name == name {
						found = true
					}
				}
			}
		}
		return !found
	})
	return found
}

// TestScanFindsMessages runs the scan on testdata/messages, which makes a
// message in each way the scan follows, and pins what it finds.
func TestScanFindsMessages(t *testing.T) {
	msgs, err := scanMessages(filepath.Join("testdata", "messages"))
	if err != nil {
		t.Fatal(err)
	}
	got := map[string]bool{}
	for _, m := range msgs {
		got[m.pat.String()] = true
	}
	for _, want := range []string{
		"a plain sentinel error",                                        // errors.New at package level
		"timed out waiting for waypoint … to be ready",                  // an Error method, Sprintf
		"timed out: … waypoints not ready; run it again with --force",   // a constant in a verb
		"namespace … is not in ambient mode; run it again with --force", // Warnf
		"skipped because the waypoint is used elsewhere",                // a field, a function's result
		"interrupted: finishing the requests in flight",                 // Fprintf to stderr
		"unknown waypoint …: …",                                         // a local variable, Join, %w
		"unknown waypoint …; did you mean …?: …",                        // += in a branch
		"no kubeconfig was found; set KUBECONFIG",                       // cmd/
	} {
		if !got[want] {
			t.Errorf("the scan did not find %q", want)
		}
	}
	if t.Failed() {
		for _, m := range msgs {
			t.Logf("found %s: %q", m.pos, m.pat)
		}
	}
}
