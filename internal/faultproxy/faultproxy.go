// Package faultproxy is a reverse proxy on loopback, put in front of the
// test API server, that injects the faults a real cluster's network and
// control plane produce: throttling (429 with Retry-After), server errors
// before the server did the work and after it did, connection resets
// before and after, latency, and watches cut short. Faults are drawn at set
// rates, replayably: the draw of a request depends on the seed, its method
// and path, and how many times that method and path were asked before, not
// on the order in which concurrent requests arrive. Tests only.
package faultproxy

import (
	"context"
	"encoding/binary"
	"encoding/json"
	"errors"
	"fmt"
	"hash/fnv"
	"net"
	"net/http"
	"net/http/httputil"
	"net/url"
	"os"
	"path/filepath"
	"sync"
	"sync/atomic"
	"time"

	"k8s.io/client-go/rest"
	"k8s.io/client-go/tools/clientcmd"
	clientcmdapi "k8s.io/client-go/tools/clientcmd/api"
)

// Profile says which faults to inject, each as the share of requests
// (0 to 1) that get it. Watches get only Latency and CutWatchesAfter.
type Profile struct {
	Name string
	// Throttle answers 429 with Retry-After: 1, before the server sees it.
	Throttle float64
	// ErrorBefore answers 500 or 503 without passing the request on.
	ErrorBefore float64
	// ErrorAfter passes the request on, drops the answer and says 500:
	// the work is done but the client cannot know.
	ErrorAfter float64
	// ResetBefore and ResetAfter reset the connection before passing the
	// request on, or after the server answered.
	ResetBefore, ResetAfter float64
	// Latency delays every request.
	Latency time.Duration
	// CutWatchesAfter ends every watch after that long (0: never).
	CutWatchesAfter time.Duration
	// RetryAfter gives the 5xx answers (before and after the work) a
	// Retry-After header, as an overloaded server's have: client-go then
	// retries them on its own, unseen by the caller.
	RetryAfter bool
}

// Counts are the faults injected so far.
type Counts struct {
	Requests, Throttled, ErrorsBefore, ErrorsAfter, ResetsBefore, ResetsAfter, WatchesCut int64
}

// Proxy is a running fault-injecting proxy.
type Proxy struct {
	// URL is where clients reach it (plain HTTP on loopback; the proxy
	// authenticates to the API server with the upstream config).
	URL string

	mu      sync.Mutex
	seed    int64
	asked   map[string]uint64 // method and path → requests so far
	profile Profile
	server  *http.Server
	proxy   *httputil.ReverseProxy

	requests, throttled, errorsBefore, errorsAfter, resetsBefore, resetsAfter, watchesCut atomic.Int64
}

type ctxKey struct{}

// retryAfterKey carries Profile.RetryAfter to the answer of a request.
type retryAfterKey struct{}

// errAfter marks an answer the proxy dropped after the server did the work.
var errAfter = errors.New("fault injected after the server answered")

// Start runs a proxy to the API server of upstream with profile, drawing
// faults from seed.
func Start(upstream *rest.Config, profile Profile, seed int64) (*Proxy, error) {
	target, err := url.Parse(upstream.Host)
	if err != nil {
		return nil, err
	}
	transport, err := rest.TransportFor(upstream)
	if err != nil {
		return nil, err
	}
	p := &Proxy{seed: seed, asked: map[string]uint64{}, profile: profile}
	rp := httputil.NewSingleHostReverseProxy(target)
	rp.Transport = transport
	rp.FlushInterval = -1
	rp.ModifyResponse = func(resp *http.Response) error {
		if fault, _ := resp.Request.Context().Value(ctxKey{}).(string); fault == "error-after" || fault == "reset-after" {
			_ = resp.Body.Close()
			return errAfter
		}
		return nil
	}
	rp.ErrorHandler = func(w http.ResponseWriter, r *http.Request, err error) {
		fault, _ := r.Context().Value(ctxKey{}).(string)
		if retryAfter, _ := r.Context().Value(retryAfterKey{}).(bool); retryAfter {
			w.Header().Set("Retry-After", "1")
		}
		switch {
		case errors.Is(err, errAfter) && fault == "reset-after":
			reset(w)
		case errors.Is(err, errAfter):
			status(w, http.StatusInternalServerError, "InternalError", "injected: the answer was lost after the server did the work")
		default:
			w.WriteHeader(http.StatusBadGateway)
		}
	}
	p.proxy = rp
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return nil, err
	}
	p.URL = "http://" + l.Addr().String()
	p.server = &http.Server{Handler: p, ReadHeaderTimeout: 10 * time.Second}
	go func() { _ = p.server.Serve(l) }()
	return p, nil
}

// SetProfile changes the faults from now on.
func (p *Proxy) SetProfile(profile Profile) {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.profile = profile
}

