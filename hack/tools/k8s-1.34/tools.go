//go:build tools

// Package tools records the Kubernetes v1.34 binaries this module pins, so that
// `go mod tidy` keeps them.
package tools

import (
	_ "k8s.io/kubectl/pkg/cmd"
	_ "k8s.io/kubernetes/cmd/kube-apiserver/app"
)
