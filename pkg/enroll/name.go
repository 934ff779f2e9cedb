package enroll

import "github.com/kubectl-waypoint/kubectl-waypoint/pkg/kube"

// RefOf is the reference of an object of kind: its API kind, namespace
// (none for a namespace) and name. Its String is how messages name it.
func RefOf(kind Kind, namespace, name string) kube.Ref {
	if kind == KindNamespace {
		namespace = ""
	}
	return kube.Ref{Kind: kind.APIKind(), Namespace: namespace, Name: name}
}

// Ref is the target's reference.
func (t Target) Ref() kube.Ref { return RefOf(t.Kind, t.Namespace, t.Name) }

// Ref is the resource's reference.
func (r Resource) Ref() kube.Ref { return RefOf(r.Kind, r.Namespace, r.Name) }

// String names the target in messages (kube.Ref's String).
func (t Target) String() string { return t.Ref().String() }

// String names the resource in messages (kube.Ref's String).
func (r Resource) String() string { return r.Ref().String() }
