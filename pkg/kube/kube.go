// Package kube builds the clients the tool talks to the cluster with and turns
// API server faults into messages a user can act on.
package kube

import (
	"k8s.io/client-go/dynamic"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/metadata"
	"k8s.io/client-go/rest"
	gatewayclient "sigs.k8s.io/gateway-api/pkg/client/clientset/versioned"
)

// FieldManager is the field manager of the tool's writes, unless a command's
// --field-manager names another (Clients.FieldManager).
const FieldManager = "kubectl-waypoint"

// Clients are the API clients the domain packages take.
type Clients struct {
	Kube    kubernetes.Interface
	Gateway gatewayclient.Interface
	Dynamic dynamic.Interface
	// Metadata lists any kind by labels, reading only object metadata.
	Metadata metadata.Interface
	// FieldManager, when set, replaces the tool's FieldManager on every write.
	FieldManager string
}

// Manager is the field manager the writes made through c record.
func (c *Clients) Manager() string {
	if c.FieldManager != "" {
		return c.FieldManager
	}
	return FieldManager
}

// NewClients builds all clients from one REST config.
func NewClients(cfg *rest.Config) (*Clients, error) {
	k, err := kubernetes.NewForConfig(cfg)
	if err != nil {
		return nil, err
	}
	g, err := gatewayclient.NewForConfig(cfg)
	if err != nil {
		return nil, err
	}
	d, err := dynamic.NewForConfig(cfg)
	if err != nil {
		return nil, err
	}
	m, err := metadata.NewForConfig(cfg)
	if err != nil {
		return nil, err
	}
	return &Clients{Kube: k, Gateway: g, Dynamic: d, Metadata: m}, nil
}
