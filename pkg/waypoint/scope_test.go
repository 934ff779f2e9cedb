package waypoint

import (
	"errors"
	"reflect"
	"testing"

	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/runtime/schema"
)

func TestInNamespaces(t *testing.T) {
	forbidden := apierrors.NewForbidden(schema.GroupResource{Resource: "gateways"}, "", errors.New("cluster scope"))
	cases := []struct {
		name       string
		namespaces []string
		clusterErr error
		want       []string
		wantErr    bool
	}{
		{"one namespace is read in itself", []string{"a"}, nil, []string{"a"}, false},
		{"several are read across the cluster", []string{"a", "b"}, nil, []string{""}, false},
		{"none means the whole cluster", nil, nil, []string{""}, false},
		{"forbidden across the cluster: one by one", []string{"a", "b"}, forbidden, []string{"", "a", "b"}, false},
		{"forbidden with no namespaces to fall back on", nil, forbidden, []string{""}, true},
		{"other errors are not retried", []string{"a", "b"}, errors.New("boom"), []string{""}, true},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			var got []string
			err := InNamespaces(tc.namespaces, func(ns string) error {
				got = append(got, ns)
				if ns == "" {
					return tc.clusterErr
				}
				return nil
			})
			if (err != nil) != tc.wantErr || !reflect.DeepEqual(got, tc.want) {
				t.Errorf("reads %q, err %v", got, err)
			}
		})
	}
}
