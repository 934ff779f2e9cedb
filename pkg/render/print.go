package render

import (
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"slices"

	"sigs.k8s.io/yaml"
)

// Output formats for objects.
const (
	FormatYAML = "yaml"
	FormatJSON = "json"
)

// ObjectFormats are the formats Object accepts.
var ObjectFormats = []string{FormatYAML, FormatJSON}

// Object writes obj to w as YAML (the field order of sigs.k8s.io/yaml, as
// istioctl and kubectl print it) or as JSON indented like kubectl's -o json.
func Object(w io.Writer, format string, obj any) error {
	var b []byte
	var err error
	switch format {
	case FormatYAML:
		b, err = yaml.Marshal(obj)
	case FormatJSON:
		b, err = marshalJSON(obj)
	default:
		return fmt.Errorf("unknown output format %q: must be one of %v", format, ObjectFormats)
	}
	if err != nil {
		return err
	}
	_, err = w.Write(b)
	return err
}

// IsObjectFormat reports whether Object accepts the format.
func IsObjectFormat(format string) bool { return slices.Contains(ObjectFormats, format) }

func marshalJSON(obj any) ([]byte, error) {
	var buf bytes.Buffer
	enc := json.NewEncoder(&buf)
	enc.SetIndent("", "    ")
	enc.SetEscapeHTML(false)
	if err := enc.Encode(obj); err != nil {
		return nil, err
	}
	return buf.Bytes(), nil
}
