package enroll

// Describe names an object of kind in messages, the one way the tool does:
// "service default/reviews", "serviceentry ns/istio-site", "namespace
// default". namespace is empty for namespaces.
func Describe(kind Kind, namespace, name string) string {
	if kind == KindNamespace || namespace == "" {
		return string(kind) + " " + name
	}
	return string(kind) + " " + namespace + "/" + name
}

// String names the target in messages (see Describe).
func (t Target) String() string { return Describe(t.Kind, t.Namespace, t.Name) }

// String names the resource in messages (see Describe).
func (r Resource) String() string { return Describe(r.Kind, r.Namespace, r.Name) }
