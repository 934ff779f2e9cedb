package kube

import "strings"

// Ref is one object of the API server: its kind as the API spells it
// (Namespace, Service, Pod, ServiceEntry, WorkloadEntry, Gateway), its
// namespace (empty for a namespace) and its name. The records of bulk work,
// the objects of the L7 guard and the targets of enrollment all carry one,
// and String is the one way a message names an object.
type Ref struct {
	Kind      string `json:"kind"`
	Namespace string `json:"namespace,omitempty"`
	Name      string `json:"name"`
}

// String names the object in messages, with its kind in lower case and a
// waypoint's Gateway as a waypoint: "service default/reviews",
// "serviceentry ns/istio-site", "namespace default", "waypoint l7/waypoint".
func (r Ref) String() string {
	kind := strings.ToLower(r.Kind)
	if r.Kind == "Gateway" {
		kind = "waypoint"
	}
	if r.Namespace == "" {
		return kind + " " + r.Name
	}
	return kind + " " + r.Namespace + "/" + r.Name
}
