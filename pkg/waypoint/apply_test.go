package waypoint

import (
	"errors"
	"testing"
)

// TestCheckNamespaceEnrollment: apply --enroll-namespace replaces a
// namespace's use-waypoint label only with --overwrite, unless istiod reads
// it as naming the waypoint applied. The labels are read as istiod reads
// them: an empty use-waypoint-namespace names namespace "", not the
// namespace's own (the first reading let apply take it over as its own),
// and an empty use-waypoint is there (it was taken for none).
func TestCheckNamespaceEnrollment(t *testing.T) {
	for _, tc := range []struct {
		name   string
		labels map[string]string
		// refused is the error without --overwrite; empty when accepted.
		refused string
	}{
		{"no label", nil, ""},
		{"a use-waypoint-namespace alone names nothing", map[string]string{"istio.io/use-waypoint-namespace": "infra"}, ""},
		{"its own waypoint", map[string]string{"istio.io/use-waypoint": "wp"}, ""},
		{"its own waypoint, its namespace named", map[string]string{"istio.io/use-waypoint": "wp", "istio.io/use-waypoint-namespace": "app"}, ""},
		{"another waypoint", map[string]string{"istio.io/use-waypoint": "other"},
			`namespace app already uses waypoint app/other; add --overwrite to switch it to "wp"`},
		{"the same name in another namespace", map[string]string{"istio.io/use-waypoint": "wp", "istio.io/use-waypoint-namespace": "infra"},
			`namespace app already uses waypoint infra/wp; add --overwrite to switch it to "wp"`},
		{"an empty use-waypoint-namespace names namespace \"\"", map[string]string{"istio.io/use-waypoint": "wp", "istio.io/use-waypoint-namespace": ""},
			`namespace app already uses waypoint "wp" in namespace ""; add --overwrite to switch it to "wp"`},
		{"an empty use-waypoint is there", map[string]string{"istio.io/use-waypoint": ""},
			`namespace app already uses waypoint "" in namespace "app"; add --overwrite to switch it to "wp"`},
		{"opted out", map[string]string{"istio.io/use-waypoint": "none"},
			`namespace app opts out of waypoints (istio.io/use-waypoint=none); add --overwrite to switch it to "wp"`},
		{"None is a name", map[string]string{"istio.io/use-waypoint": "None"},
			`namespace app already uses waypoint app/None; add --overwrite to switch it to "wp"`},
	} {
		t.Run(tc.name, func(t *testing.T) {
			err := checkNamespaceEnrollment("app", tc.labels, "wp", false)
			var elsewhere *EnrolledElsewhereError
			switch {
			case tc.refused == "" && err != nil:
				t.Errorf("refused: %v", err)
			case tc.refused != "" && (!errors.As(err, &elsewhere) || err.Error() != tc.refused):
				t.Errorf("got %v, want %s", err, tc.refused)
			}
			if err := checkNamespaceEnrollment("app", tc.labels, "wp", true); err != nil {
				t.Errorf("with --overwrite: %v", err)
			}
		})
	}
}
