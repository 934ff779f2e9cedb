package testenv

import (
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
)

// childProcesses lists this process's children whose executable lives in binDir.
func childProcesses(binDir string) []process {
	if resolved, err := filepath.EvalSymlinks(binDir); err == nil {
		binDir = resolved
	}
	entries, err := os.ReadDir("/proc")
	if err != nil {
		return nil
	}
	self := os.Getpid()
	var procs []process
	for _, entry := range entries {
		pid, err := strconv.Atoi(entry.Name())
		if err != nil {
			continue
		}
		if parentPID(pid) != self {
			continue
		}
		exe, err := os.Readlink(filepath.Join("/proc", entry.Name(), "exe"))
		if err != nil || filepath.Dir(exe) != binDir {
			continue
		}
		procs = append(procs, process{pid: pid, exe: exe})
	}
	return procs
}

// parentPID reads the parent's pid from /proc/PID/stat, or returns -1.
func parentPID(pid int) int {
	stat, err := os.ReadFile(filepath.Join("/proc", strconv.Itoa(pid), "stat"))
	if err != nil {
		return -1
	}
	// pid (comm) state ppid ...; comm may hold spaces and parentheses.
	s := string(stat)
	end := strings.LastIndexByte(s, ')')
	if end < 0 {
		return -1
	}
	fields := strings.Fields(s[end+1:])
	if len(fields) < 2 {
		return -1
	}
	ppid, err := strconv.Atoi(fields[1])
	if err != nil {
		return -1
	}
	return ppid
}

// running reports whether p still runs the same executable (a reaped or
// zombie process has no exe link).
func running(p process) bool {
	exe, err := os.Readlink(filepath.Join("/proc", strconv.Itoa(p.pid), "exe"))
	return err == nil && exe == p.exe
}

func killProcess(pid int) error {
	return syscall.Kill(pid, syscall.SIGKILL)
}
