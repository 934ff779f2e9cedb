// Package kube builds the clients the tool talks to the cluster with and turns
// API server faults into messages a user can act on.
package kube

import (
	"net/http"

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
	cfg = rest.CopyConfig(cfg)
	cfg.Wrap(func(rt http.RoundTripper) http.RoundTripper { return oneRetryLayer{rt} })
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

// oneRetryLayer drops the Retry-After header of 429 and 5xx answers, so that
// client-go never retries a request on its own: Retry and RetryTracked
// are the one layer that retries, and they know when a failed attempt
// may have done its work. A write whose answer was lost and that
// client-go retried unseen would meet its own change as a conflict, and
// be reported as not done.
type oneRetryLayer struct{ next http.RoundTripper }

func (t oneRetryLayer) RoundTrip(req *http.Request) (*http.Response, error) {
	resp, err := t.next.RoundTrip(req)
	if err == nil && (resp.StatusCode == http.StatusTooManyRequests || resp.StatusCode >= http.StatusInternalServerError) {
		resp.Header.Del("Retry-After")
	}
	return resp, err
}
