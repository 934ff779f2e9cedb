package kube

import (
	"errors"
	"fmt"
	"net"
	"net/url"
	"strings"
	"syscall"

	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
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
		return missingType(what, err)
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
		server := "the API server"
		var urlErr *url.Error
		if errors.As(err, &urlErr) {
			if u, perr := url.Parse(urlErr.URL); perr == nil && u.Host != "" {
				server += " at " + u.Scheme + "://" + u.Host
			}
		}
		return &unreachableError{fmt.Sprintf("cannot %s: %s is unreachable (%v); check --kubeconfig, --context and --server", what, server, rootCause(err))}
	case errors.As(err, &status):
		return fmt.Errorf("cannot %s: %s", what, apiMessage(err))
	}
	return fmt.Errorf("cannot %s: %w", what, err)
}

// GatewayAPIInstall is the command that installs the Gateway API CRDs (the
// standard channel of the release the tool is built and tested against).
const GatewayAPIInstall = "kubectl apply --server-side -f https://github.com/kubernetes-sigs/gateway-api/releases/download/v1.6.3/standard-install.yaml"

// missingType names the CRDs that are missing and how to install them: the
// Gateway API when the request was for its group (or for waypoints), Istio's
// for its group.
func missingType(what string, err error) error {
	group := ""
	var status apierrors.APIStatus
	var noMatch *meta.NoKindMatchError
	switch {
	case errors.As(err, &noMatch):
		group = noMatch.GroupKind.Group
	case errors.As(err, &status) && status.Status().Details != nil:
		group = status.Status().Details.Group
	}
	if group == "" {
		// The dynamic and metadata clients do not say; what does.
		switch w := strings.ToLower(what); {
		case strings.Contains(w, "waypoint") || strings.Contains(w, "gateway"):
			group = GatewayGroup
		case strings.Contains(w, "serviceentr"):
			group = IstioNetworkingGroup
		}
	}
	switch group {
	case GatewayGroup:
		return fmt.Errorf("cannot %s: the Gateway API CRDs are not installed; install them with: %s", what, GatewayAPIInstall)
	case IstioNetworkingGroup:
		return fmt.Errorf("cannot %s: Istio's CRDs (serviceentries.networking.istio.io) are not installed; install Istio in ambient mode first", what)
	}
	return fmt.Errorf("cannot %s: the API server does not serve that resource type; install its CRDs first (the Gateway API for waypoints, Istio's for ServiceEntries)", what)
}

// API groups whose CRDs the tool needs.
const (
	GatewayGroup         = "gateway.networking.k8s.io"
	IstioNetworkingGroup = "networking.istio.io"
)

func apiMessage(err error) string {
	var status apierrors.APIStatus
	if errors.As(err, &status) && status.Status().Message != "" {
		return status.Status().Message
	}
	return err.Error()
}

// ErrUnreachable is matched (errors.Is) by the errors of Describe that say
// the API server could not be reached.
var ErrUnreachable = errors.New("the API server is unreachable")

type unreachableError struct{ msg string }

func (e *unreachableError) Error() string        { return e.msg }
func (e *unreachableError) Is(target error) bool { return target == ErrUnreachable }

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
// resource type at all (its CRD is not installed). A missing object is a 404
// with a Status naming it; a path the server does not serve is a 404 with
// the plain text "404 page not found", which client-go reports with the
// name it asked for and a cause of type UnexpectedServerResponse carrying
// that text.
func IsMissingType(err error) bool {
	if meta.IsNoMatchError(err) {
		return true
	}
	var status apierrors.APIStatus
	if !apierrors.IsNotFound(err) || !errors.As(err, &status) {
		return false
	}
	d := status.Status().Details
	if d == nil || d.Name == "" {
		return true
	}
	for _, c := range d.Causes {
		// Only the server's own text: a 404 whose body was cut short (a
		// connection reset) is not a missing type.
		if c.Type == metav1.CauseTypeUnexpectedServerResponse && strings.TrimSpace(c.Message) == "404 page not found" {
			return true
		}
	}
	return false
}
