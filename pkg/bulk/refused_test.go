package bulk

import (
	"errors"
	"strings"
	"testing"

	"github.com/kubectl-waypoint/kubectl-waypoint/pkg/kube"
)

func TestRefusedOutcome(t *testing.T) {
	refused := Record{Ref: kube.Ref{Kind: "Gateway", Namespace: "a", Name: "waypoint"}, Action: Skipped, Refused: true, Error: "refused: …"}
	deleted := Record{Ref: kube.Ref{Kind: "Gateway", Namespace: "b", Name: "waypoint"}, Action: Deleted}
	skipped := Record{Ref: kube.Ref{Kind: "Gateway", Namespace: "c", Name: "waypoint"}, Action: Skipped}
	failed := Record{Ref: kube.Ref{Kind: "Gateway", Namespace: "d", Name: "waypoint"}, Action: Failed}
	for _, tc := range []struct {
		name    string
		records []Record
		changed bool
		failed  bool
	}{
		{"only refused: nothing changed", []Record{refused, skipped}, false, false},
		{"refused and deleted", []Record{refused, deleted}, true, false},
		{"a failure wins", []Record{refused, deleted, failed}, false, true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			rep := NewReport(tc.records)
			if rep.Summary.Refused != 1 {
				t.Errorf("summary %+v", rep.Summary)
			}
			if !strings.Contains(rep.Line(), "; 1 refused") {
				t.Errorf("line %q", rep.Line())
			}
			err := rep.Outcome()
			var re *RefusedError
			var fe *FailedError
			switch {
			case tc.failed:
				if !errors.As(err, &fe) {
					t.Errorf("outcome %v, want a FailedError", err)
				}
			case !errors.As(err, &re) || re.Changed != tc.changed || re.Refused != 1:
				t.Errorf("outcome %#v, want refused with changed=%v", err, tc.changed)
			}
		})
	}
	if rep := NewReport([]Record{skipped, deleted}); rep.Outcome() != nil || strings.Contains(rep.Line(), "refused") {
		t.Errorf("a plain skip is no refusal: %v, %q", rep.Outcome(), rep.Line())
	}
}