// Counts says how many requests passed and how many faults were injected.
func (p *Proxy) Counts() Counts {
	return Counts{
		Requests: p.requests.Load(), Throttled: p.throttled.Load(), ErrorsBefore: p.errorsBefore.Load(),
		ErrorsAfter: p.errorsAfter.Load(), ResetsBefore: p.resetsBefore.Load(), ResetsAfter: p.resetsAfter.Load(),
		WatchesCut: p.watchesCut.Load(),
	}
}

// Close stops the proxy.
func (p *Proxy) Close() error { return p.server.Close() }

// WriteKubeconfig writes a kubeconfig that reaches the API server through
// the proxy, in dir, and returns its path.
func (p *Proxy) WriteKubeconfig(dir string) (string, error) {
	cfg := clientcmdapi.NewConfig()
	cfg.Clusters["proxy"] = &clientcmdapi.Cluster{Server: p.URL}
	cfg.AuthInfos["proxy"] = &clientcmdapi.AuthInfo{}
	cfg.Contexts["proxy"] = &clientcmdapi.Context{Cluster: "proxy", AuthInfo: "proxy"}
	cfg.CurrentContext = "proxy"
	path := filepath.Join(dir, "faultproxy.kubeconfig")
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return "", err
	}
	return path, clientcmd.WriteToFile(*cfg, path)
}

// draw picks the fault of one request: the n-th request of a method and
// path draws the same number in every run of the same seed.
func (p *Proxy) draw(r *http.Request) (Profile, string) {
	p.mu.Lock()
	defer p.mu.Unlock()
	pr := p.profile
	key := r.Method + " " + r.URL.Path
	n := p.asked[key]
	p.asked[key] = n + 1
	h := fnv.New64a()
	_ = binary.Write(h, binary.LittleEndian, p.seed)
	_ = binary.Write(h, binary.LittleEndian, n)
	_, _ = h.Write([]byte(key))
	x := float64(mix(h.Sum64())>>11) / (1 << 53)
	for _, f := range []struct {
		rate float64
		name string
	}{
		{pr.Throttle, "throttle"}, {pr.ErrorBefore, "error-before"}, {pr.ErrorAfter, "error-after"},
		{pr.ResetBefore, "reset-before"}, {pr.ResetAfter, "reset-after"},
	} {
		if x < f.rate {
			return pr, f.name
		}
		x -= f.rate
	}
	return pr, ""
}

// mix is splitmix64's finaliser: every bit of the hash reaches the top bits
// the draw uses.
func mix(z uint64) uint64 {
	z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9
	z = (z ^ (z >> 27)) * 0x94d049bb133111eb
	return z ^ (z >> 31)
}

// ServeHTTP injects the drawn fault, or passes the request on.
func (p *Proxy) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	p.requests.Add(1)
	pr, fault := p.draw(r)
	if pr.Latency > 0 {
		time.Sleep(pr.Latency)
	}
	if r.URL.Query().Get("watch") == "true" || r.URL.Query().Get("watch") == "1" {
		if pr.CutWatchesAfter > 0 {
			ctx, cancel := context.WithTimeout(r.Context(), pr.CutWatchesAfter)
			defer cancel()
			r = r.WithContext(ctx)
			defer func() {
				if ctx.Err() == context.DeadlineExceeded {
					p.watchesCut.Add(1)
				}
			}()
		}
		p.proxy.ServeHTTP(w, r)
		return
	}
	switch fault {
	case "throttle":
		p.throttled.Add(1)
		w.Header().Set("Retry-After", "1")
		status(w, http.StatusTooManyRequests, "TooManyRequests", "injected: too many requests, please try again later")
		return
	case "error-before":
		if pr.RetryAfter {
			w.Header().Set("Retry-After", "1")
		}
		code, reason := http.StatusServiceUnavailable, "ServiceUnavailable"
		if p.errorsBefore.Add(1)%2 == 0 {
			code, reason = http.StatusInternalServerError, "InternalError"
		}
		status(w, code, reason, "injected: the server failed before doing the work")
		return
	case "reset-before":
		p.resetsBefore.Add(1)
		reset(w)
		return
	case "error-after":
		p.errorsAfter.Add(1)
	case "reset-after":
		p.resetsAfter.Add(1)
	}
	ctx := context.WithValue(r.Context(), ctxKey{}, fault)
	p.proxy.ServeHTTP(w, r.WithContext(context.WithValue(ctx, retryAfterKey{}, pr.RetryAfter)))
}

// status writes a Kubernetes Status answer.
func status(w http.ResponseWriter, code int, reason, message string) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(code)
	_ = json.NewEncoder(w).Encode(map[string]any{
		"kind": "Status", "apiVersion": "v1", "status": "Failure",
		"reason": reason, "message": message, "code": code,
	})
}

// reset closes the client's connection with a TCP reset.
func reset(w http.ResponseWriter) {
	hj, ok := w.(http.Hijacker)
	if !ok {
		panic(fmt.Sprintf("faultproxy: %T cannot hijack", w))
	}
	conn, _, err := hj.Hijack()
	if err != nil {
		return
	}
	if tcp, ok := conn.(*net.TCPConn); ok {
		_ = tcp.SetLinger(0)
	}
	_ = conn.Close()
}
