package waypoint

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	gatewayv1 "sigs.k8s.io/gateway-api/apis/v1"
	gatewayscheme "sigs.k8s.io/gateway-api/pkg/client/clientset/versioned/scheme"

	"github.com/kubectl-waypoint/kubectl-waypoint/pkg/bulk"
	"github.com/kubectl-waypoint/kubectl-waypoint/pkg/enroll"
	"github.com/kubectl-waypoint/kubectl-waypoint/pkg/istio"
	"github.com/kubectl-waypoint/kubectl-waypoint/pkg/kube"
)

// ApplyRequest is one waypoint to apply.
type ApplyRequest struct {
	// Gateway is the rendered waypoint, with its namespace set.
	Gateway *gatewayv1.Gateway
	// Force takes ownership of fields another field manager owns.
	Force  bool
	DryRun kube.DryRun
	// EnrollNamespace labels the waypoint's namespace to use it.
	EnrollNamespace bool
	// Overwrite lets EnrollNamespace replace another waypoint.
	Overwrite bool
	// OnApplied, when set, is called as soon as the Gateway is applied,
	// with the result so far (Gateway, Created, Unchanged).
	OnApplied func(res *ApplyResult)
	// DeferEnroll leaves the namespace label change in the result's
	// PendingEnroll instead of writing it, for callers that wait for many
	// waypoints before enrolling their namespaces.
	DeferEnroll bool
	// Namespace is the waypoint's namespace as the caller already read it
	// (in a list of many); nil makes Apply read it when it needs it.
	Namespace *corev1.Namespace
	// Previous is the Content of the Gateway before the apply, when the
	// caller knows it ("" when it does not exist or is unknown); with it the
	// result tells configured from unchanged.
	Previous string
	// PreviousKnown says Previous was read: "" then means the Gateway did
	// not exist, and any apply that succeeds created it, even one whose
	// first answer was lost and whose retry met its own work.
	PreviousKnown bool
	// Parameters is the waypoint's rendered parameters ConfigMap
	// (render.ConfigMap), written before the Gateway; nil when the flags
	// ask for none.
	Parameters *corev1.ConfigMap
	// Existing is the Gateway as it was before the apply, when the caller
	// read it (nil when it did not exist or is unknown): its UID makes the
	// Gateway the owner of Parameters in one write, and the ConfigMap its
	// spec.infrastructure named is removed when the apply names no other.
	Existing *gatewayv1.Gateway
}

// ApplyResult says what Apply did.
type ApplyResult struct {
	// Gateway as the server returned it (as rendered for a client dry run).
	Gateway *gatewayv1.Gateway
	// Created is true when the Gateway did not exist before.
	Created bool
	// NamespaceAmbient is false when the enrolled namespace is not in ambient mode.
	NamespaceAmbient bool
	// Enrolled is true when the namespace labels were changed; false when
	// they already named this waypoint (or no enrollment was asked for).
	Enrolled bool
	// Unchanged is true when the apply changed nothing (known only with
	// Previous).
	Unchanged bool
	// PendingEnroll is the namespace label write DeferEnroll left undone;
	// nil when the namespace already uses the waypoint.
	PendingEnroll *enroll.Write
	// Parameters is the ConfigMap as the server returned it (as rendered
	// for a client dry run); nil when none was written.
	Parameters *corev1.ConfigMap
	// ParametersAction says what happened to it: created, configured or
	// unchanged; deleted when the apply removed the one an earlier apply
	// wrote, whose name is then in Parameters; failed, with
	// ParametersErr, when a write after the Gateway's failed.
	ParametersAction bulk.Action
	ParametersErr    error
	// Stale are the autoscaler and the budget that istiod made for the
	// overlays the apply dropped, and keeps.
	Stale []kube.Ref
	// dropped are the overlay keys the apply removed.
	dropped []string
	// removing is the ConfigMap of ours the apply drops, as read before.
	removing *corev1.ConfigMap
}

// EnrolledElsewhereError says the namespace already uses another waypoint and
// --overwrite was not given. Nothing was written.
type EnrolledElsewhereError struct {
	Namespace string
	// Current is what the namespace's labels say now, read as istiod does.
	Current enroll.Use
	Wanted  string
}

