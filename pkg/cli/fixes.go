package cli

import (
	"fmt"
	"sort"
	"strings"

	gatewayv1 "sigs.k8s.io/gateway-api/apis/v1"

	"github.com/kubectl-waypoint/kubectl-waypoint/pkg/enroll"
	"github.com/kubectl-waypoint/kubectl-waypoint/pkg/istio"
	"github.com/kubectl-waypoint/kubectl-waypoint/pkg/mesh"
)

// The commands that enroll and explain suggest as fixes.

// attachmentFix says how to let the denied namespaces use waypoint w:
// label them to match a matchLabels selector, or re-apply the waypoint
// with --allow-namespace for them (and those it allows by name already).
// A selector on kubernetes.io/metadata.name, as --allow-namespace renders
// it, is never answered with a label: the API server sets that label to the
// namespace's own name and refuses any other value.
func attachmentFix(tool string, w *mesh.Waypoint, denied []string) string {
	names, byName := w.AllowedNames()
	if labels, ok := w.MatchLabels(); ok && !byName {
		if _, ok := labels[istio.LabelNamespaceName]; !ok {
			return "label the namespace so that the selector matches it:\n  " + labelNamespaceCommand(denied, labels)
		}
	}
	if !byName && w.From == gatewayv1.NamespacesFromSelector {
		// Re-rendering a selector of other labels as names would change
		// which namespaces it admits: leave that to the user.
		return fmt.Sprintf("edit the Gateway's allowedRoutes.namespaces.selector to admit namespace %s: kubectl edit gateway -n %s %s", strings.Join(denied, ", "), w.Namespace, w.Name)
	}
	allow := append(append([]string{}, names...), denied...)
	sort.Strings(allow)
	if cmd, ok := applyCommand(tool, w, func(a *applyArgs) { a.allowAll, a.allowSelector, a.allowNamespaces = false, "", allow }); ok {
		return "to allow it, run:\n  " + cmd
	}
	return fmt.Sprintf("edit the Gateway's allowedRoutes.namespaces: kubectl edit gateway -n %s %s", w.Namespace, w.Name)
}

func trafficSource(w *mesh.Waypoint) string { return enroll.TrafficSource(w) }

// applyArgs are the flags of an apply command that renders a waypoint.
type applyArgs struct {
	namespace, name, forType, revision string
	// class is the waypoint's class, printed as --class unless it is
	// istio-waypoint, apply's default.
	class           string
	allowNamespaces []string
	allowSelector   string
	allowAll        bool
	// extra are more flags, after the others, as they are printed.
	extra []string
}

// applyCommand is the apply command that renders the waypoint of w as it
// is, changed by edit. ok is false when apply cannot render it (a class
// that is not a waypoint class).
func applyCommand(tool string, w *mesh.Waypoint, edit func(*applyArgs)) (string, bool) {
	if !istio.IsWaypointClass(w.Class) {
		return "", false
	}
	a := applyArgs{namespace: w.Namespace, name: w.Name, revision: w.Revision, class: w.Class}
	if w.TrafficTypeFrom == mesh.FromGateway {
		a.forType = string(w.TrafficType)
	}
	switch w.From {
	case gatewayv1.NamespacesFromAll:
		a.allowAll = true
	case gatewayv1.NamespacesFromSelector:
		if names, ok := w.AllowedNames(); ok {
			a.allowNamespaces = names
		} else {
			a.allowSelector = w.Selector()
		}
	}
	edit(&a)
	return formatApply(tool, a), true
}

// applyForMissing is the apply command that creates the waypoint ns/name
// so that resources of kind in the consumer namespaces can use it.
func applyForMissing(tool string, kind enroll.Kind, ns, name string, consumers []string) string {
	a := applyArgs{namespace: ns, name: name}
	if kind == enroll.KindPod {
		a.forType = string(istio.TrafficWorkload)
	}
	for _, c := range consumers {
		if c != ns {
			a.allowNamespaces = append(a.allowNamespaces, c)
		}
	}
	return formatApply(tool, a)
}

func formatApply(tool string, a applyArgs) string {
	parts := []string{tool, "apply", "-n", a.namespace}
	if a.name != istio.DefaultWaypointName {
		parts = append(parts, "--name", a.name)
	}
	if a.forType != "" {
		parts = append(parts, "--for", a.forType)
	}
	if a.revision != "" {
		parts = append(parts, "-r", a.revision)
	}
	if a.class != "" && a.class != istio.ClassWaypoint {
		parts = append(parts, "--class", a.class)
	}
	switch {
	case a.allowAll:
		parts = append(parts, "--allow-all-namespaces")
	case a.allowSelector != "":
		parts = append(parts, "--allow-namespace-selector", shellQuote(a.allowSelector))
	default:
		for _, n := range a.allowNamespaces {
			parts = append(parts, "--allow-namespace", n)
		}
	}
	parts = append(parts, a.extra...)
	return strings.Join(parts, " ")
}

func labelNamespaceCommand(namespaces []string, labels map[string]string) string {
	keys := make([]string, 0, len(labels))
	for k := range labels {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	parts := []string{"kubectl", "label", "namespace"}
	parts = append(parts, namespaces...)
	for _, k := range keys {
		parts = append(parts, shellQuote(k+"="+labels[k]))
	}
	return strings.Join(parts, " ")
}

// shellQuote quotes s for a POSIX shell when it holds anything but the
// characters of plain label keys and values.
func shellQuote(s string) string {
	if s != "" && strings.Trim(s, "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789-_./=") == "" {
		return s
	}
	return "'" + strings.ReplaceAll(s, "'", `'\''`) + "'"
}
