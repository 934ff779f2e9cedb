package gitops

import (
	"bytes"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"slices"
	"strings"
)

// Header is the first line of every file WriteDir writes. A file of the
// directory that does not start with it was not written by generate, and
// WriteDir leaves such a directory alone.
const Header = "# Written by kubectl waypoint generate --output-dir; generating again replaces or removes this file.\n"

// MigrateHeader is Header for the directories of `migrate plan
// --output-dir`, one per phase.
const MigrateHeader = "# Written by kubectl waypoint migrate plan --output-dir; planning again replaces or removes this file.\n"

// KustomizationFile is the kustomization of an output directory.
const KustomizationFile = "kustomization.yaml"

// filePrefix starts the name of every namespace's file. With it no
// namespace's file can be named like the kustomization (a namespace may be
// called "kustomization").
const filePrefix = "namespace-"

// FileName is the name of namespace ns's file in an output directory.
func FileName(ns string) string { return filePrefix + ns + ".yaml" }

// FileAction says what WriteDir did to a file.
type FileAction string

// What WriteDir does to a file.
const (
	FileWritten   FileAction = "written"
	FileUnchanged FileAction = "unchanged"
	FileRemoved   FileAction = "removed"
)

// FileChange is one file of the output directory and what WriteDir did to it.
type FileChange struct {
	// Path is the file's path: the directory as given, joined with its name.
	Path   string
	Action FileAction
}

// ForeignFileError says the output directory holds an entry that generate
// did not write; WriteDir then writes nothing.
type ForeignFileError struct {
	Dir  string
	Name string
	// Command is the command whose directory it is: generate, or migrate plan.
	Command string
}

func (e *ForeignFileError) Error() string {
	return fmt.Sprintf("--output-dir %s holds %s, which %s did not write; nothing was written: use a new or empty directory, or one that only %s writes to", e.Dir, e.Name, e.Command, e.Command)
}

// ErrManifestNamespace says a manifest has no namespace, so it has no file.
var ErrManifestNamespace = errors.New("a manifest without a namespace has no file in an output directory")

// WriteDir writes the manifests into dir, creating it when needed: one file
// per namespace (FileName, the Gateway and then the Namespace patch) and a
// kustomization.yaml listing them, sorted by name, each file starting with
// Header. The manifests must have distinct namespaces.
//
// dir is generate's alone: when it holds anything but files WriteDir wrote
// before (a regular file named like ours that starts with Header), it is
// refused with a *ForeignFileError and nothing is written. Files of a
// previous run that the manifests no longer need are removed, after the new
// kustomization.yaml stopped listing them, so that the directory holds
// exactly this output and a GitOps tool sees the namespaces that left. A
// file whose content is already right is not rewritten.
func WriteDir(dir string, ms []Manifest) ([]FileChange, error) {
	return writeDir(dir, ms, Header, "generate")
}

// WriteMigrationDir is WriteDir for one phase's directory of `migrate plan
// --output-dir`: the same layout, its files starting with MigrateHeader.
func WriteMigrationDir(dir string, ms []Manifest) ([]FileChange, error) {
	return writeDir(dir, ms, MigrateHeader, "migrate plan")
}

func writeDir(dir string, ms []Manifest, header, command string) ([]FileChange, error) {
	want := map[string][]byte{}
	var names []string
	for _, m := range ms {
		if m.Namespace == "" {
			return nil, ErrManifestNamespace
		}
		b, err := yamlDocuments(m.objects())
		if err != nil {
			return nil, err
		}
		name := FileName(m.Namespace)
		want[name] = append([]byte(header), b...)
		names = append(names, name)
	}
	slices.Sort(names)
	k, err := marshalKustomization(names)
	if err != nil {
		return nil, err
	}
	want[KustomizationFile] = append([]byte(header), k...)

	have, err := readOurs(dir, header, command)
	if err != nil {
		return nil, err
	}
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return nil, fmt.Errorf("cannot create --output-dir %s: %w", dir, err)
	}
	var changes []FileChange
	// The namespaces' files first, then the kustomization that lists them:
	// at no point does it name a file that is not there.
	for _, name := range append(names, KustomizationFile) {
		path := filepath.Join(dir, name)
		if old, ok := have[name]; ok && bytes.Equal(old, want[name]) {
			changes = append(changes, FileChange{Path: path, Action: FileUnchanged})
			continue
		}
		if err := os.WriteFile(path, want[name], 0o644); err != nil {
			return changes, fmt.Errorf("cannot write %s: %w", path, err)
		}
		changes = append(changes, FileChange{Path: path, Action: FileWritten})
	}
	var stale []string
	for name := range have {
		if _, ok := want[name]; !ok {
			stale = append(stale, name)
		}
	}
	slices.Sort(stale)
	for _, name := range stale {
		path := filepath.Join(dir, name)
		if err := os.Remove(path); err != nil {
			return changes, fmt.Errorf("cannot remove %s: %w", path, err)
		}
		changes = append(changes, FileChange{Path: path, Action: FileRemoved})
	}
	return changes, nil
}

// readOurs reads the files of dir, which must all be generate's: a
// missing dir holds none; anything else is a *ForeignFileError.
func readOurs(dir, header, command string) (map[string][]byte, error) {
	entries, err := os.ReadDir(dir)
	switch {
	case errors.Is(err, fs.ErrNotExist):
		return nil, nil
	case err != nil:
		return nil, fmt.Errorf("cannot read --output-dir %s: %w", dir, err)
	}
	have := map[string][]byte{}
	for _, e := range entries {
		name := e.Name()
		named := name == KustomizationFile || (strings.HasPrefix(name, filePrefix) && strings.HasSuffix(name, ".yaml"))
		if !named || !e.Type().IsRegular() {
			return nil, &ForeignFileError{Dir: dir, Name: name, Command: command}
		}
		b, err := os.ReadFile(filepath.Join(dir, name))
		if err != nil {
			return nil, fmt.Errorf("cannot read %s: %w", filepath.Join(dir, name), err)
		}
		if !bytes.HasPrefix(b, []byte(header)) {
			return nil, &ForeignFileError{Dir: dir, Name: name, Command: command}
		}
		have[name] = b
	}
	return have, nil
}
