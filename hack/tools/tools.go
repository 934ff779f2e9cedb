//go:build tools

// Package tools records the binaries and CRD sources this module pins, so that
// `go mod tidy` keeps them.
package tools

import (
	_ "go.etcd.io/etcd/server/v3/etcdmain"
	_ "istio.io/api/networking/v1"
	_ "k8s.io/kubectl/pkg/cmd"
	_ "k8s.io/kubernetes/cmd/kube-apiserver/app"
	_ "sigs.k8s.io/gateway-api/apis/v1"
)
