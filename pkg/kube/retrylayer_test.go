package kube

import (
	"context"
	"net/http"
	"net/http/httptest"
	"sync/atomic"
	"testing"

	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/rest"
)

// TestOneRetryLayer: a 503 with Retry-After reaches the caller after one
// request: client-go does not retry it unseen, so Retry and RetryTracked
// see every failed attempt.
func TestOneRetryLayer(t *testing.T) {
	var requests atomic.Int32
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		requests.Add(1)
		w.Header().Set("Retry-After", "1")
		w.Header().Set("Content-Type", "application/json")
		w.WriteHeader(http.StatusServiceUnavailable)
		_, _ = w.Write([]byte(`{"kind":"Status","apiVersion":"v1","status":"Failure","reason":"ServiceUnavailable","code":503}`))
	}))
	defer srv.Close()
	c, err := NewClients(&rest.Config{Host: srv.URL})
	if err != nil {
		t.Fatal(err)
	}
	_, err = c.Kube.CoreV1().Namespaces().Get(context.Background(), "a", metav1.GetOptions{})
	if !apierrors.IsServiceUnavailable(err) || requests.Load() != 1 {
		t.Errorf("error %v after %d requests; want 503 after 1", err, requests.Load())
	}
}