func (e *EnrolledElsewhereError) Error() string {
	if e.Current.None {
		return fmt.Sprintf("namespace %s opts out of waypoints (%s=%s); add --overwrite to switch it to %q",
			e.Namespace, istio.LabelUseWaypoint, istio.NoWaypoint, e.Wanted)
	}
	return fmt.Sprintf("namespace %s already uses waypoint %s; add --overwrite to switch it to %q", e.Namespace, e.Current, e.Wanted)
}

// ErrNamespaceNotFound says the waypoint's namespace does not exist.
var ErrNamespaceNotFound = errors.New("namespace not found")

// Apply server-side applies the waypoint and, when asked, enrolls its
// namespace. With EnrollNamespace it reads the namespace once and writes
// twice (the Gateway, then the namespace's labels); every check that can
// refuse happens before the first write.
func Apply(ctx context.Context, c *kube.Clients, req ApplyRequest) (*ApplyResult, error) {
	gw := req.Gateway
	res := &ApplyResult{NamespaceAmbient: true}
	var write *enroll.Write
	if req.EnrollNamespace {
		ns := req.Namespace
		var err error
		if ns == nil {
			err = kube.Retry(ctx, func() (err error) {
				ns, err = c.Kube.CoreV1().Namespaces().Get(ctx, gw.Namespace, metav1.GetOptions{})
				return err
			})
		}
		if apierrors.IsNotFound(err) {
			return nil, fmt.Errorf("%w: %s", ErrNamespaceNotFound, gw.Namespace)
		}
		if err != nil {
			return nil, kube.Describe("read namespace "+gw.Namespace, err)
		}
		if err := checkNamespaceEnrollment(ns.Name, ns.Labels, gw.Name, req.Overwrite); err != nil {
			return nil, err
		}
		res.NamespaceAmbient = ns.Labels[istio.LabelDataplaneMode] == istio.DataplaneModeAmbient
		write = EnrollNamespaceWrite(ns.Name, ns.Labels, ns.ResourceVersion, gw.Name, req.Overwrite, req.DryRun)
	}

	if err := applyParametersFirst(ctx, c, req, res); err != nil {
		return nil, err
	}
	if req.DryRun == kube.DryRunClient {
		res.Gateway = gw
		res.Created = req.Previous == ""
	} else {
		applied, created, err := ServerSideApply(ctx, c, gw, req.Force, req.DryRun)
		if err != nil {
			return nil, err
		}
		ownParameters(ctx, c, req, applied, res)
		res.Gateway, res.Created = applied, created || (req.PreviousKnown && req.Previous == "")
		// What the server holds (or would hold, in a server dry run) against
		// what it held: a dry run never moves the resourceVersion, and
		// istiod's status writes move it without any change of ours.
		res.Unchanged = !created && req.Previous != "" && Content(applied) == req.Previous
	}
	if req.OnApplied != nil {
		req.OnApplied(res)
	}
	if write != nil && write.Change.Needed(write.Labels) {
		if req.DeferEnroll {
			res.PendingEnroll = write
			return res, nil
		}
		changed, err := EnrollNamespace(ctx, c, write)
		if err != nil {
			return res, err
		}
		res.Enrolled = changed
	}
	return res, nil
}

// EnrollNamespaceWrite is the write that enrolls namespace ns, read with
// labels at version rv, into its own waypoint name. It is conditional on
// that version: should the namespace be enrolled elsewhere in between, it
// is left alone unless overwrite.
func EnrollNamespaceWrite(ns string, labels map[string]string, rv, name string, overwrite bool, dryRun kube.DryRun) *enroll.Write {
	return &enroll.Write{
		Kind: enroll.KindNamespace, Name: ns, Labels: labels, ResourceVersion: rv,
		Change: enroll.EnrollChange(ns, name, ns),
		Recheck: func(current map[string]string) error {
			return checkNamespaceEnrollment(ns, current, name, overwrite)
		},
		DryRun: dryRun,
	}
}

