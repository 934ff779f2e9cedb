package cli

import (
	"context"
	"encoding/json"
	"fmt"
	"strings"
	"testing"
	"time"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"
	gatewayv1 "sigs.k8s.io/gateway-api/apis/v1"

	"github.com/kubectl-waypoint/kubectl-waypoint/internal/testenv"
	"github.com/kubectl-waypoint/kubectl-waypoint/pkg/enroll"
)

const ingressLabel = "istio.io/ingress-use-waypoint"

// ingressValues are the values of istio.io/ingress-use-waypoint the table
// puts on namespaces and on services; "" is the label with an empty
// value, absentValue no label at all.
var (
	namespaceIngressValues = []string{"true", "yes", absentValue}
	serviceIngressValues   = []string{"true", "TRUE", "false", "tRuE", "yes", "", absentValue}
)

const absentValue = "<absent>"

// ingressView is what istiod sends ztunnel for one service (ambientz):
// its waypoint (namespace/name, empty for none) and ingressUseWaypoint.
type ingressView struct {
	waypoint string
	ingress  bool
	// labels describes the labels of the object, for messages.
	labels string
}

func (v ingressView) String() string {
	w := v.waypoint
	if w == "" {
		w = "none"
	}
	return fmt.Sprintf("waypoint %s, ingress %v", w, v.ingress)
}

// same reports whether two views agree, their labels aside.
func (v ingressView) same(o ingressView) bool {
	return v.waypoint == o.waypoint && v.ingress == o.ingress
}

// ingressViews reads ambientz once: the services (and ServiceEntries) of
// namespaces, by namespace/name.
func ingressViews(ctx context.Context, namespaces ...string) (map[string]ingressView, error) {
	a, err := env.Ambientz(ctx)
	if err != nil {
		return nil, err
	}
	in := map[string]bool{}
	for _, ns := range namespaces {
		in[ns] = true
	}
	out := map[string]ingressView{}
	for _, s := range a.Services {
		if !in[s.Namespace] {
			continue
		}
		v := ingressView{ingress: s.IngressUseWaypoint}
		if g := s.Waypoint; g != nil && g.Hostname != nil {
			name, _, _ := strings.Cut(g.Hostname.Hostname, ".")
			v.waypoint = g.Hostname.Namespace + "/" + name
		} else if g != nil {
			v.waypoint = g.String()
		}
		out[s.Namespace+"/"+s.Name] = v
	}
	return out, nil
}

// waitIngress polls ambientz, with a deadline, until istiod shows every
// service of want as want says; it fails naming those that differ.
func waitIngress(t *testing.T, want map[string]ingressView, namespaces ...string) {
	t.Helper()
	deadline := time.Now().Add(60 * time.Second)
	for {
		got, err := ingressViews(context.Background(), namespaces...)
		var diff []string
		if err != nil {
			diff = append(diff, err.Error())
		}
		for key, w := range want {
			g, ok := got[key]
			switch {
			case !ok:
				diff = append(diff, fmt.Sprintf("%s: not in ambientz; we say %s", key, w))
			case !g.same(w):
				diff = append(diff, fmt.Sprintf("%s%s: istiod says %s; we say %s", key, w.labels, g, w))
			}
		}
		if len(diff) == 0 {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("after 60s, istiod's ambientz still differs:\n%s", strings.Join(diff, "\n"))
		}
		time.Sleep(200 * time.Millisecond)
	}
}

// explainIngress is what explain -o json says of the ingress traffic of a
// service or ServiceEntry.
func explainIngress(t *testing.T, kind, ns, name string) (ingressView, *enroll.Ingress) {
	t.Helper()
	stdout, _ := mustRun(t, 0, "explain", kind, name, "-n", ns, "-o", "json")
	var ex enroll.Explanation
	if err := json.Unmarshal([]byte(stdout), &ex); err != nil {
		t.Fatalf("%v\n%s", err, stdout)
	}
	if ex.Ingress == nil {
		t.Fatalf("explain %s %s/%s -o json has no ingress:\n%s", kind, ns, name, stdout)
	}
	if (ex.Ingress.Waypoint != "") != ex.Uses || (ex.Uses && ex.Ingress.Waypoint != ex.Waypoint) {
		t.Errorf("%s %s/%s: ingress waypoint %q, but the service uses %q (%v)", kind, ns, name, ex.Ingress.Waypoint, ex.Waypoint, ex.Uses)
	}
	return ingressView{waypoint: ex.Ingress.Waypoint, ingress: ex.Ingress.UsesWaypoint}, ex.Ingress
}

