package startup

import (
	"runtime/debug"
	"testing"
)

func TestDoneRestoresTheCollector(t *testing.T) {
	if got := debug.SetGCPercent(-1); got != -1 {
		t.Fatalf("the collector was not paused at init: GC percent %d", got)
	}
	Done()
	if got := debug.SetGCPercent(gcPercent); got != gcPercent || got < 0 {
		t.Fatalf("Done left GC percent at %d, want %d", got, gcPercent)
	}
}
