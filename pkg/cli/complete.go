package cli

import (
	"context"
	"slices"
	"sort"
	"strings"
	"time"

	"github.com/spf13/cobra"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/kubectl-waypoint/kubectl-waypoint/pkg/enroll"
	"github.com/kubectl-waypoint/kubectl-waypoint/pkg/istio"
	"github.com/kubectl-waypoint/kubectl-waypoint/pkg/waypoint"
)

// Dynamic shell completion: names read from the cluster and the kubeconfig.
// A completion that cannot reach the cluster offers nothing rather than an
// error, as kubectl does.

// completionTimeout bounds the API requests of one completion, so that a
// TAB on an unreachable cluster does not hang the shell.
const completionTimeout = 5 * time.Second

// completer lists names for the shell.
type completer struct{ f *Factory }

func noFiles(names []string) ([]string, cobra.ShellCompDirective) {
	return names, cobra.ShellCompDirectiveNoFileComp
}

// namespace is the namespace a completion lists in: the first -n, else the
// kubeconfig's.
func (c completer) namespace() string {
	if ns := c.f.FlagNamespace(); ns != "" {
		return ns
	}
	ns, _, err := c.f.ConfigFlags.ToRawKubeConfigLoader().Namespace()
	if err != nil {
		return "default"
	}
	return ns
}

// namespaces lists every namespace's name.
func (c completer) namespaces(toComplete string) []string {
	return c.names(toComplete, enroll.KindNamespace, "")
}

// names lists the names of the objects of kind in namespace ns.
func (c completer) names(toComplete string, kind enroll.Kind, ns string) []string {
	clients, err := c.f.Clients()
	if err != nil {
		return nil
	}
	ctx, cancel := context.WithTimeout(context.Background(), completionTimeout)
	defer cancel()
	if !kind.Namespaced() {
		ns = ""
	}
	list, err := clients.Metadata.Resource(kind.GVR()).Namespace(ns).List(ctx, metav1.ListOptions{})
	if err != nil {
		return nil
	}
	var out []string
	for _, m := range list.Items {
		if strings.HasPrefix(m.Name, toComplete) {
			out = append(out, m.Name)
		}
	}
	sort.Strings(out)
	return out
}

// waypoints lists the names of the waypoints in namespace ns.
func (c completer) waypoints(toComplete, ns string) []string {
	clients, err := c.f.Clients()
	if err != nil {
		return nil
	}
	ctx, cancel := context.WithTimeout(context.Background(), completionTimeout)
	defer cancel()
	wps, _, err := waypoint.List(ctx, clients.Gateway, waypoint.ListOptions{Namespace: ns, SkipClasses: true})
	if err != nil {
		return nil
	}
	var out []string
	for _, w := range wps {
		if strings.HasPrefix(w.Name, toComplete) {
			out = append(out, w.Name)
		}
	}
	sort.Strings(out)
	return out
}

// kubeconfig lists the names of the kubeconfig's contexts, clusters or users.
func (c completer) kubeconfig(what, toComplete string) []string {
	cfg, err := c.f.ConfigFlags.ToRawKubeConfigLoader().RawConfig()
	if err != nil {
		return nil
	}
	var out []string
	add := func(name string) {
		if strings.HasPrefix(name, toComplete) {
			out = append(out, name)
		}
	}
	switch what {
	case "context":
		for name := range cfg.Contexts {
			add(name)
		}
	case "cluster":
		for name := range cfg.Clusters {
			add(name)
		}
	case "user":
		for name := range cfg.AuthInfos {
			add(name)
		}
	}
	sort.Strings(out)
	return out
}

// registerRootCompletions completes the global flags that name something in
// the cluster or the kubeconfig.
func registerRootCompletions(root *cobra.Command, f *Factory) {
	c := completer{f}
	_ = root.RegisterFlagCompletionFunc("namespace", func(_ *cobra.Command, _ []string, toComplete string) ([]string, cobra.ShellCompDirective) {
		return noFiles(c.namespaces(toComplete))
	})
	// --context takes several, separated by commas: complete the last.
	_ = root.RegisterFlagCompletionFunc("context", func(_ *cobra.Command, _ []string, toComplete string) ([]string, cobra.ShellCompDirective) {
		i := strings.LastIndex(toComplete, ",")
		done := strings.Split(toComplete[:i+1], ",")
		var out []string
		for _, name := range c.kubeconfig("context", toComplete[i+1:]) {
			if !slices.Contains(done, name) {
				out = append(out, toComplete[:i+1]+name)
			}
		}
		return noFiles(out)
	})
	for _, flag := range []string{"cluster", "user"} {
		_ = root.RegisterFlagCompletionFunc(flag, func(_ *cobra.Command, _ []string, toComplete string) ([]string, cobra.ShellCompDirective) {
			return noFiles(c.kubeconfig(flag, toComplete))
		})
	}
}

// completeWaypointArgs completes waypoint names as arguments (delete,
// status), leaving out those already given.
func completeWaypointArgs(f *Factory) cobra.CompletionFunc {
	return func(_ *cobra.Command, args []string, toComplete string) ([]string, cobra.ShellCompDirective) {
		c := completer{f}
		var out []string
		for _, n := range c.waypoints(toComplete, c.namespace()) {
			if !slices.Contains(args, n) {
				out = append(out, n)
			}
		}
		return noFiles(out)
	}
}

// completeWaypointFlag completes a flag that names a waypoint, in the
// namespace named by the flag nsFlag when it is set, else in the command's.
func completeWaypointFlag(f *Factory, nsFlag string) cobra.CompletionFunc {
	return func(cmd *cobra.Command, _ []string, toComplete string) ([]string, cobra.ShellCompDirective) {
		c := completer{f}
		ns := c.namespace()
		if nsFlag != "" {
			if v, err := cmd.Flags().GetString(nsFlag); err == nil && v != "" {
				ns = v
			}
		}
		names := c.waypoints(toComplete, ns)
		if strings.HasPrefix(istio.NoWaypoint, toComplete) && nsFlag != "" {
			names = append(names, istio.NoWaypoint)
		}
		return noFiles(names)
	}
}

// completeNamespaceFlag completes a flag that names namespaces.
func completeNamespaceFlag(f *Factory) cobra.CompletionFunc {
	return func(_ *cobra.Command, _ []string, toComplete string) ([]string, cobra.ShellCompDirective) {
		return noFiles(completer{f}.namespaces(toComplete))
	}
}

// completeKindAndNames completes the kind (the first argument) and then the
// names of that kind in the command's namespace; more names follow unless
// single. Waypoint is a kind only explain knows.
func completeKindAndNames(f *Factory, kinds []string, single bool) cobra.CompletionFunc {
	return func(_ *cobra.Command, args []string, toComplete string) ([]string, cobra.ShellCompDirective) {
		if len(args) == 0 {
			return noFiles(kinds)
		}
		if single && len(args) > 1 {
			return noFiles(nil)
		}
		c := completer{f}
		var names []string
		if args[0] == "waypoint" {
			names = c.waypoints(toComplete, c.namespace())
		} else {
			kind, err := enroll.ParseKind(args[0])
			if err != nil {
				return noFiles(nil)
			}
			names = c.names(toComplete, kind, c.namespace())
		}
		var out []string
		for _, n := range names {
			if !slices.Contains(args[1:], n) {
				out = append(out, n)
			}
		}
		return noFiles(out)
	}
}
