package kube

import (
	"errors"
	"fmt"
	"testing"
	"time"

	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/rest"
)

func TestNewClients(t *testing.T) {
	c, err := NewClients(&rest.Config{Host: "https://127.0.0.1:1"})
	if err != nil {
		t.Fatal(err)
	}
	if c.Kube == nil || c.Gateway == nil || c.Dynamic == nil || c.Metadata == nil || c.FieldManager != "" {
		t.Errorf("clients = %+v", c)
	}
	// client-go refuses a rate limit without a burst.
	if c, err := NewClients(&rest.Config{Host: "https://127.0.0.1:1", QPS: 5}); err == nil || c != nil {
		t.Errorf("QPS without burst: %v, %v", c, err)
	}
}

func TestAPIMessage(t *testing.T) {
	withMessage := &apierrors.StatusError{ErrStatus: metav1.Status{Message: "the reason"}}
	if got := apiMessage(withMessage); got != "the reason" {
		t.Errorf("apiMessage = %q", got)
	}
	// No message in the status: the error's own text.
	bare := &apierrors.StatusError{ErrStatus: metav1.Status{Reason: metav1.StatusReasonConflict}}
	if got := apiMessage(bare); got != bare.Error() {
		t.Errorf("apiMessage = %q, want %q", got, bare.Error())
	}
	if got := apiMessage(errors.New("plain")); got != "plain" {
		t.Errorf("apiMessage = %q", got)
	}
}

func TestRootCause(t *testing.T) {
	base := errors.New("base")
	if got := rootCause(fmt.Errorf("a: %w", fmt.Errorf("b: %w", base))); got != base {
		t.Errorf("rootCause = %v", got)
	}
	if got := rootCause(base); got != base {
		t.Errorf("rootCause = %v", got)
	}
}

func TestBackoff(t *testing.T) {
	if Backoff.Steps != 6 || Backoff.Duration != 200*time.Millisecond || Backoff.Factor != 2 {
		t.Errorf("Backoff = %+v", Backoff)
	}
}
