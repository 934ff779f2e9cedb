// Package startup pauses the garbage collector while the packages of the
// binary initialise, and Done resumes it.
//
// client-go, cli-runtime and the Gateway API clientset register thousands of
// types at init, allocating a few MiB that all stay live: a collection during
// that phase finds nothing to free and costs a part of the start-up of a
// short command such as generate (about 1 ms of 12 on the build machine).
// Go initialises packages in import-path order where dependencies allow, so
// this package, which needs only runtime/debug, runs before the k8s.io and
// sigs.k8s.io packages do.
package startup

import "runtime/debug"

var gcPercent = debug.SetGCPercent(-1)

// Done restores the collector's setting (GOGC, default 100). main calls it
// first thing.
func Done() { debug.SetGCPercent(gcPercent) }