// EnrollNamespace sends a namespace enrollment write and says whether it
// changed the labels.
func EnrollNamespace(ctx context.Context, c *kube.Clients, w *enroll.Write) (bool, error) {
	out, err := w.Do(ctx, c)
	var elsewhere *EnrolledElsewhereError
	switch {
	case errors.As(err, &elsewhere):
		return false, err
	case apierrors.IsNotFound(err):
		return false, fmt.Errorf("%w: %s", ErrNamespaceNotFound, w.Name)
	}
	return out.Changed, kube.Describe("label namespace "+w.Name, err)
}

// checkNamespaceEnrollment refuses, without overwrite, to replace what the
// namespace's use-waypoint label says when it is there (even empty, or
// none), unless istiod reads it as naming the namespace's own waypoint
// name: an empty use-waypoint-namespace beside it names namespace "".
func checkNamespaceEnrollment(ns string, labels map[string]string, name string, overwrite bool) error {
	cur := enroll.UseOf(labels, ns)
	if !cur.Set || overwrite || cur.Key() == ns+"/"+name {
		return nil
	}
	return &EnrolledElsewhereError{Namespace: ns, Current: cur, Wanted: name}
}

// ServerSideApply applies gw with the field manager of c and reports
// whether it was created (HTTP 201) rather than updated.
func ServerSideApply(ctx context.Context, c *kube.Clients, gw *gatewayv1.Gateway, force bool, dryRun kube.DryRun) (*gatewayv1.Gateway, bool, error) {
	out := &gatewayv1.Gateway{}
	created, err := kube.Apply{
		Client: c.Gateway.GatewayV1().RESTClient(), Codec: gatewayscheme.ParameterCodec,
		Resource: "gateways", Namespace: gw.Namespace, Name: gw.Name,
		Options: &metav1.PatchOptions{FieldManager: c.Manager(), Force: &force, DryRun: dryRun.Server()},
	}.Do(ctx, gw, out)
	if err != nil {
		return nil, false, describeApplyError(gw, err)
	}
	out.APIVersion, out.Kind = gatewayv1.GroupVersion.String(), "Gateway"
	return out, created, nil
}

// describeApplyError names the faults an apply meets in terms of what to do.
func describeApplyError(gw *gatewayv1.Gateway, err error) error {
	ref := gw.Namespace + "/" + gw.Name
	switch {
	case kube.IsMissingNamespace(err):
		return fmt.Errorf("cannot apply waypoint %s: namespace %q not found; create it first", ref, gw.Namespace)
	case kube.IsMissingType(err):
		return fmt.Errorf("cannot apply waypoint %s: the Gateway API CRDs are not installed; install them with: %s", ref, kube.GatewayAPIInstall)
	case apierrors.IsConflict(err):
		return fmt.Errorf("cannot apply waypoint %s: %s; rerun with --force-conflicts to take those fields over", ref, apiMessage(err))
	}
	return kube.Describe("apply waypoint "+ref, err)
}

func apiMessage(err error) string {
	if s, ok := err.(apierrors.APIStatus); ok && s.Status().Message != "" {
		return s.Status().Message
	}
	return err.Error()
}

// Content is a digest of what apply may change on a Gateway: its labels,
// annotations and spec, and who manages which of its fields (outside the
// status). Two Gateways of one Content differ at most in their status and
// resourceVersion: the apply between them changed nothing.
func Content(gw *gatewayv1.Gateway) string {
	managed := make([]metav1.ManagedFieldsEntry, 0, len(gw.ManagedFields))
	for _, m := range gw.ManagedFields {
		if m.Subresource == "" {
			managed = append(managed, m)
		}
	}
	b, err := json.Marshal(struct {
		Labels, Annotations map[string]string
		Spec                gatewayv1.GatewaySpec
		Managed             []metav1.ManagedFieldsEntry
	}{gw.Labels, gw.Annotations, gw.Spec, managed})
	if err != nil {
		return "" // never for these types; "" reads as unknown
	}
	sum := sha256.Sum256(b)
	return hex.EncodeToString(sum[:])
}
