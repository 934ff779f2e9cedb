package cli

import (
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"net/http/httputil"
	"net/url"
	"strings"
	"testing"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/rest"

	"github.com/kubectl-waypoint/kubectl-waypoint/internal/testenv"
	"github.com/kubectl-waypoint/kubectl-waypoint/pkg/kube"
)

// withoutGatewayAPI is the test API server as a cluster without the
// Gateway API CRDs looks: its discovery leaves the group out, and every
// path under it answers 404 as kube-apiserver answers a path it does not
// serve. Everything else is passed to the real server, as the admin.
func withoutGatewayAPI(t *testing.T) string {
	t.Helper()
	target, err := url.Parse(env.Config.Host)
	if err != nil {
		t.Fatal(err)
	}
	transport, err := rest.TransportFor(env.Config)
	if err != nil {
		t.Fatal(err)
	}
	proxy := httputil.NewSingleHostReverseProxy(target)
	proxy.Transport = transport
	proxy.ModifyResponse = func(resp *http.Response) error {
		if resp.Request.URL.Path != "/apis" || resp.StatusCode != http.StatusOK {
			return nil
		}
		body, err := io.ReadAll(resp.Body)
		if err != nil {
			return err
		}
		var groups metav1.APIGroupList
		if err := json.Unmarshal(body, &groups); err != nil {
			return err
		}
		kept := groups.Groups[:0]
		for _, g := range groups.Groups {
			if g.Name != kube.GatewayGroup {
				kept = append(kept, g)
			}
		}
		groups.Groups = kept
		body, _ = json.Marshal(groups)
		resp.Body = io.NopCloser(bytes.NewReader(body))
		resp.ContentLength = int64(len(body))
		resp.Header.Set("Content-Length", fmt.Sprint(len(body)))
		resp.Header.Set("Content-Type", "application/json")
		return nil
	}
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if strings.HasPrefix(r.URL.Path, "/apis/"+kube.GatewayGroup) {
			w.Header().Set("Content-Type", "text/plain; charset=utf-8")
			w.WriteHeader(http.StatusNotFound)
			_, _ = io.WriteString(w, "404 page not found\n")
			return
		}
		if r.URL.Path == "/apis" {
			// The plain group list, not the aggregated discovery
			// document, so that the group can be left out of it.
			r.Header.Set("Accept", "application/json")
		}
		proxy.ServeHTTP(w, r)
	}))
	t.Cleanup(srv.Close)
	return srv.URL
}

// TestWithoutGatewayCRDs: on a cluster without the Gateway API CRDs, every
// command that touches Gateways says so, in one line with the command that
// installs them, and nothing is written. (explain of an object that names
// no waypoint reads no Gateway and still answers; policies answers with a
// warning.)
func TestWithoutGatewayCRDs(t *testing.T) {
	t.Parallel()
	ns := env.Namespace(t, testenv.AmbientLabels())
	env.Service(t, ns, "reviews", nil)
	server := withoutGatewayAPI(t)
	for _, args := range [][]string{
		{"apply", "-n", ns},
		{"apply", "-n", ns, "--enroll-namespace", "--wait", "--timeout", "5s"},
		{"list", "-n", ns},
		{"status", "-n", ns},
		{"delete", "waypoint", "-n", ns},
		{"enroll", "service", "reviews", "-n", ns, "--waypoint", "waypoint"},
		{"enroll", "namespace", ns, "--waypoint", "waypoint"},
		{"explain", "waypoint", "waypoint", "-n", ns},
	} {
		_, stderr, code := run(t, false, append(args, "--server", server, "--insecure-skip-tls-verify")...)
		want := "the Gateway API CRDs are not installed; install them with: " + kube.GatewayAPIInstall
		if code == 0 || !strings.Contains(stderr, want) || strings.Count(stderr, "\n") != 1 {
			t.Errorf("%v: exit %d, stderr:\n%s", args, code, stderr)
		}
	}
	// policies reads no Gateway, and answers: with a warning that no
	// waypoint can exist, never "every L7 policy is enforced". A policy
	// on the Service is listed as not enforced.
	_, stderr, code := run(t, false, "policies", "-n", ns, "--server", server, "--insecure-skip-tls-verify")
	warning := "the Gateway API CRDs are not installed, so no waypoint can exist and no L7 policy is enforced; install them with: " + kube.GatewayAPIInstall
	if code != 0 || !strings.Contains(stderr, warning) || strings.Contains(stderr, "Every L7 policy") || !strings.Contains(stderr, "No L7 policies found") {
		t.Errorf("policies, no policy: exit %d, stderr:\n%s", code, stderr)
	}
	createPolicy(t, authzGVR, "AuthorizationPolicy", ns, "reviews-get", ref("Service", "reviews"))
	stdout, stderr, code := run(t, false, "policies", "-n", ns, "--server", server, "--insecure-skip-tls-verify")
	if code != ExitFailed || !strings.Contains(stderr, warning) || !hasRowPrefix(stdout, "reviews-get AuthorizationPolicy Service/"+ns+"/reviews <none> no") {
		t.Errorf("policies, one on a Service: exit %d, stdout:\n%s\nstderr:\n%s", code, stdout, stderr)
	}
	// Nothing was written.
	if got := nsLabels(t, ns)["istio.io/use-waypoint"]; got != "" {
		t.Errorf("namespace %s enrolled in %q", ns, got)
	}
	svc, err := env.Kube.CoreV1().Services(ns).Get(t.Context(), "reviews", metav1.GetOptions{})
	if err != nil || svc.Labels["istio.io/use-waypoint"] != "" {
		t.Errorf("service reviews: %v, labels %v", err, svc.Labels)
	}
}

// TestEnrollAheadOfWaypointWarning: enrolling one service ahead of its
// waypoint warns in words that fit one object as well as many, and writes
// the label (read back).
func TestEnrollAheadOfWaypointWarning(t *testing.T) {
	t.Parallel()
	ns := env.Namespace(t, testenv.AmbientLabels())
	env.Service(t, ns, "reviews", nil)
	_, stderr, code := runKube(t, "enroll", "service", "reviews", "-n", ns, "--waypoint", "later")
	want := "waypoint " + ns + "/later does not exist yet; the labels take effect once it is applied and ready:"
	if code != 0 || !strings.Contains(stderr, want) {
		t.Errorf("exit %d, stderr %q; want %q", code, stderr, want)
	}
	svc, err := env.Kube.CoreV1().Services(ns).Get(t.Context(), "reviews", metav1.GetOptions{})
	if err != nil || svc.Labels["istio.io/use-waypoint"] != "later" {
		t.Errorf("service reviews: %v, labels %v", err, svc.Labels)
	}
}
