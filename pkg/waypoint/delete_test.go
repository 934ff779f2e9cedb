package waypoint

import "testing"

// TestDanglingEmptyNamespaceLabel: enroll reads a label with an empty
// istio.io/use-waypoint-namespace as naming waypoint "/name", as istiod
// does. A delete by name or in namespaces leaves it alone (it never used
// the waypoint deleted); a delete everywhere finds it dangling, since no
// waypoint of that key can exist.
func TestDanglingEmptyNamespaceLabel(t *testing.T) {
	named := &deletion{req: DeleteRequest{Names: []string{"w"}, Namespaces: []string{"app"}}, gone: []string{"app/w"}, existing: map[string]bool{}, unread: map[string]bool{}}
	if !named.dangling("app/w") || named.dangling("/w") {
		t.Errorf("by name: app/w %v, /w %v", named.dangling("app/w"), named.dangling("/w"))
	}
	scoped := &deletion{req: DeleteRequest{All: true, Namespaces: []string{"app"}}, existing: map[string]bool{"app/w": true}, unread: map[string]bool{}}
	if scoped.dangling("app/w") || scoped.dangling("/w") || !scoped.dangling("app/gone") {
		t.Errorf("in namespace app: app/w %v, /w %v, app/gone %v", scoped.dangling("app/w"), scoped.dangling("/w"), scoped.dangling("app/gone"))
	}
	everywhere := &deletion{req: DeleteRequest{All: true}, existing: map[string]bool{"app/w": true}, unread: map[string]bool{}}
	if everywhere.dangling("app/w") || !everywhere.dangling("/w") || everywhere.dangling("app/") {
		t.Errorf("everywhere: app/w %v, /w %v, app/ %v", everywhere.dangling("app/w"), everywhere.dangling("/w"), everywhere.dangling("app/"))
	}
}
