package kube

import (
	"strconv"
	"time"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
)

// Conditions reads status.conditions of an object read without a typed
// client. Istio's objects carry conditions with the fields of a
// metav1.Condition, but istiod writes the generation it saw once, in
// status.observedGeneration, and as a string (protobuf JSON writes int64 so):
// a condition without a generation of its own takes that one.
func Conditions(obj *unstructured.Unstructured) []metav1.Condition {
	items, _, _ := unstructured.NestedSlice(obj.Object, "status", "conditions")
	status, _, _ := unstructured.NestedMap(obj.Object, "status")
	statusGen := generation(status["observedGeneration"])
	var out []metav1.Condition
	for _, item := range items {
		m, ok := item.(map[string]any)
		if !ok {
			continue
		}
		str := func(k string) string { s, _ := m[k].(string); return s }
		c := metav1.Condition{
			Type:               str("type"),
			Status:             metav1.ConditionStatus(str("status")),
			Reason:             str("reason"),
			Message:            str("message"),
			ObservedGeneration: generation(m["observedGeneration"]),
		}
		if c.ObservedGeneration == 0 {
			c.ObservedGeneration = statusGen
		}
		if ts, err := time.Parse(time.RFC3339, str("lastTransitionTime")); err == nil {
			c.LastTransitionTime = metav1.NewTime(ts)
		}
		out = append(out, c)
	}
	return out
}

// generation reads a generation written as a number or as a string.
func generation(v any) int64 {
	switch g := v.(type) {
	case int64:
		return g
	case float64:
		return int64(g)
	case string:
		n, _ := strconv.ParseInt(g, 10, 64)
		return n
	}
	return 0
}
