package cli

import (
	"context"
	"maps"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"testing"

	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	rbacv1 "k8s.io/api/rbac/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"sigs.k8s.io/yaml"

	"github.com/kubectl-waypoint/kubectl-waypoint/internal/testenv"
	"github.com/kubectl-waypoint/kubectl-waypoint/pkg/enroll"
)

// rbacGuide reads the Roles and ClusterRoles of docs/rbac.md, by name. Every
// YAML document of the page must decode strictly as the RBAC object it
// says it is, so what users apply is what the tests bind.
func rbacGuide(t *testing.T) map[string][]rbacv1.PolicyRule {
	t.Helper()
	doc, err := os.ReadFile(filepath.Join("..", "..", "docs", "rbac.md"))
	if err != nil {
		t.Fatal(err)
	}
	roles := map[string][]rbacv1.PolicyRule{}
	for _, block := range regexp.MustCompile("(?s)```yaml\n(.*?)```").FindAllStringSubmatch(string(doc), -1) {
		for _, part := range strings.Split(block[1], "\n---\n") {
			var head struct{ Kind string }
			if err := yaml.Unmarshal([]byte(part), &head); err != nil {
				t.Fatalf("docs/rbac.md: %v\n%s", err, part)
			}
			var obj any
			switch head.Kind {
			case "ClusterRole":
				obj = &rbacv1.ClusterRole{}
			case "Role":
				obj = &rbacv1.Role{}
			case "ClusterRoleBinding":
				obj = &rbacv1.ClusterRoleBinding{}
			case "RoleBinding":
				obj = &rbacv1.RoleBinding{}
			default:
				t.Fatalf("docs/rbac.md: unexpected kind %q in\n%s", head.Kind, part)
			}
			if err := yaml.UnmarshalStrict([]byte(part), obj); err != nil {
				t.Fatalf("docs/rbac.md: %s: %v\n%s", head.Kind, err, part)
			}
			switch o := obj.(type) {
			case *rbacv1.ClusterRole:
				roles[o.Name] = o.Rules
			case *rbacv1.Role:
				roles[o.Name] = o.Rules
			}
		}
	}
	for _, name := range []string{"waypoint-admin", "waypoint-migrator", "waypoint-app-team", "waypoint-class-reader", "waypoint-ci"} {
		if len(roles[name]) == 0 {
			t.Fatalf("docs/rbac.md has no rules for %s", name)
		}
	}
	return roles
}

// withoutVerb is rules with verb taken off resource of group; the rule
// must be there, so that the docs cannot lose it unnoticed.
func withoutVerb(t *testing.T, rules []rbacv1.PolicyRule, group, resource, verb string) []rbacv1.PolicyRule {
	t.Helper()
	var out []rbacv1.PolicyRule
	found := false
	for _, r := range rules {
		if slices.Contains(r.APIGroups, group) && slices.Contains(r.Resources, resource) && slices.Contains(r.Verbs, verb) {
			found = true
			if len(r.Resources) > 1 {
				// The other resources of the rule keep the verb.
				rest := *r.DeepCopy()
				rest.Resources = slices.DeleteFunc(slices.Clone(r.Resources), func(s string) bool { return s == resource })
				out = append(out, rest)
			}
			one := *r.DeepCopy()
			one.Resources = []string{resource}
			one.Verbs = slices.DeleteFunc(slices.Clone(r.Verbs), func(s string) bool { return s == verb })
			if len(one.Verbs) > 0 {
				out = append(out, one)
			}
			continue
		}
		out = append(out, *r.DeepCopy())
	}
	if !found {
		t.Fatalf("no rule gives %s on %s.%s", verb, resource, group)
	}
	return out
}

// asUser runs the tool as the user of kubeconfig and fails the test unless
// it exits 0 with no request forbidden, and stdout holds want.
func asUser(t *testing.T, kubeconfig, want string, args ...string) (stdout, stderr string) {
	t.Helper()
	stdout, stderr, code := run(t, false, append(args, "--kubeconfig", kubeconfig)...)
	if code != 0 || !strings.Contains(stdout, want) || strings.Contains(stderr, ": forbidden: ") {
		t.Fatalf("%v: exit %d, want %q in stdout\nstdout:\n%s\nstderr:\n%s", args, code, want, stdout, stderr)
	}
	return stdout, stderr
}

