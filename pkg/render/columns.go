package render

import (
	"bytes"
	"cmp"
	"encoding/json"
	"fmt"
	"regexp"
	"slices"
	"strings"

	"k8s.io/client-go/util/jsonpath"
)

// Columns is a parsed -o custom-columns spec: a header and a JSONPath per
// column, as kubectl reads "NAME:.metadata.name,NS:.metadata.namespace".
type Columns struct {
	Headers []string
	Paths   []string
	parsers []*jsonpath.JSONPath
}

// ParseColumns reads a custom-columns spec.
func ParseColumns(spec string) (*Columns, error) {
	if spec == "" {
		return nil, fmt.Errorf("custom-columns format specified but no custom columns given")
	}
	c := &Columns{}
	for i, col := range strings.Split(spec, ",") {
		header, path, ok := strings.Cut(col, ":")
		if !ok || header == "" || path == "" {
			return nil, fmt.Errorf("unexpected custom-columns spec %q, expected <header>:<json-path-expr>", col)
		}
		expr, err := RelaxedJSONPath(path)
		if err != nil {
			return nil, err
		}
		p := jsonpath.New(fmt.Sprintf("column%d", i)).AllowMissingKeys(true)
		if err := p.Parse(expr); err != nil {
			return nil, fmt.Errorf("invalid JSONPath %q in custom-columns: %w", path, err)
		}
		c.Headers = append(c.Headers, header)
		c.Paths = append(c.Paths, expr)
		c.parsers = append(c.parsers, p)
	}
	return c, nil
}

// Table evaluates the columns on every item (objects decoded from JSON):
// one row per item, "<none>" where a path finds nothing, several values
// joined by commas.
func (c *Columns) Table(items []any) (*Table, error) {
	t := NewTable(c.Headers...)
	for _, item := range items {
		row := make([]string, len(c.parsers))
		for i, p := range c.parsers {
			results, err := p.FindResults(item)
			if err != nil {
				return nil, fmt.Errorf("column %s: %w", c.Headers[i], err)
			}
			var values []string
			for _, r := range results {
				for _, v := range r {
					values = append(values, cell(v.Interface()))
				}
			}
			row[i] = "<none>"
			if len(values) > 0 {
				row[i] = strings.Join(values, ",")
			}
		}
		t.Append(row...)
	}
	return t, nil
}

// cell prints one value as kubectl's custom columns do: strings as they
// are, anything else as JSON.
func cell(v any) string {
	if s, ok := v.(string); ok {
		return s
	}
	b, err := json.Marshal(v)
	if err != nil {
		return fmt.Sprint(v)
	}
	return string(b)
}

var relaxedJSONPath = regexp.MustCompile(`^\{?(\.?[^{}]*)\}?$`)

// RelaxedJSONPath turns a JSONPath as kubectl accepts it for --sort-by and
// custom columns (".metadata.name", "metadata.name" or "{.metadata.name}")
// into the braced form the jsonpath package parses.
func RelaxedJSONPath(path string) (string, error) {
	if path == "" {
		return "", fmt.Errorf("jsonpath expression cannot be empty")
	}
	m := relaxedJSONPath.FindStringSubmatch(path)
	if m == nil {
		return "", fmt.Errorf("unexpected path string %q, expected a 'name1.name2' or '.name1.name2' or '{name1.name2}' or '{.name1.name2}'", path)
	}
	expr := m[1]
	if !strings.HasPrefix(expr, ".") {
		expr = "." + expr
	}
	return "{" + expr + "}", nil
}

// SortOrder is the order of items (objects decoded from JSON) by the value
// a JSONPath finds in each, as kubectl's --sort-by sorts: numbers by value,
// anything else by its text, items without the field first, ties in their
// original order. order[i] is the index in items of the i-th item.
func SortOrder(items []any, path string) (order []int, _ error) {
	expr, err := RelaxedJSONPath(path)
	if err != nil {
		return nil, err
	}
	p := jsonpath.New("sort-by").AllowMissingKeys(true)
	if err := p.Parse(expr); err != nil {
		return nil, fmt.Errorf("invalid --sort-by %q: %w", path, err)
	}
	keys := make([]sortKey, len(items))
	for i, item := range items {
		results, err := p.FindResults(item)
		if err != nil {
			return nil, fmt.Errorf("--sort-by %q: %w", path, err)
		}
		if len(results) > 0 && len(results[0]) > 0 {
			v := results[0][0].Interface()
			keys[i].present = true
			if n, ok := v.(float64); ok {
				keys[i].number, keys[i].isNumber = n, true
			} else {
				keys[i].text = cell(v)
			}
		}
	}
	order = make([]int, len(items))
	for i := range order {
		order[i] = i
	}
	slices.SortStableFunc(order, func(a, b int) int { return keys[a].compare(keys[b]) })
	return order, nil
}

type sortKey struct {
	present  bool
	isNumber bool
	number   float64
	text     string
}

func (k sortKey) compare(o sortKey) int {
	switch {
	case k.present != o.present:
		if !k.present {
			return -1
		}
		return 1
	case k.isNumber && o.isNumber:
		return cmp.Compare(k.number, o.number)
	case k.isNumber != o.isNumber:
		// Numbers before text, as a total order needs some rule.
		if k.isNumber {
			return -1
		}
		return 1
	}
	return strings.Compare(k.text, o.text)
}

// Items decodes objects into the generic form JSONPath reads: what they
// look like as JSON.
func Items[T any](objs []T) ([]any, error) {
	b, err := json.Marshal(objs)
	if err != nil {
		return nil, err
	}
	var items []any
	d := json.NewDecoder(bytes.NewReader(b))
	if err := d.Decode(&items); err != nil {
		return nil, err
	}
	if items == nil {
		items = []any{}
	}
	return items, nil
}
