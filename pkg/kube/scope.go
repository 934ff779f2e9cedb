package kube

import (
	"context"

	apierrors "k8s.io/apimachinery/pkg/api/errors"

	"github.com/kubectl-waypoint/kubectl-waypoint/internal/fanout"
)

// ScopeRead is the outcome of reading the namespaces of bulk work.
type ScopeRead struct {
	// Failed maps the namespaces whose read failed to the error; "" is the
	// one read across the cluster, when it failed for another reason than
	// rights (then nothing was read).
	Failed map[string]error
	// Narrowed says the user may not read across the cluster, so each
	// namespace was read in turn.
	Narrowed bool
}

// Err is the error of the read across the cluster, if it failed.
func (s ScopeRead) Err() error { return s.Failed[""] }

// ReadScope runs read for the namespaces of bulk work: in the one namespace
// when there is one; across the cluster ("") when there are several or
// none, the caller keeping only what is in scope; and, when the user may not
// read across the cluster, in each namespace, concurrency at a time. Every
// read is retried like a write (throttling, 5xx, broken connections), and a
// read that fails for one namespace fails only that namespace.
func ReadScope(ctx context.Context, namespaces []string, concurrency int, read func(ctx context.Context, namespace string) error) ScopeRead {
	out := ScopeRead{Failed: map[string]error{}}
	retried := func(ctx context.Context, ns string) error {
		return Retry(ctx, func() error { return read(ctx, ns) })
	}
	if len(namespaces) == 1 {
		if err := retried(ctx, namespaces[0]); err != nil {
			out.Failed[namespaces[0]] = err
		}
		return out
	}
	err := retried(ctx, "")
	if err == nil {
		return out
	}
	if len(namespaces) == 0 || !apierrors.IsForbidden(err) {
		out.Failed[""] = err
		return out
	}
	out.Narrowed = true
	errs := make([]error, len(namespaces))
	started := fanout.ForEach(ctx, len(namespaces), concurrency, func(ctx context.Context, i int) {
		errs[i] = retried(ctx, namespaces[i])
	}, nil)
	for i := started; i < len(namespaces); i++ {
		errs[i] = fanout.ErrInterrupted
	}
	for i, err := range errs {
		if err != nil {
			out.Failed[namespaces[i]] = err
		}
	}
	return out
}
