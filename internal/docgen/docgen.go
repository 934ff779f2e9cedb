// Package docgen writes the CLI reference in docs/reference from the cobra
// command tree, so the reference can never drift from the code.
package docgen

import (
	"os"

	"github.com/spf13/cobra/doc"

	"github.com/kubectl-waypoint/kubectl-waypoint/pkg/cli"
)

// Write generates one Markdown page per command into dir, named as kubectl
// plugin users call the tool ("kubectl waypoint ...").
func Write(dir string) error {
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return err
	}
	streams, _, _ := cli.TestStreams(false)
	root := cli.NewRootCommand(cli.NewFactory(streams, "kubectl waypoint"))
	root.DisableAutoGenTag = true
	// The default names the generating user's home; show what it means instead.
	if f := root.PersistentFlags().Lookup("cache-dir"); f != nil {
		f.DefValue = "$HOME/.kube/cache"
	}
	return doc.GenMarkdownTree(root, dir)
}
