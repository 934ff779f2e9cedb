package interrupt

import (
	"bytes"
	"os"
	"sync"
	"testing"
	"time"
)

// TestWatch: the first signal closes stop, the second exits 130.
func TestWatch(t *testing.T) {
	sigs := make(chan os.Signal, 2)
	stop := make(chan struct{})
	done := make(chan struct{})
	var mu sync.Mutex
	var out bytes.Buffer
	exited := make(chan int, 1)
	go Watch(sigs, stop, done, syncWriter{&mu, &out}, func(code int) { exited <- code })
	sigs <- os.Interrupt
	select {
	case <-stop:
	case <-time.After(5 * time.Second):
		t.Fatal("the first signal did not stop the work")
	}
	select {
	case code := <-exited:
		t.Fatalf("exited %d after one signal", code)
	default:
	}
	sigs <- os.Interrupt
	if code := <-exited; code != ExitCode {
		t.Errorf("exit %d", code)
	}
	mu.Lock()
	defer mu.Unlock()
	if !bytes.Contains(out.Bytes(), []byte("interrupt again to exit at once")) {
		t.Errorf("stderr %q", out.String())
	}
}

type syncWriter struct {
	mu  *sync.Mutex
	buf *bytes.Buffer
}

func (w syncWriter) Write(p []byte) (int, error) {
	w.mu.Lock()
	defer w.mu.Unlock()
	return w.buf.Write(p)
}
