package kube

import (
	"context"
	"strings"
	"time"

	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/util/wait"
)

// Backoff is how Retry spaces its attempts: 5 tries over about 3 seconds.
var Backoff = wait.Backoff{Steps: 5, Duration: 200 * time.Millisecond, Factor: 2, Jitter: 0.2}

// Retryable reports whether an error is worth trying again: throttling,
// timeouts, a server that is briefly unavailable, and optimistic-lock
// conflicts. A server-side apply conflict between field managers is not: it
// needs --force-conflicts, not patience.
func Retryable(err error) bool {
	switch {
	case apierrors.IsTooManyRequests(err), apierrors.IsServerTimeout(err), apierrors.IsTimeout(err),
		apierrors.IsServiceUnavailable(err), apierrors.IsInternalError(err):
		return true
	case apierrors.IsConflict(err):
		// An optimistic-lock conflict passes with a retry; a field manager
		// conflict or a failed precondition (another object now has the
		// name) does not.
		msg := err.Error()
		return !strings.Contains(msg, "Apply failed with") && !strings.Contains(msg, "Precondition failed")
	}
	return false
}

// Retry calls fn until it succeeds, fails with an error that is not
// Retryable, the backoff runs out, or ctx ends.
func Retry(ctx context.Context, fn func() error) error {
	b := Backoff
	for {
		err := fn()
		if err == nil || !Retryable(err) || b.Steps <= 1 {
			return err
		}
		t := time.NewTimer(b.Step())
		select {
		case <-ctx.Done():
			t.Stop()
			return err
		case <-t.C:
		}
	}
}
