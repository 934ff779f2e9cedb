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
)

// FuzzScopeFlags feeds the flags that choose what a command works on (the
// -n list, label selectors, names, the waypoint to enroll into) arbitrary
// values, against a server that refuses everything and counts what it is
// sent. A command must never panic; it either refuses the line with exit 2,
// one line on stderr and not one request sent, or goes on only with values
// that are valid: namespaces that are DNS-1123 labels, selectors that
// parse, names that are DNS-1123 subdomains. The seeds run with every go
// test; go test -fuzz FuzzScopeFlags ./pkg/cli explores further.
func FuzzScopeFlags(f *testing.F) {
	f.Add(uint8(0), "default", "app=reviews", "reviews", "waypoint")
	f.Add(uint8(1), "", "team in (a,b),!x", "", "")
	f.Add(uint8(2), "a,b", "", "reviews", "none")
	f.Add(uint8(3), "a,,b", "app=", "x", "wp")
	f.Add(uint8(4), "UPPER", "a in (", "", "")
	f.Add(uint8(2), `"a,b"`, "", "-x", "Way point")
	f.Add(uint8(3), "a, b", "x==y", "", "w/p")
	f.Add(uint8(1), "ns", "team=a", "", "")
	f.Fuzz(func(t *testing.T, mode uint8, nsList, selector, name, waypoint string) {
		var requests atomic.Int32
		srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			requests.Add(1)
			w.Header().Set("Content-Type", "application/json")
			w.WriteHeader(http.StatusForbidden)
			_ = json.NewEncoder(w).Encode(metav1.Status{TypeMeta: metav1.TypeMeta{Kind: "Status", APIVersion: "v1"},
				Status: metav1.StatusFailure, Reason: metav1.StatusReasonForbidden, Code: http.StatusForbidden, Message: "no"})
		}))
		defer srv.Close()

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
		args = append(args, "--server", srv.URL)
		stdout, stderr, code := run(t, false, args...)
		if code == ExitUsage {
			if stdout != "" || strings.Count(stderr, "\n") != 1 || requests.Load() != 0 {
				t.Fatalf("%q: exit 2 must print one line on stderr, nothing on stdout, and send nothing: %d requests, %q %q",
					args, requests.Load(), stdout, stderr)
			}
			return
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
	})
}
