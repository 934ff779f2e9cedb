package cli

import (
	"encoding/csv"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync/atomic"
	"testing"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/labels"
	"k8s.io/apimachinery/pkg/util/validation"

	"github.com/kubectl-waypoint/kubectl-waypoint/pkg/istio"
)

// FuzzScopeFlags feeds the flags that choose what a command works on (the
// -n list, label selectors, names, the waypoint to enroll into) arbitrary
// values, against a server that refuses everything and counts what it is
// sent. A command must never panic; it either refuses the line with exit 2,
// one line on stderr and not one request sent, or goes on only with values
// that are valid: namespaces that are DNS-1123 labels, selectors that
// parse, names that are DNS-1123 subdomains. (Going on, it may still exit
// 2 with one line when the server forbids a read that guards its writes,
// having written nothing.) A command line drawn valid from gen must not be
// refused: it goes on to ask the server. The seeds run with every go test;
// go test -fuzz FuzzScopeFlags ./pkg/cli explores further.
func FuzzScopeFlags(f *testing.F) {
	f.Add(uint8(0), "default", "app=reviews", "reviews", "waypoint", []byte{0, 0, 7, 3, 1, 0, 2})
	f.Add(uint8(1), "", "team in (a,b),!x", "", "", []byte{1, 1, 8, 3, 1, 0, 2})
	f.Add(uint8(2), "a,b", "", "reviews", "none", []byte{2, 2, 9, 3, 1, 0, 2})
	f.Add(uint8(3), "a,,b", "app=", "x", "wp", []byte{3, 3, 10, 3, 1, 0, 2})
	f.Add(uint8(4), "UPPER", "a in (", "", "", []byte{4, 4, 11, 3, 1, 0, 2})
	f.Add(uint8(2), `"a,b"`, "", "-x", "Way point", []byte{0, 5, 12, 3, 1, 0, 2})
	f.Add(uint8(3), "a, b", "x==y", "", "w/p", []byte{1, 6, 13, 3, 1, 0, 2})
	f.Add(uint8(1), "ns", "team=a", "", "", []byte{2, 7, 14, 3, 1, 0, 2})
	f.Fuzz(func(t *testing.T, mode uint8, nsList, selector, name, waypoint string, gen []byte) {
		checkScope(t, mode, nsList, selector, name, waypoint)
		checkDrawnScope(t, drawScope(&choices{b: gen}))
	})
}

// checkScope runs the command line of mode with arbitrary values: refused
// with one line and no request, or gone on with valid values only.
func checkScope(t *testing.T, mode uint8, nsList, selector, name, waypoint string) {
	t.Helper()
	srv := newRefusingServer()
	defer srv.Close()

	args := append(scopeArgs(mode, nsList, selector, name, waypoint), "--server", srv.URL)
	stdout, stderr, code := run(t, false, args...)
	if code == ExitUsage {
		if stdout != "" || strings.Count(stderr, "\n") != 1 || srv.writes.Load() != 0 {
			t.Fatalf("%q: exit 2 must print one line on stderr, nothing on stdout, and write nothing: %d writes, %q %q",
				args, srv.writes.Load(), stdout, stderr)
		}
		if srv.requests.Load() == 0 {
			return
		}
		// It went on, and refused only when the server forbade a read
		// that guards its writes.
		if !strings.Contains(stderr, "forbidden") {
			t.Fatalf("%q: exit 2 after %d requests, not for a forbidden read: %q", args, srv.requests.Load(), stderr)
		}
	}
	// Not refused: everything it went on with must be valid.
	if nsList != "" {
		names, err := csv.NewReader(strings.NewReader(nsList)).Read()
		if err != nil {
			t.Fatalf("%q: exit %d with a -n that does not parse: %v", args, code, err)
		}
		for _, ns := range names {
			if errs := validation.IsDNS1123Label(ns); len(errs) > 0 {
				t.Fatalf("%q: exit %d with namespace %q: %v", args, code, ns, errs)
			}
		}
	}
	switch mode % 5 {
	case 0, 1, 3:
		if _, err := labels.Parse(selector); err != nil {
			t.Fatalf("%q: exit %d with a selector that does not parse: %v", args, code, err)
		}
	}
	if mode%5 == 2 {
		if errs := validation.IsDNS1123Subdomain(name); len(errs) > 0 {
			t.Fatalf("%q: exit %d with service name %q: %v", args, code, name, errs)
		}
	}
	if m := mode % 5; m == 2 || m == 3 {
		if errs := validation.IsDNS1123Subdomain(waypoint); waypoint != "none" && len(errs) > 0 {
			t.Fatalf("%q: exit %d with waypoint %q: %v", args, code, waypoint, errs)
		}
	}
}

// refusingServer is an API server that refuses every request as
// forbidden, and counts them, and the writes among them.
type refusingServer struct {
	*httptest.Server
	requests, writes atomic.Int32
}

func newRefusingServer() *refusingServer {
	s := &refusingServer{}
	s.Server = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		s.requests.Add(1)
		if r.Method != http.MethodGet {
			s.writes.Add(1)
		}
		w.Header().Set("Content-Type", "application/json")
		w.WriteHeader(http.StatusForbidden)
		_ = json.NewEncoder(w).Encode(metav1.Status{TypeMeta: metav1.TypeMeta{Kind: "Status", APIVersion: "v1"},
			Status: metav1.StatusFailure, Reason: metav1.StatusReasonForbidden, Code: http.StatusForbidden, Message: "no"})
	}))
	return s
}

// scopeArgs is the command line of mode (0 to 4) with these values.
func scopeArgs(mode uint8, nsList, selector, name, waypoint string) []string {
	var args []string
	switch mode % 5 {
	case 0:
		args = []string{"list", "-l", selector}
	case 1:
		args = []string{"apply", "--enroll-namespace", "--namespace-selector", selector}
	case 2:
		args = []string{"enroll", "service", name, "--waypoint", waypoint}
	case 3:
		args = []string{"enroll", "pod", "-l", selector, "--waypoint", waypoint}
	case 4:
		args = []string{"delete", "--all", "--unenroll"}
	}
	if nsList != "" {
		args = append(args, "-n", nsList)
	}
	return args
}

// drawScope draws a valid command line of one of scopeArgs's modes: a
// selector drawn valid, a service name that is a DNS subdomain, a waypoint
// name or none, and namespaces as the command takes them: at most one for
// list, none beside apply's --namespace-selector, else up to three.
func drawScope(c *choices) []string {
	mode := uint8(c.intn(5))
	var namespaces []string
	switch n := c.intn(4); mode {
	case 0:
		namespaces = make([]string, min(n, 1))
	case 1:
	default:
		namespaces = make([]string, n)
	}
	for i := range namespaces {
		namespaces[i] = c.dnsLabel()
	}
	name := c.dnsLabel()
	for range c.intn(3) {
		name += "." + c.dnsLabel()
	}
	waypoint := istio.NoWaypoint
	if c.intn(4) > 0 {
		waypoint = c.waypointName()
	}
	return append(scopeArgs(mode, "", drawSelector(c).text, name, waypoint), c.listFlag("-n", namespaces)...)
}

// checkDrawnScope runs a valid command line against a server that refuses
// everything: the command must not refuse it, but go on and ask.
func checkDrawnScope(t *testing.T, args []string) {
	t.Helper()
	srv := newRefusingServer()
	defer srv.Close()
	args = append(args, "--server", srv.URL)
	_, stderr, code := run(t, false, args...)
	if srv.requests.Load() == 0 {
		t.Fatalf("%q: valid, but refused with exit %d before asking the server: %s", args, code, stderr)
	}
}
