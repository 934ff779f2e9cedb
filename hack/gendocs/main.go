// Command gendocs writes the CLI reference into docs/reference.
package main

import (
	"fmt"
	"os"

	"github.com/kubectl-waypoint/kubectl-waypoint/internal/docgen"
)

func main() {
	dir := "docs/reference"
	if len(os.Args) > 1 {
		dir = os.Args[1]
	}
	if err := docgen.Write(dir); err != nil {
		fmt.Fprintln(os.Stderr, "gendocs:", err)
		os.Exit(1)
	}
}
