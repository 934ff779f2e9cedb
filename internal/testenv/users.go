package testenv

import (
	"context"
	"fmt"
	"os"
	"testing"
	"time"

	authorizationv1 "k8s.io/api/authorization/v1"
	rbacv1 "k8s.io/api/rbac/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/util/wait"
	"k8s.io/client-go/rest"
	"k8s.io/client-go/tools/clientcmd"
	clientcmdapi "k8s.io/client-go/tools/clientcmd/api"

	"sigs.k8s.io/controller-runtime/pkg/envtest"
)

// UserWithRole provisions a user called name (a client certificate, no
// groups beyond system:authenticated) that may do exactly what rules allow:
// in namespace through a Role and RoleBinding, or cluster-wide through a
// ClusterRole and ClusterRoleBinding when namespace is "". It waits until the
// API server authorizes the rules, removes the RBAC objects when the test
// ends, and returns the path of a kubeconfig for the user, for exec'd
// binaries and for commands built with --kubeconfig. UserConfig gives a
// *rest.Config instead.
//
// Use a distinct name per test: bindings add up for a user.
func (e *Env) UserWithRole(t testing.TB, name string, rules []rbacv1.PolicyRule, namespace string) string {
	t.Helper()
	cfg := e.UserConfig(t, name, rules, namespace)
	path, err := e.writeKubeconfig(name, cfg, "")
	if err != nil {
		t.Fatalf("writing the kubeconfig of user %s: %v", name, err)
	}
	return path
}

// UserConfig is UserWithRole returning a *rest.Config for the user.
func (e *Env) UserConfig(t testing.TB, name string, rules []rbacv1.PolicyRule, namespace string) *rest.Config {
	t.Helper()
	user, err := e.env.AddUser(envtest.User{Name: name}, e.baseConfig())
	if err != nil {
		t.Fatalf("provisioning user %s: %v", name, err)
	}
	e.bindRules(t, name, rules, namespace)
	return user.Config()
}

// baseConfig is the admin config without credentials.
func (e *Env) baseConfig() *rest.Config {
	return &rest.Config{QPS: e.Config.QPS, Burst: e.Config.Burst}
}

func (e *Env) bindRules(t testing.TB, user string, rules []rbacv1.PolicyRule, namespace string) {
	t.Helper()
	rbac := e.Kube.RbacV1()
	meta := metav1.ObjectMeta{GenerateName: "testenv-" + user + "-", Labels: map[string]string{"testenv.kubectl-waypoint.io/user": user}}
	subjects := []rbacv1.Subject{{Kind: rbacv1.UserKind, APIGroup: rbacv1.GroupName, Name: user}}
	if namespace == "" {
		role, err := rbac.ClusterRoles().Create(ctx(t), &rbacv1.ClusterRole{ObjectMeta: meta, Rules: rules}, metav1.CreateOptions{})
		if err != nil {
			t.Fatalf("creating the cluster role of user %s: %v", user, err)
		}
		t.Cleanup(func() {
			e.cleanup(t, "clusterrole", "", role.Name, func(c context.Context) error {
				return rbac.ClusterRoles().Delete(c, role.Name, metav1.DeleteOptions{})
			})
		})
		binding, err := rbac.ClusterRoleBindings().Create(ctx(t), &rbacv1.ClusterRoleBinding{
			ObjectMeta: meta,
			RoleRef:    rbacv1.RoleRef{APIGroup: rbacv1.GroupName, Kind: "ClusterRole", Name: role.Name},
			Subjects:   subjects,
		}, metav1.CreateOptions{})
		if err != nil {
			t.Fatalf("creating the cluster role binding of user %s: %v", user, err)
		}
		t.Cleanup(func() {
			e.cleanup(t, "clusterrolebinding", "", binding.Name, func(c context.Context) error {
				return rbac.ClusterRoleBindings().Delete(c, binding.Name, metav1.DeleteOptions{})
			})
		})
	} else {
		meta.Namespace = namespace
		role, err := rbac.Roles(namespace).Create(ctx(t), &rbacv1.Role{ObjectMeta: meta, Rules: rules}, metav1.CreateOptions{})
		if err != nil {
			t.Fatalf("creating the role of user %s in %s: %v", user, namespace, err)
		}
		t.Cleanup(func() {
			e.cleanup(t, "role", namespace, role.Name, func(c context.Context) error {
				return rbac.Roles(namespace).Delete(c, role.Name, metav1.DeleteOptions{})
			})
		})
		binding, err := rbac.RoleBindings(namespace).Create(ctx(t), &rbacv1.RoleBinding{
			ObjectMeta: meta,
			RoleRef:    rbacv1.RoleRef{APIGroup: rbacv1.GroupName, Kind: "Role", Name: role.Name},
			Subjects:   subjects,
		}, metav1.CreateOptions{})
		if err != nil {
			t.Fatalf("creating the role binding of user %s in %s: %v", user, namespace, err)
		}
		t.Cleanup(func() {
			e.cleanup(t, "rolebinding", namespace, binding.Name, func(c context.Context) error {
				return rbac.RoleBindings(namespace).Delete(c, binding.Name, metav1.DeleteOptions{})
			})
		})
	}
	if err := e.waitAuthorized(ctx(t), user, rules, namespace); err != nil {
		t.Fatalf("waiting for the rules of user %s to take effect: %v", user, err)
	}
}

