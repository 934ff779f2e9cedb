package enroll

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"

	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"

	"github.com/kubectl-waypoint/kubectl-waypoint/pkg/istio"
	"github.com/kubectl-waypoint/kubectl-waypoint/pkg/kube"
)

// Write is one change of an object's enrollment labels, conditional on the
// object as it was read: the patch carries the resourceVersion read, so the
// API server refuses it (409) when anything changed in between. The object
// is then read again; when its enrollment labels changed too, Recheck
// decides whether the change still applies. A value another writer set
// after the read is therefore never overwritten unless Recheck allows it.
type Write struct {
	Kind Kind
	// Namespace is empty for namespaces.
	Namespace string
	Name      string
	// Labels and ResourceVersion are the object as read. An empty
	// ResourceVersion makes Do read the object first.
	Labels          map[string]string
	ResourceVersion string
	// Annotations are the object's annotations as read, for a change with
	// annotation keys (the canary weight).
	Annotations map[string]string
	Change      LabelChange
	// Recheck is called with the labels of a fresh read whose enrollment
	// labels differ from Labels; an error leaves the object alone and is
	// returned. Nil refuses with ErrChangedSince.
	Recheck func(current map[string]string) error
	DryRun  kube.DryRun
}

// Written says what Do did.
type Written struct {
	// Labels are the object's labels afterwards (as they would be, for a
	// client dry run).
	Labels map[string]string
	// Changed is true when Do changed the labels, including when the answer
	// to its patch was lost and a fresh read shows the change made.
	Changed bool
}

// ErrChangedSince says an object's enrollment changed after it was read, and
// was left alone.
var ErrChangedSince = errors.New("its enrollment labels changed since they were read; left alone (run the command again to act on the new value)")

// maxConflicts bounds how many times Do reads an object again after a
// conflict before it gives up.
const maxConflicts = 8

// Do sends the change and returns what it did. Faults worth another try
// (throttling, 5xx, broken connections) are retried with the same version.
func (w Write) Do(ctx context.Context, c *kube.Clients) (Written, error) {
	labels, annotations, rv := w.Labels, nonNil(w.Annotations), w.ResourceVersion
	maybeDone := false
	if rv == "" && w.DryRun != kube.DryRunClient {
		var err error
		if labels, annotations, rv, err = w.read(ctx, c); err != nil {
			return Written{Labels: w.Labels}, err
		}
	}
	for conflicts := 0; ; conflicts++ {
		if !w.Change.NeededFor(labels, annotations) {
			// Already as asked: by our own patch whose answer was lost,
			// or by someone else.
			return Written{Labels: labels, Changed: maybeDone}, nil
		}
		if w.changedSince(labels) {
			if err := w.recheck(labels); err != nil {
				return Written{Labels: labels}, err
			}
		}
		if w.DryRun == kube.DryRunClient {
			return Written{Labels: w.Change.Apply(labels), Changed: true}, nil
		}
		var out map[string]string
		lost, err := kube.RetryTracked(ctx, func() (err error) {
			out, err = w.patch(ctx, c, rv)
			return err
		})
		maybeDone = maybeDone || lost
		switch {
		case err == nil:
			return Written{Labels: out, Changed: true}, nil
		case !apierrors.IsConflict(err) || conflicts >= maxConflicts:
			return w.settle(ctx, c, maybeDone, Written{Labels: labels}, err)
		}
		if labels, annotations, rv, err = w.read(ctx, c); err != nil {
			return w.settle(ctx, c, maybeDone, Written{Labels: labels}, err)
		}
	}
}

// settle decides a write that ends in err: when an answer was lost before
// (the server may have made the change), the object is read once more, and
// a change in place is what Do did, not a failure. Otherwise, or when that
// read fails too, err stands.
func (w Write) settle(ctx context.Context, c *kube.Clients, maybeDone bool, failed Written, err error) (Written, error) {
	if !maybeDone {
		return failed, err
	}
	labels, annotations, _, rerr := w.read(ctx, c)
	if rerr != nil || w.Change.NeededFor(labels, annotations) {
		return failed, err
	}
	return Written{Labels: labels, Changed: true}, nil
}

// changedSince reports whether labels, read after the write was planned,
// differ from Labels in what it must not overwrite blindly: the enrollment
// labels, and the ingress label when the change sets or removes it.
func (w Write) changedSince(labels map[string]string) bool {
	if EnrollmentOf(labels) != EnrollmentOf(w.Labels) {
		return true
	}
	if _, ok := w.Change[istio.LabelIngressUseWaypoint]; !ok {
		return false
	}
	was, had := w.Labels[istio.LabelIngressUseWaypoint]
	is, has := labels[istio.LabelIngressUseWaypoint]
	return had != has || was != is
}

func nonNil(m map[string]string) map[string]string {
	if m == nil {
		return map[string]string{}
	}
	return m
}

func (w Write) recheck(current map[string]string) error {
	if w.Recheck == nil {
		return ErrChangedSince
	}
	return w.Recheck(current)
}

// read gets the object's labels and version (metadata only), retrying
// faults worth another try.
func (w Write) read(ctx context.Context, c *kube.Clients) (labels, annotations map[string]string, rv string, err error) {
	var m *metav1.PartialObjectMetadata
	err = kube.Retry(ctx, func() (err error) {
		res := c.Metadata.Resource(w.Kind.GVR())
		if w.Kind.Namespaced() {
			m, err = res.Namespace(w.Namespace).Get(ctx, w.Name, metav1.GetOptions{})
		} else {
			m, err = res.Get(ctx, w.Name, metav1.GetOptions{})
		}
		return err
	})
	if err != nil {
		return nil, nil, "", err
	}
	return m.Labels, nonNil(m.Annotations), m.ResourceVersion, nil
}

// patch sends the change as a JSON merge patch of metadata.labels that
// carries the resourceVersion as its precondition.
func (w Write) patch(ctx context.Context, c *kube.Clients, rv string) (map[string]string, error) {
	labels, annotations := w.Change.split()
	md := map[string]any{"resourceVersion": rv, "labels": labels}
	if len(annotations) > 0 {
		md["annotations"] = annotations
	}
	body, err := json.Marshal(map[string]any{"metadata": md})
	if err != nil {
		return nil, err
	}
	return patch(ctx, c, w.Kind, w.Namespace, w.Name, types.MergePatchType, body, w.DryRun)
}

// String names the object as messages do: "service default/reviews".
func (w Write) String() string {
	if w.Kind.Namespaced() {
		return fmt.Sprintf("%s %s/%s", w.Kind, w.Namespace, w.Name)
	}
	return fmt.Sprintf("%s %s", w.Kind, w.Name)
}
