package kube

import (
	"context"
	"errors"
	"io"
	"net"
	"net/http"
	"time"

	apierrors "k8s.io/apimachinery/pkg/api/errors"
	utilnet "k8s.io/apimachinery/pkg/util/net"
	"k8s.io/apimachinery/pkg/util/wait"
)

// Backoff is how Retry spaces its attempts: 6 tries over about 6 seconds.
var Backoff = wait.Backoff{Steps: 6, Duration: 200 * time.Millisecond, Factor: 2, Jitter: 0.2}

// Retryable reports whether an error is worth trying again with the same
// request: throttling, timeouts, a server that is briefly unavailable or
// failed inside, and a connection that broke. A conflict is not: an
// optimistic-lock conflict needs the object read again (the caller's
// business), a field manager conflict needs --force-conflicts, and a failed
// UID precondition means the object was replaced.
func Retryable(err error) bool {
	switch {
	case err == nil:
		return false
	case apierrors.IsTooManyRequests(err), apierrors.IsServerTimeout(err), apierrors.IsTimeout(err),
		apierrors.IsServiceUnavailable(err), apierrors.IsInternalError(err):
		return true
	case apierrors.IsUnexpectedServerError(err):
		// An answer that was not a Status object: client-go marks a plain
		// 404 page (a type the server does not serve) so too, and that is
		// final. Only a server-side failure is worth another try.
		var status apierrors.APIStatus
		return errors.As(err, &status) && status.Status().Code >= http.StatusInternalServerError
	case apierrors.IsConflict(err):
		return false
	}
	return brokenConnection(err)
}

// brokenConnection reports whether err says the connection to the server
// broke or timed out mid-request.
func brokenConnection(err error) bool {
	if utilnet.IsConnectionReset(err) || utilnet.IsProbableEOF(err) || errors.Is(err, io.ErrUnexpectedEOF) ||
		utilnet.IsTimeout(err) || utilnet.IsHTTP2ConnectionLost(err) {
		return true
	}
	var ne net.Error
	return errors.As(err, &ne) && ne.Timeout()
}

// mayHaveWorked reports whether a failed request may have done its work
// before the answer was lost: anything retryable except throttling, which
// the server answers before it does anything.
func mayHaveWorked(err error) bool {
	return Retryable(err) && !apierrors.IsTooManyRequests(err)
}

type backoffKey struct{}

// WithBackoff makes Retry and RetryTracked under ctx space their attempts by
// b instead of Backoff: tests of faults run the whole retry path without
// waiting out the real one.
func WithBackoff(ctx context.Context, b wait.Backoff) context.Context {
	return context.WithValue(ctx, backoffKey{}, b)
}

// Retry calls fn until it succeeds, fails with an error that is not
// Retryable, the backoff runs out, or ctx ends.
func Retry(ctx context.Context, fn func() error) error {
	_, err := RetryTracked(ctx, fn)
	return err
}

// RetryTracked is Retry that also says whether an attempt failed in a way
// that may have done the work anyway (a lost answer): a write retried after
// it may then meet its own effect (not found after a delete, a conflict
// after a conditional patch).
func RetryTracked(ctx context.Context, fn func() error) (maybeDone bool, err error) {
	b := Backoff
	if v, ok := ctx.Value(backoffKey{}).(wait.Backoff); ok {
		b = v
	}
	for {
		err = fn()
		if err == nil || !Retryable(err) {
			return maybeDone, err
		}
		// Every failed attempt may have done the work, the last one too.
		maybeDone = maybeDone || mayHaveWorked(err)
		if b.Steps <= 1 {
			return maybeDone, err
		}
		t := time.NewTimer(b.Step())
		select {
		case <-ctx.Done():
			t.Stop()
			return maybeDone, err
		case <-t.C:
		}
	}
}
