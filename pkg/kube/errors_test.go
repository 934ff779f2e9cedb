package kube

import (
	"errors"
	"fmt"
	"net"
	"net/url"
	"strings"
	"syscall"
	"testing"

	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime/schema"
)

func TestDescribe(t *testing.T) {
	gr := schema.GroupResource{Group: "gateway.networking.k8s.io", Resource: "gateways"}
	missingType := &apierrors.StatusError{ErrStatus: metav1.Status{
		Status: metav1.StatusFailure, Reason: metav1.StatusReasonNotFound, Code: 404,
		Message: "the server could not find the requested resource",
	}}
	cases := []struct {
		name string
		err  error
		want []string
	}{
		{"forbidden", apierrors.NewForbidden(gr, "waypoint", errors.New("user cannot patch")), []string{"forbidden", "cannot patch", "ask your cluster admin"}},
		{"unauthorized", apierrors.NewUnauthorized("bad token"), []string{"unauthorized", "log in again"}},
		{"throttled", apierrors.NewTooManyRequests("slow down", 3), []string{"throttling", "429", "slow down"}},
		{"conflict", apierrors.NewConflict(gr, "waypoint", errors.New("object was modified")), []string{"conflict", "object was modified"}},
		{"invalid", apierrors.NewInvalid(schema.GroupKind{Group: gr.Group, Kind: "Gateway"}, "waypoint", nil), []string{"rejected by the API server"}},
		{"missing CRD", missingType, []string{"Gateway API CRDs are not installed", "install them with: kubectl apply --server-side -f https://github.com/kubernetes-sigs/gateway-api/releases/download/"}},
		{"timeout", apierrors.NewServerTimeout(gr, "patch", 1), []string{"timed out"}},
		{"refused", &url.Error{Op: "Get", URL: "https://127.0.0.1:1", Err: &net.OpError{Op: "dial", Err: syscall.ECONNREFUSED}}, []string{"unreachable", "--kubeconfig"}},
		{"other", errors.New("boom"), []string{"boom"}},
	}
	// The group of a typed client's error, or what was done, names the CRDs.
	withGroup := apierrors.NewGenericServerResponse(404, "get", schema.GroupResource{Group: IstioNetworkingGroup, Resource: "serviceentries"}, "", "404 page not found", 0, false)
	for what, want := range map[string]string{
		"list serviceentries":      "Istio's CRDs",
		"read gateway a/b":         "Gateway API CRDs",
		"read namespace x":         "install its CRDs first",
		"read something (istio)":   "install its CRDs first",
		"list waypoints":           "Gateway API CRDs",
		"read the things of group": "install its CRDs first",
	} {
		if got := Describe(what, missingType).Error(); !strings.Contains(got, want) {
			t.Errorf("%s: %q lacks %q", what, got, want)
		}
	}
	if got := Describe("read x", withGroup).Error(); !strings.Contains(got, "Istio's CRDs") {
		t.Errorf("an error of group %s: %q", IstioNetworkingGroup, got)
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			got := Describe("apply waypoint default/waypoint", tc.err).Error()
			if !strings.HasPrefix(got, "cannot apply waypoint default/waypoint: ") || strings.Contains(got, "\n") {
				t.Errorf("not one line about what failed: %q", got)
			}
			for _, w := range tc.want {
				if !strings.Contains(got, w) {
					t.Errorf("%q lacks %q", got, w)
				}
			}
		})
	}
	if Describe("x", nil) != nil {
		t.Error("nil error described")
	}
}

func TestIsMissingNamespace(t *testing.T) {
	ns := apierrors.NewNotFound(schema.GroupResource{Resource: "namespaces"}, "nope")
	if !IsMissingNamespace(ns) || IsMissingType(ns) {
		t.Error("a missing namespace is not a missing type")
	}
	gw := apierrors.NewNotFound(schema.GroupResource{Group: "gateway.networking.k8s.io", Resource: "gateways"}, "waypoint")
	if IsMissingNamespace(gw) || IsMissingType(gw) {
		t.Error("a missing object is neither")
	}
	if IsMissingNamespace(fmt.Errorf("wrapped: %w", errors.New("x"))) {
		t.Error("plain error")
	}
}
