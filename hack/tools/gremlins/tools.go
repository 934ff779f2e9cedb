//go:build tools

// Package tools records gremlins, so that `go mod tidy` keeps it.
package tools

import _ "github.com/go-gremlins/gremlins/cmd/gremlins"
