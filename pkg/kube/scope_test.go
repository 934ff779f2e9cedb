package kube_test

import (
	"context"
	"errors"
	"maps"
	"slices"
	"sync"
	"testing"

	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/runtime/schema"

	"github.com/kubectl-waypoint/kubectl-waypoint/pkg/bulk"
	"github.com/kubectl-waypoint/kubectl-waypoint/pkg/kube"
)

// TestReadScope: one namespace is read in itself, several or none across
// the cluster; a forbidden read across the cluster falls back on each
// namespace, and any other failure is the read's error.
func TestReadScope(t *testing.T) {
	forbidden := apierrors.NewForbidden(schema.GroupResource{Resource: "gateways"}, "", errors.New("cluster scope"))
	boom := apierrors.NewBadRequest("boom")
	cases := []struct {
		name         string
		namespaces   []string
		clusterErr   error
		nsErr        map[string]error
		wantReads    []string
		wantFailed   []string
		wantNarrowed bool
	}{
		{name: "one namespace", namespaces: []string{"a"}, wantReads: []string{"a"}},
		{name: "one namespace that fails", namespaces: []string{"a"}, nsErr: map[string]error{"a": boom}, wantReads: []string{"a"}, wantFailed: []string{"a"}},
		{name: "several across the cluster", namespaces: []string{"a", "b"}, wantReads: []string{""}},
		{name: "none across the cluster", wantReads: []string{""}},
		{name: "forbidden: each namespace", namespaces: []string{"a", "b"}, clusterErr: forbidden, nsErr: map[string]error{"b": boom},
			wantReads: []string{"", "a", "b"}, wantFailed: []string{"b"}, wantNarrowed: true},
		{name: "forbidden with none to fall back on", clusterErr: forbidden, wantReads: []string{""}, wantFailed: []string{""}},
		{name: "another error is not narrowed", namespaces: []string{"a", "b"}, clusterErr: boom, wantReads: []string{""}, wantFailed: []string{""}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			var mu sync.Mutex
			var reads []string
			got := kube.ReadScope(context.Background(), tc.namespaces, 2, func(_ context.Context, ns string) error {
				mu.Lock()
				defer mu.Unlock()
				reads = append(reads, ns)
				if ns == "" {
					return tc.clusterErr
				}
				return tc.nsErr[ns]
			})
			slices.Sort(reads)
			failed := slices.Sorted(maps.Keys(got.Failed))
			if !slices.Equal(reads, tc.wantReads) || !slices.Equal(failed, tc.wantFailed) || got.Narrowed != tc.wantNarrowed {
				t.Errorf("reads %q, failed %q, narrowed %v; want %q, %q, %v", reads, failed, got.Narrowed, tc.wantReads, tc.wantFailed, tc.wantNarrowed)
			}
			if (got.Err() != nil) != slices.Contains(tc.wantFailed, "") {
				t.Errorf("Err() = %v", got.Err())
			}
		})
	}
}

// TestReadScopeStops: once the work of a bulk.WithStop context is stopped,
// ReadScope starts no new namespace, and those it did not start fail with
// bulk.ErrInterrupted.
func TestReadScopeStops(t *testing.T) {
	forbidden := apierrors.NewForbidden(schema.GroupResource{Resource: "gateways"}, "", errors.New("cluster scope"))
	stop := make(chan struct{})
	ctx := bulk.WithStop(context.Background(), stop)
	namespaces := []string{"a", "b", "c", "d"}
	var mu sync.Mutex
	var reads []string
	got := kube.ReadScope(ctx, namespaces, 1, func(_ context.Context, ns string) error {
		mu.Lock()
		defer mu.Unlock()
		reads = append(reads, ns)
		switch ns {
		case "":
			return forbidden
		case "b":
			close(stop)
		}
		return nil
	})
	if !slices.Equal(reads, []string{"", "a", "b"}) {
		t.Errorf("reads %q, want the cluster, a and b only", reads)
	}
	for _, ns := range []string{"c", "d"} {
		if !errors.Is(got.Failed[ns], bulk.ErrInterrupted) {
			t.Errorf("%s: %v, want interrupted", ns, got.Failed[ns])
		}
	}
	if len(got.Failed) != 2 || !got.Narrowed {
		t.Errorf("failed %v, narrowed %v", got.Failed, got.Narrowed)
	}
}