// waitAuthorized waits until the authorizer, which learns of RBAC objects
// through a watch, allows the first verb on the first resource of each rule.
func (e *Env) waitAuthorized(c context.Context, user string, rules []rbacv1.PolicyRule, namespace string) error {
	var reviews []authorizationv1.SubjectAccessReviewSpec
	for _, r := range rules {
		if len(r.Verbs) == 0 {
			continue
		}
		spec := authorizationv1.SubjectAccessReviewSpec{User: user, Groups: []string{"system:authenticated"}}
		switch {
		case len(r.NonResourceURLs) > 0:
			spec.NonResourceAttributes = &authorizationv1.NonResourceAttributes{Path: r.NonResourceURLs[0], Verb: r.Verbs[0]}
		case len(r.Resources) > 0 && len(r.APIGroups) > 0:
			attrs := &authorizationv1.ResourceAttributes{Namespace: namespace, Verb: r.Verbs[0], Group: r.APIGroups[0], Resource: r.Resources[0]}
			if len(r.ResourceNames) > 0 {
				attrs.Name = r.ResourceNames[0]
			}
			spec.ResourceAttributes = attrs
		default:
			continue
		}
		reviews = append(reviews, spec)
	}
	for _, spec := range reviews {
		err := wait.PollUntilContextTimeout(c, 20*time.Millisecond, 10*time.Second, true, func(c context.Context) (bool, error) {
			review, err := e.Kube.AuthorizationV1().SubjectAccessReviews().Create(c,
				&authorizationv1.SubjectAccessReview{Spec: spec}, metav1.CreateOptions{})
			if err != nil {
				return false, err
			}
			return review.Status.Allowed, nil
		})
		if err != nil {
			return fmt.Errorf("%+v: %w", spec, err)
		}
	}
	return nil
}

// KubeconfigWithNamespace returns the path of an admin kubeconfig whose
// context sets namespace, as `kubectl config set-context --current
// --namespace` would.
func (e *Env) KubeconfigWithNamespace(t testing.TB, namespace string) string {
	t.Helper()
	path, err := e.writeKubeconfig("admin", e.Config, namespace)
	if err != nil {
		t.Fatalf("writing a kubeconfig: %v", err)
	}
	return path
}

// WriteKubeconfig writes the admin kubeconfig to path, for the sandbox.
func (e *Env) WriteKubeconfig(path, namespace string) error {
	return writeKubeconfigFile(path, "admin", e.Config, namespace)
}

// writeKubeconfig writes a kubeconfig for cfg into the Env's directory.
func (e *Env) writeKubeconfig(user string, cfg *rest.Config, namespace string) (string, error) {
	path := e.file("kubeconfig-"+user, ".yaml")
	return path, writeKubeconfigFile(path, user, cfg, namespace)
}

func writeKubeconfigFile(path, user string, cfg *rest.Config, namespace string) error {
	const cluster = "testenv"
	kc := clientcmdapi.NewConfig()
	kc.Clusters[cluster] = &clientcmdapi.Cluster{Server: cfg.Host, CertificateAuthorityData: cfg.CAData}
	kc.AuthInfos[user] = &clientcmdapi.AuthInfo{ClientCertificateData: cfg.CertData, ClientKeyData: cfg.KeyData, Token: cfg.BearerToken}
	kc.Contexts[user+"@"+cluster] = &clientcmdapi.Context{Cluster: cluster, AuthInfo: user, Namespace: namespace}
	kc.CurrentContext = user + "@" + cluster
	data, err := clientcmd.Write(*kc)
	if err != nil {
		return fmt.Errorf("encoding kubeconfig: %w", err)
	}
	if err := os.WriteFile(path, data, 0o600); err != nil {
		return fmt.Errorf("writing kubeconfig: %w", err)
	}
	return nil
}