// quoteValue shows a label's value in messages: quoted, or absent.
func quoteValue(v string) string {
	if v == absentValue {
		return "absent"
	}
	return fmt.Sprintf("%q", v)
}

// TestIngressAgainstIstiod holds explain's answer about ingress traffic,
// and what enroll/unenroll --ingress write, against the real istiod: its
// ingressUseWaypoint and waypoint in /debug/ambientz. One waypoint, which
// admits every namespace, serves both parts.
func TestIngressAgainstIstiod(t *testing.T) {
	t.Parallel()
	wpNS := env.Namespace(t, testenv.AmbientLabels())
	gw := testenv.WaypointGateway(wpNS, "waypoint", map[string]string{"istio.io/waypoint-for": "service"})
	all := gatewayv1.NamespacesFromAll
	gw.Spec.Listeners[0].AllowedRoutes = &gatewayv1.AllowedRoutes{Namespaces: &gatewayv1.RouteNamespaces{From: &all}}
	env.CreateGateway(t, gw)
	env.WaitProgrammed(t, wpNS, "waypoint")
	waypointKey := wpNS + "/waypoint"
	useWP := func(labels map[string]string) map[string]string {
		labels[useWaypoint], labels[useWaypointNS] = "waypoint", wpNS
		return labels
	}

	t.Run("table", func(t *testing.T) {
		// Namespace label × service label × a waypoint or none; and a
		// ServiceEntry with and without one in each namespace.
		want := map[string]ingressView{}
		var namespaces []string
		type object struct{ kind, ns, name, labels string }
		var objects []object
		for _, nsValue := range namespaceIngressValues {
			labels := testenv.AmbientLabels()
			if nsValue != absentValue {
				labels[ingressLabel] = nsValue
			}
			ns := env.Namespace(t, labels)
			namespaces = append(namespaces, ns)
			describe := func(value string) string {
				return fmt.Sprintf(" (its label %s, its namespace's %s)", quoteValue(value), quoteValue(nsValue))
			}
			for i, value := range serviceIngressValues {
				for _, bound := range []bool{true, false} {
					labels := map[string]string{}
					if value != absentValue {
						labels[ingressLabel] = value
					}
					name := fmt.Sprintf("s%d-unbound", i)
					if bound {
						name = fmt.Sprintf("s%d-bound", i)
						useWP(labels)
					}
					env.Service(t, ns, name, labels)
					objects = append(objects, object{"service", ns, name, describe(value)})
				}
			}
			env.ServiceEntry(t, ns, "se-bound", useWP(map[string]string{ingressLabel: "true"}))
			env.ServiceEntry(t, ns, "se-unbound", map[string]string{ingressLabel: "true"})
			objects = append(objects, object{"serviceentry", ns, "se-bound", describe("true")}, object{"serviceentry", ns, "se-unbound", describe("true")})
		}
		var through, bypass, warned int
		for _, o := range objects {
			v, in := explainIngress(t, o.kind, o.ns, o.name)
			v.labels = o.labels
			want[o.ns+"/"+o.name] = v
			switch {
			case v.ingress:
				through++
			case v.waypoint != "":
				bypass++
			}
			if in.Invalid {
				warned++
			}
		}
		// The table reaches both answers for bound services, and values
		// istiod cannot read.
		if through == 0 || bypass == 0 || warned == 0 {
			t.Fatalf("the table is too narrow: %d through the waypoint, %d bypassing it, %d unreadable values", through, bypass, warned)
		}
		waitIngress(t, want, namespaces...)
		t.Logf("%d services and ServiceEntries agree with istiod: %d take the waypoint for ingress, %d bound ones bypass it", len(objects), through, bypass)
	})

	t.Run("enroll and unenroll --ingress", func(t *testing.T) {
		ns := env.Namespace(t, testenv.AmbientLabels())
		env.Service(t, ns, "reviews", nil)
		env.Service(t, ns, "ratings", nil)
		key := func(name string) string { return ns + "/" + name }
		wp := []string{"--waypoint", "waypoint", "--waypoint-namespace", wpNS}

		// A service, its ingress traffic too, in one write.
		stdout, _ := mustRun(t, 0, append([]string{"enroll", "service", "reviews", "-n", ns, "--ingress"}, wp...)...)
		if want := fmt.Sprintf("service %s/reviews enrolled in waypoint %s (ingress too)\n", ns, waypointKey); stdout != want {
			t.Errorf("stdout %q, want %q", stdout, want)
		}
		if l := labelsOf(t, "service", ns, "reviews"); l[useWaypoint] != "waypoint" || l[useWaypointNS] != wpNS || l[ingressLabel] != "true" {
			t.Errorf("labels after enroll --ingress: %v", l)
		}
		stdout, _ = mustRun(t, 0, append([]string{"enroll", "service", "reviews", "-n", ns, "--ingress"}, wp...)...)
		if !strings.Contains(stdout, "unchanged (already enrolled in waypoint "+waypointKey+", ingress too)") {
			t.Errorf("again: %q", stdout)
		}
		waitIngress(t, map[string]ingressView{key("reviews"): {waypoint: waypointKey, ingress: true}, key("ratings"): {}}, ns)

		// Ingress only: the enrollment stays, and istiod still binds it.
		stdout, _ = mustRun(t, 0, "unenroll", "service", "reviews", "-n", ns, "--ingress")
		if want := fmt.Sprintf("service %s/reviews unlabeled %q (its enrollment is kept)\n", ns, ingressLabel); stdout != want {
			t.Errorf("stdout %q, want %q", stdout, want)
		}
		if l := labelsOf(t, "service", ns, "reviews"); l[useWaypoint] != "waypoint" || l[useWaypointNS] != wpNS || l[ingressLabel] != "" {
			t.Errorf("labels after unenroll --ingress: %v", l)
		}
		waitIngress(t, map[string]ingressView{key("reviews"): {waypoint: waypointKey}}, ns)

		// The namespace: its services without a label of their own follow it.
		mustRun(t, 0, append([]string{"enroll", "namespace", ns, "--ingress"}, wp...)...)
		if l := labelsOf(t, "namespace", "", ns); l[useWaypoint] != "waypoint" || l[ingressLabel] != "true" {
			t.Errorf("namespace labels after enroll --ingress: %v", l)
		}
		waitIngress(t, map[string]ingressView{key("reviews"): {waypoint: waypointKey, ingress: true}, key("ratings"): {waypoint: waypointKey, ingress: true}}, ns)

		// A service's own label wins: false for reviews alone.
		if _, err := env.Kube.CoreV1().Services(ns).Patch(context.Background(), "reviews", types.MergePatchType,
			[]byte(`{"metadata":{"labels":{"`+ingressLabel+`":"false"}}}`), metav1.PatchOptions{}); err != nil {
			t.Fatal(err)
		}
		waitIngress(t, map[string]ingressView{key("reviews"): {waypoint: waypointKey}, key("ratings"): {waypoint: waypointKey, ingress: true}}, ns)

		// unenroll --ingress of reviews: the namespace's label now decides,
		// as the warning says.
		_, stderr := mustRun(t, 0, "unenroll", "service", "reviews", "-n", ns, "--ingress")
		if want := fmt.Sprintf("the label %s=true of namespace %s now decides", ingressLabel, ns); !strings.Contains(stderr, want) {
			t.Errorf("stderr lacks %q:\n%s", want, stderr)
		}
		waitIngress(t, map[string]ingressView{key("reviews"): {waypoint: waypointKey, ingress: true}}, ns)

		// The namespace's ingress label alone: the enrollment stays.
		mustRun(t, 0, "unenroll", "namespace", ns, "--ingress")
		if l := labelsOf(t, "namespace", "", ns); l[useWaypoint] != "waypoint" || l[ingressLabel] != "" {
			t.Errorf("namespace labels after unenroll --ingress: %v", l)
		}
		waitIngress(t, map[string]ingressView{key("reviews"): {waypoint: waypointKey}, key("ratings"): {waypoint: waypointKey}}, ns)

		// A plain unenroll keeps a service's ingress label, and says so.
		mustRun(t, 0, append([]string{"enroll", "service", "ratings", "-n", ns, "--ingress"}, wp...)...)
		mustRun(t, 0, "unenroll", "namespace", ns)
		_, stderr = mustRun(t, 0, "unenroll", "service", "ratings", "-n", ns)
		if want := fmt.Sprintf("service %s/ratings keeps %s=true, which does nothing while it uses no waypoint; to remove it run: kubectl-waypoint unenroll service ratings -n %s --ingress", ns, ingressLabel, ns); !strings.Contains(stderr, want) {
			t.Errorf("stderr lacks %q:\n%s", want, stderr)
		}
		if l := labelsOf(t, "service", ns, "ratings"); l[useWaypoint] != "" || l[ingressLabel] != "true" {
			t.Errorf("labels after plain unenroll: %v", l)
		}
		waitIngress(t, map[string]ingressView{key("ratings"): {}}, ns)
	})
}
