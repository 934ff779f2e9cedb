// Package version holds the build information that goreleaser stamps into the
// binary with -ldflags "-X".
package version

import (
	"runtime"
	"runtime/debug"
)

// Set by the linker; see .goreleaser.yaml and the Makefile.
var (
	// Version is the release, e.g. v0.1.0.
	Version = ""
	// Commit is the git commit the binary was built from.
	Commit = ""
	// Date is when the binary was built, RFC 3339.
	Date = ""
)

// Info is the build information printed by `version`.
type Info struct {
	Version   string `json:"version"`
	Commit    string `json:"commit"`
	Date      string `json:"date"`
	GoVersion string `json:"goVersion"`
	Platform  string `json:"platform"`
}

// Get returns the build information, filling what the linker did not set
// from the module's own build info (as `go install` records it).
func Get() Info {
	info := Info{
		Version:   Version,
		Commit:    Commit,
		Date:      Date,
		GoVersion: runtime.Version(),
		Platform:  runtime.GOOS + "/" + runtime.GOARCH,
	}
	if bi, ok := debug.ReadBuildInfo(); ok {
		if info.Version == "" && bi.Main.Version != "" && bi.Main.Version != "(devel)" {
			info.Version = bi.Main.Version
		}
		for _, s := range bi.Settings {
			switch {
			case s.Key == "vcs.revision" && info.Commit == "":
				info.Commit = s.Value
			case s.Key == "vcs.time" && info.Date == "":
				info.Date = s.Value
			}
		}
	}
	if info.Version == "" {
		info.Version = "dev"
	}
	if info.Commit == "" {
		info.Commit = "unknown"
	}
	if info.Date == "" {
		info.Date = "unknown"
	}
	return info
}
