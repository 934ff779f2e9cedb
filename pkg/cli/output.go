package cli

import (
	"fmt"
	"io"
	"slices"
	"strings"

	"github.com/spf13/cobra"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/cli-runtime/pkg/genericclioptions"
	"k8s.io/cli-runtime/pkg/printers"

	"github.com/kubectl-waypoint/kubectl-waypoint/pkg/render"
)

// outputFlags are kubectl's output flags of list and status besides their
// own formats: -o jsonpath|go-template (printed by cli-runtime's printers),
// -o custom-columns, --no-headers, --sort-by and --show-managed-fields.
type outputFlags struct {
	// Output is the -o value.
	Output            string
	NoHeaders         bool
	SortBy            string
	ShowManagedFields bool

	own     []string // the command's own formats ("" is its table)
	columns *render.Columns
	printer printers.ResourcePrinter
}

// templateFormats are the -o formats of cli-runtime's template printers.
var templateFormats = []string{"jsonpath", "jsonpath-file", "jsonpath-as-json", "go-template", "go-template-file", "template", "templatefile"}

// addOutputFlags adds -o, listing the command's own formats before kubectl's
// generic ones, and --no-headers, --sort-by and --show-managed-fields.
func (o *outputFlags) addOutputFlags(cmd *cobra.Command, own ...string) {
	o.own = own
	fs := cmd.Flags()
	fs.StringVarP(&o.Output, "output", "o", "", fmt.Sprintf("Output format: {%s|jsonpath=...|jsonpath-file=...|go-template=...|go-template-file=...|custom-columns=...}; a table when unset", strings.Join(own, "|")))
	fs.BoolVar(&o.NoHeaders, "no-headers", false, "Print tables (the default output, -o wide, -o custom-columns) without their header line")
	fs.StringVar(&o.SortBy, "sort-by", "", "Sort by the value of this JSONPath in each object, e.g. '{.metadata.name}'")
	fs.BoolVar(&o.ShowManagedFields, "show-managed-fields", false, "Keep the managedFields of objects printed as JSON or YAML")
	completions := append(slices.Clone(own), "jsonpath=", "go-template=", "custom-columns=")
	_ = cmd.RegisterFlagCompletionFunc("output", cobra.FixedCompletions(completions, cobra.ShellCompDirectiveNoFileComp|cobra.ShellCompDirectiveNoSpace))
}

// validateOutput checks -o and --sort-by without a cluster and prepares
// the printer of a generic format.
func (o *outputFlags) validateOutput() error {
	if o.SortBy != "" {
		if _, err := render.RelaxedJSONPath(o.SortBy); err != nil {
			return usageErrorf("invalid --sort-by %q: %v", o.SortBy, err)
		}
		if _, err := render.SortOrder([]any{map[string]any{}}, o.SortBy); err != nil {
			return usageError(err)
		}
	}
	if slices.Contains(o.own, o.Output) || o.Output == "" {
		return nil
	}
	format, arg, _ := strings.Cut(o.Output, "=")
	switch {
	case format == "custom-columns":
		c, err := render.ParseColumns(arg)
		if err != nil {
			return usageErrorf("invalid -o custom-columns: %v", err)
		}
		o.columns = c
		return nil
	case slices.Contains(templateFormats, format):
		flags := genericclioptions.NewKubeTemplatePrintFlags()
		flags.TemplateArgument = &arg
		flags.JSONPathPrintFlags.TemplateArgument = &arg
		flags.GoTemplatePrintFlags.TemplateArgument = &arg
		p, err := flags.ToPrinter(format)
		if err != nil {
			return usageErrorf("invalid -o %s: %v", format, err)
		}
		o.printer = p
		return nil
	}
	return usageErrorf("unknown output format %q: must be one of %s, jsonpath=..., jsonpath-file=..., go-template=..., go-template-file=..., custom-columns=...", o.Output, strings.Join(slices.DeleteFunc(slices.Clone(o.own), func(s string) bool { return s == "" }), ", "))
}

// generic says whether -o is one of kubectl's generic formats, printed by
// printGeneric rather than by the command.
func (o *outputFlags) generic() bool { return o.columns != nil || o.printer != nil }

// needsObjects says whether the output reads fields of the full objects.
func (o *outputFlags) needsObjects() bool { return o.generic() || o.SortBy != "" }

// sortByFlag orders objs by --sort-by, read from items, the same objects
// decoded from JSON; both are reordered in place.
func sortByFlag[T any](sortBy string, objs []T, items []any) error {
	if sortBy == "" {
		return nil
	}
	order, err := render.SortOrder(items, sortBy)
	if err != nil {
		return err
	}
	sortedObjs, sortedItems := make([]T, len(objs)), make([]any, len(items))
	for i, j := range order {
		sortedObjs[i], sortedItems[i] = objs[j], items[j]
	}
	copy(objs, sortedObjs)
	copy(items, sortedItems)
	return nil
}

// printGeneric prints items with a generic format: custom columns as a
// table, a template over a v1 List of the items, as kubectl does.
func (o *outputFlags) printGeneric(w io.Writer, items []any) error {
	if o.columns != nil {
		t, err := o.columns.Table(items)
		if err != nil {
			return err
		}
		t.NoHeaders = o.NoHeaders
		return t.Render(w)
	}
	list := &unstructured.Unstructured{Object: map[string]any{
		"apiVersion": "v1", "kind": "List", "items": items, "metadata": map[string]any{"resourceVersion": ""},
	}}
	return o.printer.PrintObj(list, w)
}
