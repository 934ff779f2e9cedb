package bulk

import (
	"testing"

	"github.com/kubectl-waypoint/kubectl-waypoint/pkg/kube"
)

// TestNewReportOrder: by kind, then namespace, then name; equal ones keep
// the order they came in.
func TestNewReportOrder(t *testing.T) {
	r := NewReport([]Record{
		{Ref: kube.Ref{Kind: "Service", Namespace: "b", Name: "y"}, Action: Created},
		{Ref: kube.Ref{Kind: "Service", Namespace: "b", Name: "x"}, Action: Created},
		{Ref: kube.Ref{Kind: "Service", Namespace: "a", Name: "z"}, Action: Failed},
		{Ref: kube.Ref{Kind: "Gateway", Namespace: "c", Name: "w"}, Action: Created},
		{Ref: kube.Ref{Kind: "Service", Namespace: "b", Name: "x"}, Action: Failed},
	})
	want := []string{"Gateway/c/w/created", "Service/a/z/failed", "Service/b/x/created", "Service/b/x/failed", "Service/b/y/created"}
	for i, rec := range r.Records {
		if got := rec.Kind + "/" + rec.Namespace + "/" + rec.Name + "/" + string(rec.Action); got != want[i] {
			t.Errorf("record %d = %s, want %s", i, got, want[i])
		}
	}
	if r.Summary.Total != 5 || r.Summary.Failed != 2 || r.Summary.Counts[Created] != 3 {
		t.Errorf("summary = %+v", r.Summary)
	}
}

func TestPluralShortWords(t *testing.T) {
	for in, want := range map[string]string{"y": "ys", "Y": "ys", "ServiceEntry": "serviceentries", "Gateway": "gateways", "Pod": "pods"} {
		if got := plural(in); got != want {
			t.Errorf("plural(%q) = %q, want %q", in, got, want)
		}
	}
}
