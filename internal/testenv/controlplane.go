package testenv

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"slices"
	"strings"
	"sync"
)

// repoRoot finds the main module's root: the closest directory above the
// working directory, or else above this source file, that holds both go.mod
// and hack/controlplane.sh (hack/tools has a go.mod of its own).
func repoRoot() (string, error) {
	var starts []string
	if wd, err := os.Getwd(); err == nil {
		starts = append(starts, wd)
	}
	if _, file, _, ok := runtime.Caller(0); ok && filepath.IsAbs(file) {
		starts = append(starts, filepath.Dir(file))
	}
	for _, dir := range starts {
		for {
			if isFile(filepath.Join(dir, "go.mod")) && isFile(filepath.Join(dir, "hack", "controlplane.sh")) {
				return dir, nil
			}
			parent := filepath.Dir(dir)
			if parent == dir {
				break
			}
			dir = parent
		}
	}
	return "", fmt.Errorf("cannot find the kubectl-waypoint repository (a directory with go.mod and hack/controlplane.sh) above %s", strings.Join(starts, " or "))
}

func isFile(path string) bool {
	info, err := os.Stat(path)
	return err == nil && info.Mode().IsRegular()
}

// controlPlaneDir runs hack/controlplane.sh in the given mode ("bin" or
// "crds"), with CONTROLPLANE_PINS=pins unless pins is empty, and returns the
// directory it prints. The script's progress (a cold build takes minutes) and
// errors go to stderr as they come.
func controlPlaneDir(root, mode, pins string) (string, error) {
	var stdout, stderr bytes.Buffer
	cmd := exec.Command("bash", filepath.Join(root, "hack", "controlplane.sh"), mode)
	cmd.Dir = root
	if pins != "" {
		cmd.Env = append(os.Environ(), "CONTROLPLANE_PINS="+pins)
	}
	cmd.Stdout = &stdout
	cmd.Stderr = io.MultiWriter(&stderr, os.Stderr)
	if err := cmd.Run(); err != nil {
		// Its output went to stderr already; repeat the last line, the reason.
		return "", fmt.Errorf("hack/controlplane.sh %s failed (%w): %s", mode, err, lastLines(stderr.String(), 1))
	}
	dir := strings.TrimSpace(stdout.String())
	if info, err := os.Stat(dir); err != nil || !info.IsDir() {
		return "", fmt.Errorf("hack/controlplane.sh %s printed %q, which is not a directory", mode, dir)
	}
	return dir, nil
}

func lastLines(s string, n int) string {
	lines := strings.Split(strings.TrimRight(s, "\n"), "\n")
	if len(lines) > n {
		lines = lines[len(lines)-n:]
	}
	return strings.Join(lines, "\n")
}

// guardedBinary returns the path envtest should run for the named binary of
// the control plane. On Linux with setpriv(1) it is a wrapper that asks the
// kernel to kill the process when the test binary dies, so that a test that
// times out or is killed leaves no etcd or kube-apiserver behind; elsewhere it
// is the binary itself.
func (e *Env) guardedBinary(name string) (string, error) {
	bin := filepath.Join(e.BinDir, name)
	setpriv := pdeathsigHelper()
	if setpriv == "" {
		return bin, nil
	}
	wrapper := filepath.Join(e.dir, name)
	script := fmt.Sprintf("#!/bin/sh\nexec %s --pdeathsig KILL -- %s \"$@\"\n", shellQuote(setpriv), shellQuote(bin))
	if err := os.WriteFile(wrapper, []byte(script), 0o755); err != nil {
		return "", fmt.Errorf("writing the %s wrapper: %w", name, err)
	}
	return wrapper, nil
}

var (
	pdeathsigOnce sync.Once
	pdeathsigPath string
)

// pdeathsigHelper returns the path of a setpriv that supports --pdeathsig, or "".
func pdeathsigHelper() string {
	pdeathsigOnce.Do(func() {
		if runtime.GOOS != "linux" {
			return
		}
		path, err := exec.LookPath("setpriv")
		if err != nil {
			return
		}
		if err := exec.Command(path, "--pdeathsig", "KILL", "--", "true").Run(); err != nil {
			return
		}
		pdeathsigPath = path
	})
	return pdeathsigPath
}

func shellQuote(s string) string {
	return "'" + strings.ReplaceAll(s, "'", `'\''`) + "'"
}

// process is a child process of the control plane.
type process struct {
	pid int
	exe string
}

func (p process) String() string {
	return fmt.Sprintf("%s (pid %d)", filepath.Base(p.exe), p.pid)
}

// newProcesses returns the processes of after that are not in before.
func newProcesses(before, after []process) []process {
	var out []process
	for _, p := range after {
		if !slices.Contains(before, p) {
			out = append(out, p)
		}
	}
	return out
}

// checkStopped fails when a process of the control plane still runs; it kills
// what it finds so that one failure does not leak into the next run.
func checkStopped(procs []process) error {
	var errs []error
	for _, p := range procs {
		if running(p) {
			_ = killProcess(p.pid)
			errs = append(errs, fmt.Errorf("%s was still running after Stop; killed it", p))
		}
	}
	return errors.Join(errs...)
}
