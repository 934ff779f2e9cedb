package kube

import (
	"testing"
	"time"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
)

func TestConditions(t *testing.T) {
	obj := &unstructured.Unstructured{Object: map[string]any{
		"status": map[string]any{
			// As istiod writes it on an AuthorizationPolicy.
			"observedGeneration": "7",
			"conditions": []any{
				map[string]any{"type": "WaypointAccepted", "status": "False", "reason": "AncestorNotBound", "message": "not bound", "lastTransitionTime": "2026-11-22T09:00:00Z"},
				map[string]any{"type": "Programmed", "status": "True", "observedGeneration": int64(3)},
				map[string]any{"type": "Accepted", "status": "True", "observedGeneration": float64(4)},
				"not a condition",
			},
		},
	}}
	got := Conditions(obj)
	if len(got) != 3 {
		t.Fatalf("got %d conditions, want 3: %+v", len(got), got)
	}
	want := metav1.Condition{Type: "WaypointAccepted", Status: metav1.ConditionFalse, Reason: "AncestorNotBound", Message: "not bound", ObservedGeneration: 7,
		LastTransitionTime: metav1.NewTime(time.Date(2026, 11, 22, 9, 0, 0, 0, time.UTC))}
	if !got[0].LastTransitionTime.Equal(&want.LastTransitionTime) {
		t.Errorf("lastTransitionTime = %v, want %v", got[0].LastTransitionTime, want.LastTransitionTime)
	}
	got[0].LastTransitionTime = want.LastTransitionTime
	if got[0] != want {
		t.Errorf("first condition = %+v, want %+v", got[0], want)
	}
	if got[1].Type != "Programmed" || got[1].Status != metav1.ConditionTrue || got[1].ObservedGeneration != 3 {
		t.Errorf("a condition's own integer generation wins: %+v", got[1])
	}
	if got[2].ObservedGeneration != 4 {
		t.Errorf("a float generation (JSON numbers) is read: %+v", got[2])
	}
	if c := Conditions(&unstructured.Unstructured{Object: map[string]any{}}); c != nil {
		t.Errorf("no status gives no conditions, got %+v", c)
	}
}

func TestGeneration(t *testing.T) {
	for _, tc := range []struct {
		v    any
		want int64
	}{
		{int64(7), 7}, {float64(8), 8}, {"9", 9}, {"x", 0}, {nil, 0}, {true, 0},
	} {
		if got := generation(tc.v); got != tc.want {
			t.Errorf("generation(%#v) = %d, want %d", tc.v, got, tc.want)
		}
	}
	// No generation anywhere, and a time that is not RFC 3339: both zero.
	conds := Conditions(&unstructured.Unstructured{Object: map[string]any{"status": map[string]any{"conditions": []any{
		map[string]any{"type": "Other", "lastTransitionTime": "garbage"},
	}}}})
	if len(conds) != 1 || conds[0].ObservedGeneration != 0 || !conds[0].LastTransitionTime.IsZero() {
		t.Errorf("got %+v", conds)
	}
}
