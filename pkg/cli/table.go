package cli

import (
	"fmt"

	"github.com/kubectl-waypoint/kubectl-waypoint/pkg/render"
)

// renderTable prints t, or hands it to the fleet run that puts the
// clusters' tables together.
func (s *IOStreams) renderTable(t *render.Table) error {
	if m := s.fleet; m != nil && m.tables {
		m.mu.Lock()
		defer m.mu.Unlock()
		m.table = t
		return nil
	}
	return t.Render(s.Out)
}

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
