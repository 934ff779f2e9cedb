// Package waypoint holds the lifecycle operations on waypoint Gateways: apply,
// list, status and delete. It takes API clients and returns typed results; it
// prints nothing.
package waypoint

import "github.com/kubectl-waypoint/kubectl-waypoint/pkg/kube"

// DefaultPageSize is how many Gateways one list request asks for.
const DefaultPageSize = kube.PageSize

// Ref names one waypoint.
type Ref struct {
	Namespace string
	Name      string
}

func (r Ref) String() string { return r.Namespace + "/" + r.Name }
