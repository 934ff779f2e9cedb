package cli

import (
	"fmt"
	"sort"
	"strings"

	"github.com/spf13/cobra"
	"github.com/spf13/pflag"
)

// flagError turns cobra's and pflag's errors about the command line into one
// line that helps: the nearest flags of the command for an unknown one, with
// a pointer to its help, and an example for a duration without a unit.
func flagError(cmd *cobra.Command, err error) error {
	msg := err.Error()
	switch {
	case strings.HasPrefix(msg, "unknown flag: --"):
		name := strings.TrimPrefix(msg, "unknown flag: --")
		if near := nearFlags(cmd, name); len(near) > 0 {
			msg += "; did you mean --" + strings.Join(near, " or --") + "?"
		}
		msg += fmt.Sprintf("; see '%s --help'", cmd.CommandPath())
	case strings.HasPrefix(msg, "unknown shorthand flag"):
		if strings.HasPrefix(msg, "unknown shorthand flag: 'A'") && cmd.Flags().Lookup("namespace-selector") != nil {
			// kubectl's --all-namespaces: here namespaces are chosen by label.
			msg += "; to work in many namespaces, select them by label with --namespace-selector (e.g. istio.io/dataplane-mode=ambient) or list them with -n a,b"
		}
		msg += fmt.Sprintf("; see '%s --help'", cmd.CommandPath())
	case strings.Contains(msg, "missing unit in duration"):
		msg += "; give a unit, e.g. 5s or 2m"
	}
	return usageErrorf("%s", msg)
}

// nearFlags are the flags of cmd within an edit distance of 2 of name, or
// that name starts, nearest first.
func nearFlags(cmd *cobra.Command, name string) []string {
	type near struct {
		name string
		d    int
	}
	var found []near
	cmd.Flags().VisitAll(func(f *pflag.Flag) {
		if f.Hidden {
			return
		}
		d := editDistance(name, f.Name)
		if d <= 2 || (len(name) > 2 && strings.HasPrefix(f.Name, name)) {
			found = append(found, near{f.Name, d})
		}
	})
	sort.Slice(found, func(i, j int) bool {
		if found[i].d != found[j].d {
			return found[i].d < found[j].d
		}
		return found[i].name < found[j].name
	})
	var out []string
	for i := 0; i < len(found) && i < 3; i++ {
		out = append(out, found[i].name)
	}
	return out
}

// editDistance is the Levenshtein distance of a and b.
func editDistance(a, b string) int {
	prev := make([]int, len(b)+1)
	for j := range prev {
		prev[j] = j
	}
	for i := 1; i <= len(a); i++ {
		cur := make([]int, len(b)+1)
		cur[0] = i
		for j := 1; j <= len(b); j++ {
			cost := 1
			if a[i-1] == b[j-1] {
				cost = 0
			}
			cur[j] = min(prev[j]+1, cur[j-1]+1, prev[j-1]+cost)
		}
		prev = cur
	}
	return prev[len(b)]
}
