package docgen

import (
	"os"
	"path/filepath"
	"testing"
)

// TestReferenceIsCurrent fails when docs/reference differs from what the code
// generates: run `make docs` and commit the result.
func TestReferenceIsCurrent(t *testing.T) {
	want := filepath.Join("..", "..", "docs", "reference")
	got := t.TempDir()
	if err := Write(got); err != nil {
		t.Fatal(err)
	}
	gotFiles, _ := filepath.Glob(filepath.Join(got, "*.md"))
	wantFiles, _ := filepath.Glob(filepath.Join(want, "*.md"))
	if len(gotFiles) != len(wantFiles) {
		t.Fatalf("docs/reference has %d pages, the code makes %d: run `make docs`", len(wantFiles), len(gotFiles))
	}
	for _, g := range gotFiles {
		name := filepath.Base(g)
		gb, _ := os.ReadFile(g)
		wb, err := os.ReadFile(filepath.Join(want, name))
		if err != nil {
			t.Errorf("docs/reference/%s is missing: run `make docs`", name)
			continue
		}
		if string(gb) != string(wb) {
			t.Errorf("docs/reference/%s is stale: run `make docs`", name)
		}
	}
}
