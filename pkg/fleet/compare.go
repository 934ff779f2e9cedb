// Package fleet compares what several clusters hold, for the drift gate of
// "status --compare": which waypoints each has, how they are shaped, and
// which waypoint each namespace uses. It does not talk to the API server
// and prints nothing.
package fleet

import (
	"sort"
)

// Missing is the value of a waypoint a cluster does not have.
const Missing = "<missing>"

// NotEnrolled is the value of a namespace that uses no waypoint in a
// cluster (or does not exist there).
const NotEnrolled = "<none>"

// Waypoint is what the drift gate compares of one waypoint.
type Waypoint struct {
	Class       string
	TrafficType string
	Revision    string
	// AllowedFrom is who may attach, in the words of list -o wide
	// (Same, All, Selector(...)): its listener's allowedRoutes.
	AllowedFrom string
}

// Snapshot is what one cluster holds within the scope compared.
type Snapshot struct {
	// Waypoints are keyed by namespace/name.
	Waypoints map[string]Waypoint
	// Namespaces are the enrolled namespaces and the waypoint each names,
	// read as istiod reads the labels (enroll.Use.Relative): "name",
	// "namespace/name" across namespaces ("/name" for an empty
	// use-waypoint-namespace), or "none".
	Namespaces map[string]string
}

// Difference is one place where the clusters differ.
type Difference struct {
	// Kind is "waypoint" or "namespace".
	Kind string `json:"kind"`
	// Name is namespace/name for a waypoint, the name for a namespace.
	Name string `json:"name"`
	// Field is what differs: present, class, traffic type, revision,
	// allowed from (a waypoint), use-waypoint (a namespace).
	Field string `json:"field"`
	// Values are what each context holds, by context name.
	Values map[string]string `json:"values"`
}

// Compare returns where the snapshots of contexts differ, sorted by kind,
// name and field. A waypoint missing in some clusters is one difference
// ("present"); its fields are compared among the clusters that have it,
// and the others show Missing.
func Compare(contexts []string, snaps map[string]Snapshot) []Difference {
	var out []Difference
	for _, key := range unionKeys(contexts, snaps, func(s Snapshot) []string { return keys(s.Waypoints) }) {
		values := func(get func(Waypoint) string) map[string]string {
			v := map[string]string{}
			for _, c := range contexts {
				w, ok := snaps[c].Waypoints[key]
				if !ok {
					v[c] = Missing
					continue
				}
				v[c] = get(w)
			}
			return v
		}
		present := map[string]string{}
		for _, c := range contexts {
			present[c] = "no"
			if _, ok := snaps[c].Waypoints[key]; ok {
				present[c] = "yes"
			}
		}
		if differ(present, "") {
			out = append(out, Difference{Kind: "waypoint", Name: key, Field: "present", Values: present})
		}
		fields := []struct {
			name string
			get  func(Waypoint) string
		}{
			{"class", func(w Waypoint) string { return w.Class }},
			{"traffic type", func(w Waypoint) string { return w.TrafficType }},
			{"revision", func(w Waypoint) string { return w.Revision }},
			{"allowed from", func(w Waypoint) string { return w.AllowedFrom }},
		}
		for _, f := range fields {
			if v := values(f.get); differ(v, Missing) {
				out = append(out, Difference{Kind: "waypoint", Name: key, Field: f.name, Values: v})
			}
		}
	}
	for _, ns := range unionKeys(contexts, snaps, func(s Snapshot) []string { return keys(s.Namespaces) }) {
		v := map[string]string{}
		for _, c := range contexts {
			w, ok := snaps[c].Namespaces[ns]
			if !ok {
				w = NotEnrolled
			}
			v[c] = w
		}
		if differ(v, "") {
			out = append(out, Difference{Kind: "namespace", Name: ns, Field: "use-waypoint", Values: v})
		}
	}
	return out
}

// differ says whether values holds two different values, leaving out
// those equal to skip.
func differ(values map[string]string, skip string) bool {
	first, seen := "", false
	for _, v := range values {
		if v == skip {
			continue
		}
		if seen && v != first {
			return true
		}
		first, seen = v, true
	}
	return false
}

// unionKeys are the keys of every context's snapshot, sorted.
func unionKeys(contexts []string, snaps map[string]Snapshot, of func(Snapshot) []string) []string {
	set := map[string]bool{}
	for _, c := range contexts {
		for _, k := range of(snaps[c]) {
			set[k] = true
		}
	}
	return keys(set)
}

func keys[V any](m map[string]V) []string {
	out := make([]string, 0, len(m))
	for k := range m {
		out = append(out, k)
	}
	sort.Strings(out)
	return out
}
