package docgen

import (
	"go/ast"
	"go/parser"
	"go/token"
	"os"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"testing"
)

// TestTroubleshootingCoversMessages finds every message the tool's code
// formats (fmt.Errorf, errors.New, usageErrorf, Warnf) and requires its
// longest fixed part to appear in docs/troubleshooting.md. Messages whose
// fixed parts are all short only wrap others ("cannot %s: %w").
func TestTroubleshootingCoversMessages(t *testing.T) {
	root := filepath.Join("..", "..")
	doc, err := os.ReadFile(filepath.Join(root, "docs", "troubleshooting.md"))
	if err != nil {
		t.Fatal(err)
	}
	text := string(doc)
	verb := regexp.MustCompile(`%[-+# 0-9.]*[a-zA-Z]`)
	checked := 0
	err = filepath.Walk(filepath.Join(root, "pkg"), func(path string, info os.FileInfo, err error) error {
		if err != nil || info.IsDir() || !strings.HasSuffix(path, ".go") || strings.HasSuffix(path, "_test.go") {
			return err
		}
		file, err := parser.ParseFile(token.NewFileSet(), path, nil, 0)
		if err != nil {
			return err
		}
		ast.Inspect(file, func(n ast.Node) bool {
			call, ok := n.(*ast.CallExpr)
			if !ok || len(call.Args) == 0 {
				return true
			}
			name := ""
			switch fn := call.Fun.(type) {
			case *ast.Ident:
				name = fn.Name
			case *ast.SelectorExpr:
				name = fn.Sel.Name
				if x, ok := fn.X.(*ast.Ident); ok {
					name = x.Name + "." + name
				}
			}
			switch {
			case name == "usageErrorf", name == "fmt.Errorf", name == "errors.New", strings.HasSuffix(name, "Warnf"):
			default:
				return true
			}
			lit, ok := call.Args[0].(*ast.BasicLit)
			if !ok || lit.Kind != token.STRING {
				return true
			}
			format, err := strconv.Unquote(lit.Value)
			if err != nil {
				return true
			}
			best := ""
			for _, part := range verb.Split(strings.ReplaceAll(format, "\n", " "), -1) {
				part = strings.Trim(part, " :;,.()")
				if len(part) > len(best) {
					best = part
				}
			}
			if len(best) < 15 {
				return true
			}
			checked++
			if !strings.Contains(text, best) {
				t.Errorf("%s: the message %q is not in docs/troubleshooting.md (looked for %q)", path, format, best)
			}
			return true
		})
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	if checked < 50 {
		t.Fatalf("found only %d messages: the scan is broken", checked)
	}
	t.Logf("%d messages documented", checked)
}
