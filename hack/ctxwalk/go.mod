// Module ctxwalk is the walk of a context through the commands that
// docs/development.md records; it has a module of its own so that
// golang.org/x/tools never meets the main module's dependencies.
module github.com/kubectl-waypoint/kubectl-waypoint/hack/ctxwalk

go 1.26.0

require golang.org/x/tools v0.44.0

require (
	golang.org/x/mod v0.35.0 // indirect
	golang.org/x/sync v0.20.0 // indirect
)
