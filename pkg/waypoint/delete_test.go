package waypoint

import "testing"

// TestMissingEmptyNamespaceLabel: enroll reads a label with an empty
// istio.io/use-waypoint-namespace as naming waypoint "/name", as istiod
// does. A delete by name or in namespaces leaves it alone (it never used
// the waypoint deleted); a delete everywhere finds it missing, since no
// waypoint of that key can exist.
func TestMissingEmptyNamespaceLabel(t *testing.T) {
	named := &deletion{req: DeleteRequest{Names: []string{"w"}, Namespaces: []string{"app"}}, gone: []string{"app/w"}, existing: map[string]bool{}, unread: map[string]bool{}}
	if !named.missing("app/w") || named.missing("/w") {
		t.Errorf("by name: app/w %v, /w %v", named.missing("app/w"), named.missing("/w"))
	}
	scoped := &deletion{req: DeleteRequest{All: true, Namespaces: []string{"app"}}, existing: map[string]bool{"app/w": true}, unread: map[string]bool{}}
	if scoped.missing("app/w") || scoped.missing("/w") || !scoped.missing("app/gone") {
		t.Errorf("in namespace app: app/w %v, /w %v, app/gone %v", scoped.missing("app/w"), scoped.missing("/w"), scoped.missing("app/gone"))
	}
	everywhere := &deletion{req: DeleteRequest{All: true}, existing: map[string]bool{"app/w": true}, unread: map[string]bool{}}
	if everywhere.missing("app/w") || !everywhere.missing("/w") || everywhere.missing("app/") {
		t.Errorf("everywhere: app/w %v, /w %v, app/ %v", everywhere.missing("app/w"), everywhere.missing("/w"), everywhere.missing("app/"))
	}
}
