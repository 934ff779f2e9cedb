package render

import (
	"bytes"
	"strings"
	"testing"
)

func TestRelaxedJSONPath(t *testing.T) {
	for in, want := range map[string]string{
		".metadata.name":   "{.metadata.name}",
		"metadata.name":    "{.metadata.name}",
		"{.metadata.name}": "{.metadata.name}",
		"{metadata.name}":  "{.metadata.name}",
		".items[0]":        "{.items[0]}",
	} {
		got, err := RelaxedJSONPath(in)
		if err != nil || got != want {
			t.Errorf("RelaxedJSONPath(%q) = %q, %v; want %q", in, got, err, want)
		}
	}
	for _, bad := range []string{"", "{.a}{.b}", "{{.a}"} {
		if got, err := RelaxedJSONPath(bad); err == nil {
			t.Errorf("RelaxedJSONPath(%q) = %q, want an error", bad, got)
		}
	}
}

func obj(name string, extra map[string]any) any {
	m := map[string]any{"metadata": map[string]any{"name": name}}
	for k, v := range extra {
		m[k] = v
	}
	return m
}

func TestSortOrder(t *testing.T) {
	items := []any{
		obj("c", map[string]any{"n": 10.0, "s": "b"}),
		obj("a", map[string]any{"n": 9.0, "s": "a"}),
		obj("b", nil),
		obj("d", map[string]any{"n": 10.0, "s": "a"}),
	}
	for _, tc := range []struct {
		path string
		want []int
	}{
		{".metadata.name", []int{1, 2, 0, 3}},
		{"{.n}", []int{2, 1, 0, 3}}, // missing first; 9 < 10 by value, not by text; ties stable
		{"s", []int{2, 1, 3, 0}},
	} {
		got, err := SortOrder(items, tc.path)
		if err != nil {
			t.Fatalf("SortOrder(%q): %v", tc.path, err)
		}
		if !equalInts(got, tc.want) {
			t.Errorf("SortOrder(%q) = %v, want %v", tc.path, got, tc.want)
		}
	}
	// Numbers sort before text, and a number below ten sorts by value.
	mixed := []any{obj("x", map[string]any{"v": "text"}), obj("y", map[string]any{"v": 2.0}), obj("z", map[string]any{"v": 10.0})}
	if got, _ := SortOrder(mixed, ".v"); !equalInts(got, []int{1, 2, 0}) {
		t.Errorf("mixed order = %v, want [1 2 0]", got)
	}
	if _, err := SortOrder(items, "{.a[}"); err == nil || !strings.Contains(err.Error(), `invalid --sort-by "{.a[}"`) {
		t.Errorf("bad path: %v", err)
	}
	if _, err := SortOrder(items, ""); err == nil {
		t.Error("empty path: no error")
	}
}

func equalInts(a, b []int) bool {
	if len(a) != len(b) {
		return false
	}
	for i := range a {
		if a[i] != b[i] {
			return false
		}
	}
	return true
}

func TestColumns(t *testing.T) {
	c, err := ParseColumns("NAME:.metadata.name,N:{.n},TAGS:.tags[*],OBJ:.o")
	if err != nil {
		t.Fatal(err)
	}
	if strings.Join(c.Headers, " ") != "NAME N TAGS OBJ" || c.Paths[0] != "{.metadata.name}" {
		t.Errorf("parsed %q %q", c.Headers, c.Paths)
	}
	items := []any{
		obj("a", map[string]any{"n": 3.0, "tags": []any{"x", "y"}, "o": map[string]any{"k": "v"}}),
		obj("b", nil),
	}
	tbl, err := c.Table(items)
	if err != nil {
		t.Fatal(err)
	}
	var buf bytes.Buffer
	if err := tbl.Render(&buf); err != nil {
		t.Fatal(err)
	}
	want := "NAME   N        TAGS     OBJ\n" +
		"a      3        x,y      {\"k\":\"v\"}\n" +
		"b      <none>   <none>   <none>\n"
	if buf.String() != want {
		t.Errorf("table:\n%s\nwant:\n%s", buf.String(), want)
	}
	tbl.NoHeaders = true
	buf.Reset()
	_ = tbl.Render(&buf)
	if strings.HasPrefix(buf.String(), "NAME") || !strings.HasPrefix(buf.String(), "a ") {
		t.Errorf("--no-headers table:\n%s", buf.String())
	}
	for spec, want := range map[string]string{
		"":                "no custom columns given",
		"NAME":            `unexpected custom-columns spec "NAME"`,
		":.a":             `unexpected custom-columns spec ":.a"`,
		"A:":              `unexpected custom-columns spec "A:"`,
		"A:{.a[}":         `invalid JSONPath "{.a[}"`,
		"A:.a,B:{.b}{.c}": "unexpected path string",
	} {
		if _, err := ParseColumns(spec); err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("ParseColumns(%q) error = %v, want %q", spec, err, want)
		}
	}
}

func TestItems(t *testing.T) {
	type row struct {
		Name string `json:"name"`
		N    int    `json:"n"`
	}
	items, err := Items([]row{{"a", 1}, {"b", 2}})
	if err != nil {
		t.Fatal(err)
	}
	if len(items) != 2 || items[1].(map[string]any)["name"] != "b" || items[1].(map[string]any)["n"] != 2.0 {
		t.Errorf("Items = %#v", items)
	}
	empty, err := Items([]row{})
	if err != nil || empty == nil || len(empty) != 0 {
		t.Errorf("Items(empty) = %#v, %v; want an empty, non-nil slice", empty, err)
	}
}
