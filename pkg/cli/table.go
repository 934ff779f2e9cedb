package cli

import (
	"fmt"
)

func orDefault(s, def string) string {
	if s == "" {
		return def
	}
	return s
}

// noneFound says on stderr that nothing matched, as kubectl does.
func (s *IOStreams) noneFound(what, namespace string) {
	if namespace == "" {
		fmt.Fprintf(s.ErrOut, "No %s found.\n", what)
		return
	}
	fmt.Fprintf(s.ErrOut, "No %s found in namespace %s.\n", what, namespace)
}
