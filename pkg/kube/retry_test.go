package kube

import (
	"context"
	"errors"
	"io"
	"net"
	"net/http"
	"syscall"
	"testing"
	"time"

	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/apimachinery/pkg/util/wait"
)

func TestRetry(t *testing.T) {
	Backoff.Duration = time.Millisecond
	gr := schema.GroupResource{Resource: "namespaces"}
	cases := []struct {
		name      string
		err       error
		wantCalls int
	}{
		{"throttled then fine", apierrors.NewTooManyRequests("slow", 0), 3},
		{"optimistic lock needs a new read", apierrors.NewConflict(gr, "x", errors.New("the object has been modified")), 1},
		{"internal error", apierrors.NewInternalError(errors.New("etcd")), 3},
		{"connection reset", &net.OpError{Op: "read", Err: syscall.ECONNRESET}, 3},
		{"lost answer", io.ErrUnexpectedEOF, 3},
		{"unavailable", apierrors.NewServiceUnavailable("down"), 3},
		{"field manager conflict is final", apierrors.NewConflict(gr, "x", errors.New("Apply failed with 1 conflict")), 1},
		{"failed precondition is final", apierrors.NewConflict(gr, "x", errors.New("Precondition failed: UID in precondition: 1, UID in object meta: 2")), 1},
		{"replaced object is final", apierrors.NewConflict(gr, "x", errors.New("the UID in the precondition (1) does not match the UID in record (2). The object might have been deleted and then recreated")), 1},
		{"forbidden is final", apierrors.NewForbidden(gr, "x", errors.New("no")), 1},
		// What client-go makes of a plain-text 404 page (a type the server
		// does not serve): marked unexpected, but a 4xx is final.
		{"a type that is not served is final", apierrors.NewGenericServerResponse(404, "list", gr, "", "404 page not found", 0, true), 1},
		{"an unexpected 502 page is retried", apierrors.NewGenericServerResponse(502, "list", gr, "", "<html>bad gateway</html>", 0, true), 3},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			calls := 0
			err := Retry(context.Background(), func() error {
				calls++
				if calls < 3 {
					return tc.err
				}
				return nil
			})
			if calls != tc.wantCalls {
				t.Errorf("%d calls, want %d", calls, tc.wantCalls)
			}
			if tc.wantCalls == 3 && err != nil {
				t.Errorf("err %v", err)
			}
		})
	}
	calls := 0
	_ = Retry(context.Background(), func() error { calls++; return apierrors.NewTooManyRequests("slow", 0) })
	if calls != Backoff.Steps {
		t.Errorf("gave up after %d calls, want %d", calls, Backoff.Steps)
	}
}

// TestRetryTracked checks that a lost answer is remembered and throttling is
// not: only the first may have done the work.
func TestRetryTracked(t *testing.T) {
	Backoff.Duration = time.Millisecond
	for _, tc := range []struct {
		err  error
		want bool
	}{
		{apierrors.NewTooManyRequests("slow", 0), false},
		{apierrors.NewInternalError(errors.New("after the write")), true},
		{io.ErrUnexpectedEOF, true},
	} {
		calls := 0
		maybe, err := RetryTracked(context.Background(), func() error {
			if calls++; calls == 1 {
				return tc.err
			}
			return nil
		})
		if err != nil || maybe != tc.want {
			t.Errorf("%v: err %v, maybe done %v, want %v", tc.err, err, maybe, tc.want)
		}
	}
}

func TestWithBackoff(t *testing.T) {
	calls := 0
	ctx := WithBackoff(context.Background(), wait.Backoff{Steps: 2, Duration: time.Millisecond})
	err := Retry(ctx, func() error {
		calls++
		return apierrors.NewServiceUnavailable("down")
	})
	if !apierrors.IsServiceUnavailable(err) || calls != 2 {
		t.Errorf("%v after %d calls; want the 503 after the context's 2 tries (Backoff has %d)", err, calls, Backoff.Steps)
	}
}

// TestRetryTrackedRemembersTheLastAttempt: when every attempt fails, the
// last one's answer may have been lost too (a 5xx after the write); the
// caller must hear it, or it reports a change it made as failed.
func TestRetryTrackedRemembersTheLastAttempt(t *testing.T) {
	ctx := WithBackoff(context.Background(), wait.Backoff{Steps: 2, Duration: time.Millisecond})
	calls := 0
	maybe, err := RetryTracked(ctx, func() error {
		if calls++; calls == 1 {
			return apierrors.NewTooManyRequests("slow", 0) // did nothing
		}
		return apierrors.NewInternalError(errors.New("after the write"))
	})
	if err == nil || !maybe || calls != 2 {
		t.Errorf("%d calls, err %v, maybe done %v; want the last 500 remembered as maybe done", calls, err, maybe)
	}
}

// TestIsMissingTypeNeedsTheServersText: a 404 that is not a Status is a
// missing type only when its body is the API server's "404 page not found";
// one whose body was lost (a reset under faults) is not.
func TestIsMissingTypeNeedsTheServersText(t *testing.T) {
	gr := schema.GroupResource{Group: "gateway.networking.k8s.io", Resource: "gateways"}
	for body, want := range map[string]bool{"404 page not found\n": true, "": false, "404 pa": false} {
		err := apierrors.NewGenericServerResponse(http.StatusNotFound, "get", gr, "waypoint", body, 0, true)
		if got := IsMissingType(err); got != want {
			t.Errorf("body %q: IsMissingType %v, want %v", body, got, want)
		}
	}
}
