//go:build tools

// Package tools records the Gateway API release this module pins, so that
// `go mod tidy` keeps it.
package tools

import _ "sigs.k8s.io/gateway-api/apis/v1"
