package faultproxy

import (
	"fmt"
	"io"
	"math/rand"
	"net/http"
	"net/http/httptest"
	"sync/atomic"
	"testing"
	"time"

	"k8s.io/client-go/rest"
)

// upstream is a stand-in API server that counts the requests it sees and
// answers 200, or streams for a watch until the client goes.
func upstream(t *testing.T) (*rest.Config, *atomic.Int64) {
	t.Helper()
	var seen atomic.Int64
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		seen.Add(1)
		if r.URL.Query().Get("watch") == "true" {
			w.WriteHeader(http.StatusOK)
			w.(http.Flusher).Flush()
			<-r.Context().Done()
			return
		}
		_, _ = io.WriteString(w, `{"kind":"Status","status":"Success"}`)
	}))
	t.Cleanup(srv.Close)
	return &rest.Config{Host: srv.URL}, &seen
}

func start(t *testing.T, cfg *rest.Config, pr Profile, seed int64) *Proxy {
	t.Helper()
	p, err := Start(cfg, pr, seed)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = p.Close() })
	return p
}

// get sends one request through the proxy and returns its status code, 0
// when the connection failed.
func get(t *testing.T, p *Proxy, path string) (int, http.Header) {
	t.Helper()
	c := &http.Client{Transport: &http.Transport{DisableKeepAlives: true}}
	resp, err := c.Get(p.URL + path)
	if err != nil {
		return 0, nil
	}
	defer resp.Body.Close()
	_, _ = io.Copy(io.Discard, resp.Body)
	return resp.StatusCode, resp.Header
}

// TestFaults: each fault at rate 1 does what it says, to the client and to
// the server (a fault "before" never reaches it, one "after" does), and is
// counted.
func TestFaults(t *testing.T) {
	for _, tc := range []struct {
		profile    Profile
		code       int  // what the client gets; 0 for a broken connection
		reached    bool // the server saw the request
		retryAfter bool
		count      func(Counts) int64
		ofRequests int
	}{
		{Profile{Throttle: 1}, http.StatusTooManyRequests, false, true, func(c Counts) int64 { return c.Throttled }, 4},
		{Profile{ErrorBefore: 1}, -1, false, false, func(c Counts) int64 { return c.ErrorsBefore }, 4},
		{Profile{ErrorBefore: 1, RetryAfter: true}, -1, false, true, func(c Counts) int64 { return c.ErrorsBefore }, 4},
		{Profile{ErrorAfter: 1}, http.StatusInternalServerError, true, false, func(c Counts) int64 { return c.ErrorsAfter }, 4},
		{Profile{ErrorAfter: 1, RetryAfter: true}, http.StatusInternalServerError, true, true, func(c Counts) int64 { return c.ErrorsAfter }, 4},
		{Profile{ResetBefore: 1}, 0, false, false, func(c Counts) int64 { return c.ResetsBefore }, 4},
		{Profile{ResetAfter: 1}, 0, true, false, func(c Counts) int64 { return c.ResetsAfter }, 4},
		{Profile{}, http.StatusOK, true, false, func(c Counts) int64 { return c.Requests }, 4},
	} {
		t.Run(fmt.Sprintf("%+v", tc.profile), func(t *testing.T) {
			cfg, seen := upstream(t)
			p := start(t, cfg, tc.profile, 1)
			for i := range tc.ofRequests {
				code, h := get(t, p, fmt.Sprintf("/api/v1/namespaces/n%d", i))
				switch {
				case tc.code == -1 && code != http.StatusInternalServerError && code != http.StatusServiceUnavailable,
					tc.code != -1 && code != tc.code:
					t.Errorf("request %d: %d, want %d", i, code, tc.code)
				case code != 0 && (h.Get("Retry-After") == "1") != tc.retryAfter:
					t.Errorf("request %d: Retry-After %q", i, h.Get("Retry-After"))
				}
			}
			if got := seen.Load() > 0; got != tc.reached {
				t.Errorf("the server saw %d requests", seen.Load())
			}
			if n := tc.count(p.Counts()); n != int64(tc.ofRequests) {
				t.Errorf("counted %d, want %d", n, tc.ofRequests)
			}
		})
	}
}

// TestLatencyAndCutWatches: every request waits Latency; a watch is ended
// after CutWatchesAfter, and counted.
func TestLatencyAndCutWatches(t *testing.T) {
	cfg, _ := upstream(t)
	p := start(t, cfg, Profile{Latency: 50 * time.Millisecond, CutWatchesAfter: 100 * time.Millisecond}, 1)
	began := time.Now()
	if code, _ := get(t, p, "/api/v1/namespaces"); code != http.StatusOK || time.Since(began) < 50*time.Millisecond {
		t.Errorf("code %d after %v", code, time.Since(began))
	}
	done := make(chan struct{})
	go func() {
		defer close(done)
		get(t, p, "/api/v1/namespaces?watch=true")
	}()
	select {
	case <-done:
	case <-time.After(10 * time.Second):
		t.Fatal("the watch was never cut")
	}
	if c := p.Counts(); c.WatchesCut != 1 {
		t.Errorf("%d watches cut", c.WatchesCut)
	}
}

// TestDrawsReplay: with one seed, the faults a request gets depend on the
// request (method, path, and how often it was asked), not on the order in
// which requests arrive; another seed draws otherwise; the rate holds.
func TestDrawsReplay(t *testing.T) {
	paths := make([]string, 200)
	for i := range paths {
		paths[i] = fmt.Sprintf("/api/v1/namespaces/n%d/services/s", i%100) // each asked twice
	}
	// faulted sends the requests in order and says which were faulted, by
	// path and how many times it was asked before.
	faulted := func(seed int64, order []int) map[string]bool {
		cfg, _ := upstream(t)
		p := start(t, cfg, Profile{ErrorBefore: 0.3}, seed)
		out := map[string]bool{}
		asked := map[string]int{}
		for _, i := range order {
			key := fmt.Sprintf("%s#%d", paths[i], asked[paths[i]])
			asked[paths[i]]++
			code, _ := get(t, p, paths[i])
			out[key] = code != http.StatusOK
		}
		return out
	}
	inOrder := make([]int, len(paths))
	for i := range inOrder {
		inOrder[i] = i
	}
	shuffled := append([]int(nil), inOrder...)
	rand.New(rand.NewSource(7)).Shuffle(len(shuffled), func(i, j int) { shuffled[i], shuffled[j] = shuffled[j], shuffled[i] })
	a, b := faulted(1, inOrder), faulted(1, shuffled)
	n := 0
	for k, v := range a {
		if b[k] != v {
			t.Errorf("%s: faulted %v in order, %v shuffled", k, v, b[k])
		}
		if v {
			n++
		}
	}
	if n < 30 || n > 90 {
		t.Errorf("%d of %d requests faulted at a rate of 0.3", n, len(a))
	}
	c := faulted(2, inOrder)
	same := 0
	for k, v := range a {
		if c[k] == v {
			same++
		}
	}
	if same == len(a) {
		t.Error("seed 2 drew exactly as seed 1")
	}
}
