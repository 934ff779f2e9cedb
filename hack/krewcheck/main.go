// Command krewcheck validates a krew plugin manifest by krew's rules and,
// for each platform whose archive lies beside the manifest's directory (as
// goreleaser's dist/ has it), the archive's checksum and contents.
//
//	go run ./hack/krewcheck dist/krew/waypoint.yaml
package main

import (
	"fmt"
	"net/url"
	"os"
	"path"
	"path/filepath"

	"github.com/kubectl-waypoint/kubectl-waypoint/internal/krew"
)

func main() {
	if len(os.Args) != 2 {
		fmt.Fprintln(os.Stderr, "usage: krewcheck MANIFEST")
		os.Exit(2)
	}
	if err := run(os.Args[1]); err != nil {
		fmt.Fprintln(os.Stderr, "krewcheck:", err)
		os.Exit(1)
	}
}

func run(file string) error {
	m, err := krew.ValidateFile(file)
	if err != nil {
		return err
	}
	dist := filepath.Dir(filepath.Dir(file))
	checked := 0
	for i, p := range m.Spec.Platforms {
		u, err := url.Parse(p.URI)
		if err != nil {
			return err
		}
		local := filepath.Join(dist, path.Base(u.Path))
		if _, err := os.Stat(local); err != nil {
			continue
		}
		if err := p.CheckArchive(local); err != nil {
			return fmt.Errorf("spec.platforms[%d]: %w", i, err)
		}
		checked++
	}
	fmt.Printf("krewcheck: %s is valid: plugin %s %s, %d platforms, %d archives checked\n",
		file, m.Metadata.Name, m.Spec.Version, len(m.Spec.Platforms), checked)
	return nil
}