// forbiddenAs runs the tool as the user of kubeconfig and fails the test
// unless it exits 1 with the forbidden line that names what it could not do.
func forbiddenAs(t *testing.T, kubeconfig, what string, args ...string) {
	t.Helper()
	_, stderr, code := run(t, false, append(args, "--kubeconfig", kubeconfig)...)
	if code != ExitFailed || !strings.Contains(stderr, "cannot "+what+": forbidden: ") || !strings.Contains(stderr, "ask your cluster admin for that permission") {
		t.Fatalf("%v: exit %d, want %q forbidden\nstderr:\n%s", args, code, what, stderr)
	}
}

// TestRBACGuide runs the commands of each user of docs/rbac.md with the
// rights the page gives, and again with one rule fewer.
func TestRBACGuide(t *testing.T) {
	roles := rbacGuide(t)

	t.Run("platform admin", func(t *testing.T) {
		t.Parallel()
		team := "rbac-admin"
		a := env.Namespace(t, map[string]string{"team": team, testenv.DataplaneModeLabel: testenv.DataplaneModeAmbient})
		b := env.Namespace(t, map[string]string{"team": team, testenv.DataplaneModeLabel: testenv.DataplaneModeAmbient})
		env.Service(t, a, "reviews", nil)
		kc := env.UserWithRole(t, "rbac-admin", roles["waypoint-admin"], "")
		both := a + "," + b

		asUser(t, kc, "2 namespaces: 2 enrolled", "apply", "-n", both, "--enroll-namespace", "--for", "all", "--wait", "--timeout", "60s")
		asUser(t, kc, a, "list", "-A")
		asUser(t, kc, "waypoint", "status", "-A")
		asUser(t, kc, "service "+a+"/reviews enrolled in waypoint "+a+"/waypoint", "enroll", "svc", "reviews", "-n", a, "--waypoint", "waypoint")
		asUser(t, kc, "reviews", "explain", "svc", "reviews", "-n", a)
		_, stderr := asUser(t, kc, "reviews", "explain", "waypoint", "waypoint", "-n", a)
		if stderr != "" {
			t.Errorf("explain waypoint warned a cluster admin: %q", stderr)
		}
		if _, stderr := asUser(t, kc, "", "migrate", "plan", "-n", a); !strings.Contains(stderr, "Nothing is left to do") {
			t.Errorf("migrate plan of an ambient namespace without policies: %q", stderr)
		}
		asUser(t, kc, "2 gateways: 2 deleted", "delete", "--all", "-n", both, "--unenroll")
		if got := nsLabels(t, a)["istio.io/use-waypoint"]; got != "" {
			t.Errorf("delete --unenroll left namespace %s enrolled in %q", a, got)
		}

		t.Run("without list on virtualservices", func(t *testing.T) {
			kc := env.UserWithRole(t, "rbac-admin-novs", withoutVerb(t, roles["waypoint-admin"], "networking.istio.io", "virtualservices", "list"), "")
			forbiddenAs(t, kc, "list virtualservices", "migrate", "plan", "-n", a)
		})
		t.Run("without patch on namespaces", func(t *testing.T) {
			kc := env.UserWithRole(t, "rbac-admin-nopatch", withoutVerb(t, roles["waypoint-admin"], "", "namespaces", "patch"), "")
			forbiddenAs(t, kc, "label namespace "+a, "enroll", "ns", a, "--waypoint", "waypoint")
		})

		t.Run("sizing and class defaults", func(t *testing.T) {
			asUser(t, kc, "configmap "+a+"/sized-infrastructure created", "apply", "-n", a, "--name", "sized", "--replicas", "2", "--max-unavailable", "1")
			asUser(t, kc, "configmap "+a+"/sized-infrastructure deleted", "delete", "sized", "-n", a)
			nocm := env.UserWithRole(t, "rbac-admin-nocm", withoutVerb(t, roles["waypoint-admin"], "", "configmaps", "create"), "")
			forbiddenAs(t, nocm, "apply configmap "+a+"/again-infrastructure", "apply", "-n", a, "--name", "again", "--replicas", "2")

			class := "rbac-defaults-waypoint"
			env.GatewayClass(t, class, nil)
			admin := env.UserWithRole(t, "rbac-defaults", roles["waypoint-admin"], "")
			env.UserWithRole(t, "rbac-defaults", roles["waypoint-defaults"], testenv.IstioNamespace)
			asUser(t, admin, "No defaults for class "+class, "defaults", "--class", class)
			asUser(t, admin, "kubectl-waypoint-defaults-"+class+" created", "defaults", "--class", class, "--replicas", "2")
			asUser(t, admin, "kubectl-waypoint-defaults-"+class+" deleted", "defaults", "--class", class, "--unset")
			forbiddenAs(t, kc, "list the defaults of class "+class+" in namespace "+testenv.IstioNamespace, "defaults", "--class", class)
		})
	})

	t.Run("platform admin migrating", func(t *testing.T) {
		t.Parallel()
		c := context.Background()
		ns := env.Namespace(t, map[string]string{"istio-injection": "enabled"})
		env.Service(t, ns, "reviews", nil)
		pod := sidecarDeployment(t, ns, "reviews-v1", map[string]string{"app": "reviews"})
		createObject(t, authorizationPolicies, "AuthorizationPolicy", ns, "get-only",
			map[string]any{"selector": map[string]any{"matchLabels": map[string]any{"app": "reviews"}}, "rules": []any{rule(to(op("methods", "GET")))}})
		createObject(t, findingGVR(t, "VirtualService"), "VirtualService", ns, "reviews-route",
			map[string]any{"hosts": []any{"reviews"}, "http": []any{map[string]any{"route": []any{map[string]any{"destination": map[string]any{"host": "reviews"}}}}}})
		createObject(t, findingGVR(t, "Sidecar"), "Sidecar", ns, "default",
			map[string]any{"egress": []any{map[string]any{"hosts": []any{"./*"}}}})
		// waypoint-admin across the cluster, waypoint-migrator in the
		// namespace migrated, as the page binds them.
		kc := env.UserWithRole(t, "rbac-migrator", roles["waypoint-admin"], "")
		env.UserWithRole(t, "rbac-migrator", roles["waypoint-migrator"], ns)
		exists := func(gvr schema.GroupVersionResource, name string) bool {
			_, err := env.Dynamic.Resource(gvr).Namespace(ns).Get(c, name, metav1.GetOptions{})
			return err == nil
		}

		// Phases 1 and 2; phase 3 waits for the pod that runs a sidecar.
		_, stderr := asUser(t, kc, "deployment "+ns+"/reviews-v1 restarted", "migrate", "apply", "-n", ns, "--all-phases")
		if !strings.Contains(stderr, "phase 3 waits") {
			t.Errorf("phase 3 did not wait for the sidecar pod: %s", stderr)
		}
		if _, err := env.Gateway.GatewayV1().Gateways(ns).Get(c, "waypoint", metav1.GetOptions{}); err != nil {
			t.Errorf("phase 1 applied no waypoint: %v", err)
		}
		if l := nsLabels(t, ns); l["istio.io/use-waypoint"] != "waypoint" || l["istio.io/dataplane-mode"] != "ambient" || l["istio-injection"] != "" {
			t.Errorf("after phase 2 the namespace's labels are %v", l)
		}
		if !exists(authorizationPolicies, "get-only-waypoint") {
			t.Error("phase 1 created no copy of the AuthorizationPolicy")
		}
		dep, err := env.Kube.AppsV1().Deployments(ns).Get(c, "reviews-v1", metav1.GetOptions{})
		if err != nil || dep.Spec.Template.Annotations["kubectl.kubernetes.io/restartedAt"] == "" {
			t.Errorf("phase 2 did not restart Deployment reviews-v1: %v", err)
		}

		// The ReplicaSet's controller would replace the pod without a sidecar.
		zero := int64(0)
		if err := env.Kube.CoreV1().Pods(ns).Delete(c, pod, metav1.DeleteOptions{GracePeriodSeconds: &zero}); err != nil {
			t.Fatal(err)
		}
		// RBAC judges a server dry run as it judges the write: without
		// delete on VirtualServices phase 3 is refused, and nothing is written.
		novs := env.UserWithRole(t, "rbac-migrator-novs", roles["waypoint-admin"], "")
		env.UserWithRole(t, "rbac-migrator-novs", withoutVerb(t, roles["waypoint-migrator"], "networking.istio.io", "virtualservices", "delete"), ns)
		forbiddenAs(t, novs, "delete virtualservice "+ns+"/reviews-route", "migrate", "apply", "-n", ns, "--dry-run=server")

		asUser(t, kc, "virtualservice "+ns+"/reviews-route deleted", "migrate", "apply", "-n", ns)
		for gvr, name := range map[schema.GroupVersionResource]string{authorizationPolicies: "get-only", findingGVR(t, "VirtualService"): "reviews-route", findingGVR(t, "Sidecar"): "default"} {
			if exists(gvr, name) {
				t.Errorf("phase 3 left %s %s", gvr.Resource, name)
			}
		}
		if !exists(httpRoutes, "reviews-route-waypoint") {
			t.Error("phase 3 created no HTTPRoute for the VirtualService")
		}
	})

	t.Run("app team", func(t *testing.T) {
		t.Parallel()
		ns := env.Namespace(t, testenv.AmbientLabels())
		other := env.Namespace(t, testenv.AmbientLabels())
		env.Waypoint(t, ns, "waypoint", map[string]string{"istio.io/waypoint-for": "all"})
		env.Service(t, ns, "reviews", nil)
		env.Pod(t, ns, "reviews-v1", map[string]string{"app": "reviews"})
		env.Service(t, other, "reviews", nil)
		rules := roles["waypoint-app-team"]
		kc := env.UserWithRole(t, "rbac-app-team", rules, ns)
		env.UserWithRole(t, "rbac-app-team", roles["waypoint-class-reader"], "")

		asUser(t, kc, "waypoint", "list", "-n", ns)
		asUser(t, kc, "waypoint", "status", "-n", ns, "--wait", "--timeout", "60s")
		asUser(t, kc, "service "+ns+"/reviews enrolled in waypoint "+ns+"/waypoint", "enroll", "svc", "reviews", "-n", ns, "--waypoint", "waypoint")
		asUser(t, kc, "pod "+ns+"/reviews-v1 enrolled in waypoint "+ns+"/waypoint", "enroll", "pod", "-l", "app=reviews", "-n", ns, "--waypoint", "waypoint")
		asUser(t, kc, "WaypointAccepted", "explain", "svc", "reviews", "-n", ns)
		asUser(t, kc, "traffic addressed to its services", "explain", "pod", "reviews-v1", "-n", ns)
		stdout, stderr := asUser(t, kc, "reviews-v1", "explain", "waypoint", "waypoint", "-n", ns)
		// It may not list across the cluster, nor ServiceEntries at all.
		wantErr := "Warning: you may not list namespaces, services, pods across the cluster: only namespace " + ns +
			" was searched; resources of other namespaces may also use waypoint " + ns + "/waypoint\n" +
			"Warning: you may not list serviceentries, workloadentries in namespace " + ns +
			": they were not searched for resources that use waypoint " + ns + "/waypoint\n"
		if !strings.Contains(stdout, "reviews") || stderr != wantErr {
			t.Errorf("explain waypoint: stdout\n%s\nstderr %q", stdout, stderr)
		}
		asUser(t, kc, "service "+ns+"/reviews unenrolled", "unenroll", "svc", "reviews", "-n", ns)
		asUser(t, kc, "pod "+ns+"/reviews-v1 unenrolled", "unenroll", "pod", "-l", "app=reviews", "-n", ns)
		// Its rights end at its namespace.
		forbiddenAs(t, kc, "read namespace "+other, "enroll", "svc", "reviews", "-n", other, "--waypoint", "waypoint")

		t.Run("a waypoint of another namespace", func(t *testing.T) {
			// The platform team's shared waypoint, which the team may not read.
			infra := env.Namespace(t, testenv.AmbientLabels())
			if _, stderr, code := runKube(t, "apply", "-n", infra, "--name", "shared", "--allow-all-namespaces", "--wait", "--timeout", "60s"); code != 0 {
				t.Fatalf("apply: %s", stderr)
			}
			env.Service(t, ns, "ratings", nil)
			// It cannot check the waypoint: refused, unless --force.
			_, stderr, code := run(t, false, "enroll", "svc", "ratings", "-n", ns, "--waypoint", "shared", "--waypoint-namespace", infra, "--kubeconfig", kc)
			if code != ExitUsage || !strings.Contains(stderr, "cannot check waypoint "+infra+"/shared: cannot read waypoint "+infra+"/shared: forbidden") || !strings.Contains(stderr, "add --force to enroll without the check") {
				t.Fatalf("enroll without --force: exit %d, stderr %q", code, stderr)
			}
			if got := enrollment(t, "service", ns, "ratings"); got != "- -" {
				t.Fatalf("a refused enroll labelled the service: %q", got)
			}
			stdout, stderr, code := run(t, false, "enroll", "svc", "ratings", "-n", ns, "--waypoint", "shared", "--waypoint-namespace", infra, "--force", "--kubeconfig", kc)
			if code != 0 || !strings.Contains(stdout, "enrolled in waypoint "+infra+"/shared") ||
				!strings.HasPrefix(stderr, "Warning: cannot read waypoint "+infra+"/shared to check it (") || strings.Count(stderr, "\n") != 1 {
				t.Fatalf("enroll: exit %d, stderr %q", code, stderr)
			}
			env.WaitForCondition(t, testenv.ServiceResource, ns, "ratings", enroll.ConditionWaypointBound,
				func(c metav1.Condition) bool { return c.Status == metav1.ConditionTrue })
			stdout, stderr, code = run(t, false, "explain", "svc", "ratings", "-n", ns, "--kubeconfig", kc)
			if code != 0 || !strings.Contains(stdout, "uses waypoint "+infra+"/shared, says istiod") {
				t.Fatalf("explain: exit %d\n%s\n%s", code, stdout, stderr)
			}
			// (Nor may it list the policies of the waypoint's namespace.)
			lines := strings.Split(stderr, "\n")
			if len(lines) != 3 || lines[0] != "Warning: cannot read waypoint "+infra+"/shared (forbidden): took istiod's istio.io/WaypointBound condition as the answer" ||
				!strings.HasPrefix(lines[1], "Warning: cannot list the L7 policies on its traffic: ") {
				t.Errorf("explain: stderr %q\n%s", stderr, stdout)
			}
			// A pod gets no condition from istiod: the answer comes from
			// its labels, with a warning, not a failure.
			env.Pod(t, ns, "ratings-v1", map[string]string{"app": "ratings",
				"istio.io/use-waypoint": "shared", "istio.io/use-waypoint-namespace": infra})
			stdout, stderr, code = run(t, false, "explain", "pod", "ratings-v1", "-n", ns, "--kubeconfig", kc)
			wantWarn := "Warning: cannot read waypoint " + infra + "/shared (forbidden): answered from the labels alone; whether the waypoint takes this traffic was not checked\n"
			if code != 0 || !strings.Contains(stdout, "names waypoint "+infra+"/shared, which you may not read") || stderr != wantWarn {
				t.Errorf("explain pod: exit %d\nstdout:\n%s\nstderr: %q", code, stdout, stderr)
			}
		})
		t.Run("without patch on services", func(t *testing.T) {
			kc := env.UserWithRole(t, "rbac-app-nopatch", withoutVerb(t, rules, "", "services", "patch"), ns)
			forbiddenAs(t, kc, "label service "+ns+"/reviews", "enroll", "svc", "reviews", "-n", ns, "--waypoint", "waypoint")
		})
		t.Run("without the class reader", func(t *testing.T) {
			kc := env.UserWithRole(t, "rbac-app-noclass", rules, ns)
			// The class is not read: a warning, and the enrollment is done.
			_, stderr := asUser(t, kc, "enrolled in waypoint", "enroll", "svc", "reviews", "-n", ns, "--waypoint", "waypoint")
			want := "Warning: cannot read GatewayClass istio-waypoint (forbidden): assumed it sets no traffic type or inbound binding of its own\n"
			if stderr != want {
				t.Errorf("enroll: stderr %q", stderr)
			}
			if _, stderr = asUser(t, kc, "WaypointAccepted", "explain", "svc", "reviews", "-n", ns); stderr != want {
				t.Errorf("explain: stderr %q", stderr)
			}
			// list reads the class for the traffic type and the inbound
			// binding: it says what it assumed, as enroll does.
			if _, stderr = asUser(t, kc, "waypoint", "list", "-n", ns); stderr != want {
				t.Errorf("list: stderr %q", stderr)
			}
		})
	})

	t.Run("CI pipeline", func(t *testing.T) {
		t.Parallel()
		team := "rbac-ci"
		a := env.Namespace(t, map[string]string{"team": team, testenv.DataplaneModeLabel: testenv.DataplaneModeAmbient})
		env.Namespace(t, map[string]string{"team": team, testenv.DataplaneModeLabel: testenv.DataplaneModeAmbient})
		env.Service(t, a, "reviews", map[string]string{"istio.io/use-waypoint": "waypoint"})
		rules := roles["waypoint-ci"]
		kc := env.UserWithRole(t, "rbac-ci", rules, "")

		asUser(t, kc, "2 namespaces: 2 enrolled", "apply", "--namespace-selector", "team="+team, "--enroll-namespace", "--wait", "--timeout", "60s")
		asUser(t, kc, "2 unchanged", "enroll", "ns", "--namespace-selector", "team="+team, "--waypoint", "waypoint")
		t.Run("without list on namespaces", func(t *testing.T) {
			kc := env.UserWithRole(t, "rbac-ci-nolist", withoutVerb(t, rules, "", "namespaces", "list"), "")
			forbiddenAs(t, kc, "list namespaces matching team="+team, "apply", "--namespace-selector", "team="+team)
		})
		t.Run("without delete on gateways", func(t *testing.T) {
			kc := env.UserWithRole(t, "rbac-ci-nodelete", withoutVerb(t, rules, "gateway.networking.k8s.io", "gateways", "delete"), "")
			forbiddenAs(t, kc, "delete waypoint "+a+"/waypoint", "delete", "waypoint", "-n", a)
		})
		stdout, stderr := asUser(t, kc, "2 gateways: 2 deleted", "delete", "--all", "--namespace-selector", "team="+team)
		// It may read, not change, the team's service: delete names it.
		if !strings.Contains(stderr, "kubectl label service reviews -n "+a) {
			t.Errorf("delete did not name the service still enrolled:\n%s\n%s", stdout, stderr)
		}
		asUser(t, kc, "namespaces: 2 unenrolled", "unenroll", "ns", "--namespace-selector", "team="+team)

	})
}

