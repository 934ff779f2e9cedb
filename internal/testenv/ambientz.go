package testenv

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"strings"
	"time"
)

// Ambient is what istiod sends to ztunnel, as its /debug/ambientz shows it:
// the workloads (pods, WorkloadEntries, the endpoints of ServiceEntries) and
// the services (Services and ServiceEntries, one per host), each with the
// waypoint ztunnel sends its traffic to.
type Ambient struct {
	Workloads []AmbientWorkload `json:"workloads"`
	Services  []AmbientService  `json:"services"`
	Policies  []json.RawMessage `json:"policies"`
}

// AmbientWorkload is one workload of ambientz.
type AmbientWorkload struct {
	// UID is cluster/group/kind/namespace/name, such as
	// "Kubernetes//Pod/ns/name" or
	// "Kubernetes/networking.istio.io/WorkloadEntry/ns/name".
	UID       string          `json:"uid"`
	Name      string          `json:"name"`
	Namespace string          `json:"namespace"`
	Waypoint  *GatewayAddress `json:"waypoint,omitempty"`
	// AuthorizationPolicies are the policies ztunnel enforces on the
	// workload, as namespace/name.
	AuthorizationPolicies []string `json:"authorizationPolicies,omitempty"`
}

// Kind is the kind of object the workload comes from (Pod, WorkloadEntry,
// ServiceEntry), read from its UID.
func (w AmbientWorkload) Kind() string {
	parts := strings.Split(w.UID, "/")
	if len(parts) < 5 {
		return ""
	}
	return parts[2]
}

// AmbientService is one service of ambientz.
type AmbientService struct {
	Name               string          `json:"name"`
	Namespace          string          `json:"namespace"`
	Hostname           string          `json:"hostname"`
	Waypoint           *GatewayAddress `json:"waypoint,omitempty"`
	IngressUseWaypoint bool            `json:"ingressUseWaypoint,omitempty"`
}

// GatewayAddress is where ztunnel reaches a waypoint: a hostname in a
// namespace (what istiod prefers: the waypoint's Service), or an IP.
type GatewayAddress struct {
	Hostname *struct {
		Namespace string `json:"namespace"`
		Hostname  string `json:"hostname"`
	} `json:"hostname,omitempty"`
	Address *struct {
		Network string `json:"network"`
		Address string `json:"address"`
	} `json:"address,omitempty"`
}

// String is namespace/hostname or the address, for messages.
func (g *GatewayAddress) String() string {
	switch {
	case g == nil:
		return "none"
	case g.Hostname != nil:
		return g.Hostname.Namespace + "/" + g.Hostname.Hostname
	case g.Address != nil:
		return "address " + g.Address.Address
	}
	return "empty"
}

// Ambientz reads istiod's /debug/ambientz. It fails when no istiod runs.
func (e *Env) Ambientz(ctx context.Context) (*Ambient, error) {
	if e.istiod == nil {
		return nil, fmt.Errorf("no istiod runs in this test environment")
	}
	ctx, cancel := context.WithTimeout(ctx, 10*time.Second)
	defer cancel()
	url := fmt.Sprintf("http://127.0.0.1:%d/debug/ambientz", e.istiod.ports.http)
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, url, nil)
	if err != nil {
		return nil, err
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return nil, fmt.Errorf("reading istiod's ambientz: %w", err)
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(resp.Body)
	if err != nil {
		return nil, fmt.Errorf("reading istiod's ambientz: %w", err)
	}
	if resp.StatusCode != http.StatusOK {
		return nil, fmt.Errorf("istiod's ambientz answered %s: %s", resp.Status, lastLines(string(body), 3))
	}
	var a Ambient
	if err := json.Unmarshal(body, &a); err != nil {
		return nil, fmt.Errorf("decoding istiod's ambientz: %w", err)
	}
	return &a, nil
}
