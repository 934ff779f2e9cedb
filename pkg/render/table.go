package render

import (
	"bytes"
	"io"

	"github.com/olekukonko/tablewriter"
	"github.com/olekukonko/tablewriter/renderer"
	"github.com/olekukonko/tablewriter/tw"
)

// Table collects rows and writes them as aligned columns, the way kubectl
// prints its tables: upper-case headers, no borders, three spaces between
// columns, and no trailing blanks. It is the one table printer of the tool.
type Table struct {
	// NoHeaders leaves the header line out, as kubectl's --no-headers.
	NoHeaders bool

	header []string
	rows   [][]string
}

// NewTable starts a table with the given column headers.
func NewTable(header ...string) *Table {
	return &Table{header: header}
}

// Append adds one row; it must have as many cells as the header.
func (t *Table) Append(cells ...string) {
	t.rows = append(t.rows, cells)
}

// Header is the table's column headers.
func (t *Table) Header() []string { return t.header }

// Rows are the rows appended so far.
func (t *Table) Rows() [][]string { return t.rows }

// Render writes the table to w.
func (t *Table) Render(w io.Writer) error {
	// Three blanks after every column but the last, as kubectl does.
	pads := make([]tw.Padding, len(t.header))
	for i := range pads {
		pads[i] = tw.Padding{Right: "   ", Overwrite: true}
	}
	pads[len(pads)-1] = tw.PaddingNone
	var buf bytes.Buffer
	tbl := tablewriter.NewTable(&buf,
		tablewriter.WithRenderer(plainRenderer()),
		tablewriter.WithHeaderAutoFormat(tw.Off),
		tablewriter.WithHeaderAlignment(tw.AlignLeft),
		tablewriter.WithRowAlignment(tw.AlignLeft),
		tablewriter.WithRowAutoWrap(tw.WrapNone),
		tablewriter.WithHeaderAutoWrap(tw.WrapNone),
		tablewriter.WithTrimSpace(tw.Off),
		tablewriter.WithHeaderPaddingPerColumn(pads),
		tablewriter.WithRowPaddingPerColumn(pads),
	)
	if !t.NoHeaders {
		tbl.Header(t.header)
	}
	for _, r := range t.rows {
		if err := tbl.Append(r); err != nil {
			return err
		}
	}
	if err := tbl.Render(); err != nil {
		return err
	}
	// The renderer fills the last column to its width; kubectl's tables end
	// each line at the last character, so trim what the filling added.
	for line := range bytes.Lines(buf.Bytes()) {
		line = append(bytes.TrimRight(line, " \n"), '\n')
		if _, err := w.Write(line); err != nil {
			return err
		}
	}
	return nil
}

func plainRenderer() tw.Renderer {
	return renderer.NewBlueprint(tw.Rendition{
		Borders: tw.BorderNone,
		Settings: tw.Settings{
			Separators: tw.SeparatorsNone,
			Lines:      tw.LinesNone,
		},
	})
}
