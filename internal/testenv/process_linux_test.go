package testenv

import (
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
)

// TestUnitLeftoverCheck runs a stand-in for etcd from a bin directory and checks
// that the leftover check finds it while it runs, and not once it is gone.
func TestUnitLeftoverCheck(t *testing.T) {
	binDir := t.TempDir()
	sleep, err := exec.LookPath("sleep")
	if err != nil {
		t.Skip("no sleep binary")
	}
	data, err := os.ReadFile(sleep)
	if err != nil {
		t.Fatal(err)
	}
	fake := filepath.Join(binDir, "etcd")
	if err := os.WriteFile(fake, data, 0o755); err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command(fake, "60")
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	done := make(chan struct{})
	go func() { _ = cmd.Wait(); close(done) }()

	procs := childProcesses(binDir)
	if len(procs) != 1 || procs[0].pid != cmd.Process.Pid {
		t.Fatalf("childProcesses = %v, want the fake etcd (pid %d)", procs, cmd.Process.Pid)
	}
	err = checkStopped(procs)
	if err == nil || !strings.Contains(err.Error(), "etcd (pid") {
		t.Errorf("checkStopped on a running process = %v, want an error naming it", err)
	}
	<-done // checkStopped killed it
	if err := checkStopped(procs); err != nil {
		t.Errorf("checkStopped after exit = %v, want nil", err)
	}
}