// sidecarDeployment creates a Deployment, its ReplicaSet and one pod that
// runs a sidecar, owned as the controllers leave them (none runs here),
// and returns the pod's name.
func sidecarDeployment(t *testing.T, ns, name string, labels map[string]string) string {
	t.Helper()
	c := context.Background()
	replicas := int32(1)
	template := corev1.PodTemplateSpec{ObjectMeta: metav1.ObjectMeta{Labels: labels},
		Spec: corev1.PodSpec{Containers: []corev1.Container{{Name: "app", Image: "registry.k8s.io/pause:3.10"}}}}
	dep, err := env.Kube.AppsV1().Deployments(ns).Create(c, &appsv1.Deployment{
		ObjectMeta: metav1.ObjectMeta{Name: name, Namespace: ns},
		Spec:       appsv1.DeploymentSpec{Replicas: &replicas, Selector: &metav1.LabelSelector{MatchLabels: labels}, Template: template},
	}, metav1.CreateOptions{})
	if err != nil {
		t.Fatal(err)
	}
	yes := true
	rs, err := env.Kube.AppsV1().ReplicaSets(ns).Create(c, &appsv1.ReplicaSet{
		ObjectMeta: metav1.ObjectMeta{Name: name + "-abc", Namespace: ns, Labels: labels,
			OwnerReferences: []metav1.OwnerReference{{APIVersion: "apps/v1", Kind: "Deployment", Name: dep.Name, UID: dep.UID, Controller: &yes}}},
		Spec: appsv1.ReplicaSetSpec{Replicas: &replicas, Selector: &metav1.LabelSelector{MatchLabels: labels}, Template: template},
	}, metav1.CreateOptions{})
	if err != nil {
		t.Fatal(err)
	}
	// The injector labels the pods it injects with security.istio.io/tlsMode.
	podLabels := maps.Clone(labels)
	podLabels["security.istio.io/tlsMode"] = "istio"
	pod, err := env.Kube.CoreV1().Pods(ns).Create(c, &corev1.Pod{
		ObjectMeta: metav1.ObjectMeta{Name: rs.Name + "-x", Namespace: ns, Labels: podLabels,
			Annotations:     map[string]string{"sidecar.istio.io/status": `{"containers":["istio-proxy"]}`},
			OwnerReferences: []metav1.OwnerReference{{APIVersion: "apps/v1", Kind: "ReplicaSet", Name: rs.Name, UID: rs.UID, Controller: &yes}}},
		Spec: corev1.PodSpec{Containers: append(template.Spec.Containers, corev1.Container{Name: "istio-proxy", Image: "docker.io/istio/proxyv2:1.31.1"})},
	}, metav1.CreateOptions{})
	if err != nil {
		t.Fatal(err)
	}
	return pod.Name
}
