package kube

import (
	"errors"
	"fmt"
	"net"
	"net/url"
	"syscall"

	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/api/meta"
)

// Describe turns an API server fault met while doing what (e.g. "apply
// waypoint default/waypoint") into one clear line that says what to do next.
// Errors that are not API faults are wrapped with what and returned.
func Describe(what string, err error) error {
	if err == nil {
		return nil
	}
	var status apierrors.APIStatus
	switch {
	case IsMissingType(err):
		return fmt.Errorf("cannot %s: the API server does not serve that resource type; install its CRDs first (the Gateway API for waypoints, Istio's for ServiceEntries)", what)
	case apierrors.IsForbidden(err):
		return fmt.Errorf("cannot %s: forbidden: %s; ask your cluster admin for that permission or use --as/--context", what, apiMessage(err))
	case apierrors.IsUnauthorized(err):
		return fmt.Errorf("cannot %s: unauthorized: the credentials in your kubeconfig were refused; log in again", what)
	case apierrors.IsTooManyRequests(err):
		return fmt.Errorf("cannot %s: the API server is throttling requests (429): %s; try again later or lower --qps", what, apiMessage(err))
	case apierrors.IsConflict(err):
		return fmt.Errorf("cannot %s: conflict: %s", what, apiMessage(err))
	case apierrors.IsInvalid(err):
		return fmt.Errorf("cannot %s: rejected by the API server: %s", what, apiMessage(err))
	case apierrors.IsTimeout(err) || apierrors.IsServerTimeout(err):
		return fmt.Errorf("cannot %s: the API server timed out: %s", what, apiMessage(err))
	case isUnreachable(err):
		return fmt.Errorf("cannot %s: the API server is unreachable (%v); check --kubeconfig, --context and --server", what, rootCause(err))
	case errors.As(err, &status):
		return fmt.Errorf("cannot %s: %s", what, apiMessage(err))
	}
	return fmt.Errorf("cannot %s: %w", what, err)
}

func apiMessage(err error) string {
	var status apierrors.APIStatus
	if errors.As(err, &status) && status.Status().Message != "" {
		return status.Status().Message
	}
	return err.Error()
}

func isUnreachable(err error) bool {
	var opErr *net.OpError
	var dnsErr *net.DNSError
	var urlErr *url.Error
	return errors.As(err, &opErr) || errors.As(err, &dnsErr) ||
		errors.Is(err, syscall.ECONNREFUSED) || (errors.As(err, &urlErr) && urlErr.Timeout())
}

func rootCause(err error) error {
	for {
		next := errors.Unwrap(err)
		if next == nil {
			return err
		}
		err = next
	}
}

// IsMissingNamespace reports whether err says the namespace of the object does
// not exist.
func IsMissingNamespace(err error) bool {
	var status apierrors.APIStatus
	if !apierrors.IsNotFound(err) || !errors.As(err, &status) {
		return false
	}
	d := status.Status().Details
	return d != nil && d.Kind == "namespaces"
}

// IsMissingType reports whether err says the API server does not serve the
// resource type at all (its CRD is not installed).
func IsMissingType(err error) bool {
	if meta.IsNoMatchError(err) {
		return true
	}
	var status apierrors.APIStatus
	if !apierrors.IsNotFound(err) || !errors.As(err, &status) {
		return false
	}
	d := status.Status().Details
	return d == nil || d.Name == ""
}
