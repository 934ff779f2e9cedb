package cli

import (
	"bytes"
	"context"
	"strings"
	"sync"
	"testing"
	"time"
)

// syncBuffer is a bytes.Buffer safe to read while a command writes to it.
type syncBuffer struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (b *syncBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.Write(p)
}

func (b *syncBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.String()
}

// waitFor polls until out holds want, or fails after a while.
func waitFor(t *testing.T, out *syncBuffer, want string) {
	t.Helper()
	deadline := time.Now().Add(20 * time.Second)
	for !strings.Contains(out.String(), want) {
		if time.Now().After(deadline) {
			t.Fatalf("no %q in the output after 20s:\n%s", want, out.String())
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// TestListWatch: list --watch prints the list, then a line for each change
// of a waypoint as it happens (a new one, one programmed by istiod), skips
// other Gateways, and ends cleanly when its context does.
func TestListWatch(t *testing.T) {
	ns := env.Namespace(t, nil)
	// first is held not ready until released, when istiod programs it.
	release := env.HoldWaypoint(t, ns, "first")
	env.Waypoint(t, ns, "first", nil)
	env.WaitNotProgrammed(t, ns, "first")

	out, errOut := &syncBuffer{}, &syncBuffer{}
	streams := &IOStreams{In: &bytes.Buffer{}, Out: out, ErrOut: errOut}
	f := NewFactory(streams, "kubectl-waypoint")
	kubeconfig := env.Kubeconfig
	f.ConfigFlags.KubeConfig = &kubeconfig
	ns2 := ns
	f.ConfigFlags.Namespace = &ns2
	o := &ListOptions{IO: streams, Watch: true, PageSize: 500}
	o.own = listFormats
	if err := o.Validate(); err != nil {
		t.Fatal(err)
	}
	o.namespace = ns
	var err error
	if o.clients, err = f.Clients(); err != nil {
		t.Fatal(err)
	}

	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	done := make(chan error, 1)
	go func() { done <- o.runWatch(ctx) }()

	waitFor(t, out, "NAME    REVISION   TRAFFIC TYPE   PROGRAMMED\nfirst   default    service        False\n")
	// Revision canary: no istiod of it runs, so its status stays Unknown.
	env.Waypoint(t, ns, "second", map[string]string{"istio.io/waypoint-for": "workload", "istio.io/rev": "canary"})
	waitFor(t, out, "second   canary   workload   Unknown\n")
	release()
	waitFor(t, out, "first   default   service   True\n")

	cancel()
	select {
	case err := <-done:
		if err != nil {
			t.Errorf("Run after the context ended: %v", err)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("list --watch did not stop when its context ended")
	}
	if errOut.String() != "" {
		t.Errorf("stderr: %q", errOut.String())
	}
	// The header once, and only waypoints.
	if got := strings.Count(out.String(), "NAME"); got != 1 {
		t.Errorf("%d headers:\n%s", got, out.String())
	}
}
