package cli

import (
	"strings"

	"github.com/spf13/cobra"

	"github.com/kubectl-waypoint/kubectl-waypoint/pkg/istio"
	"github.com/kubectl-waypoint/kubectl-waypoint/pkg/render"
)

// gatewayFlags are the flags that shape the waypoint Gateway. generate and
// apply share them, and both hand them to the one renderer.
type gatewayFlags struct {
	name                   string
	trafficType            string
	revision               string
	allowNamespaces        []string
	allowNamespaceSelector string
	allowAllNamespaces     bool
}

func (g *gatewayFlags) addFlags(cmd *cobra.Command, f *Factory) {
	fs := cmd.Flags()
	fs.StringVar(&g.name, "name", istio.DefaultWaypointName, `Name of the waypoint ("none" is reserved)`)
	fs.StringVar(&g.trafficType, "for", "", "Traffic type the waypoint serves: {service|workload|all|none}; when unset, istiod uses the GatewayClass default (service)")
	fs.StringVarP(&g.revision, "revision", "r", "", "Istio control-plane revision to label the waypoint with (istio.io/rev)")
	fs.StringSliceVar(&g.allowNamespaces, "allow-namespace", nil, "Namespace whose resources may use this waypoint (repeatable or comma-separated)")
	fs.StringVar(&g.allowNamespaceSelector, "allow-namespace-selector", "", "Label selector (kubectl syntax) over the namespaces whose resources may use this waypoint")
	fs.BoolVar(&g.allowAllNamespaces, "allow-all-namespaces", false, "Let resources of every namespace use this waypoint")
	_ = cmd.RegisterFlagCompletionFunc("for", cobra.FixedCompletions(trafficTypeNames(), cobra.ShellCompDirectiveNoFileComp))
	_ = cmd.RegisterFlagCompletionFunc("allow-namespace", completeNamespaceFlag(f))
}

// request is the renderer's request for these flags in namespace ns ("" for
// none).
func (g *gatewayFlags) request(ns string) render.Request {
	return render.Request{
		Name:                   g.name,
		Namespace:              ns,
		For:                    g.trafficType,
		Revision:               g.revision,
		AllowNamespaces:        g.allowNamespaces,
		AllowNamespaceSelector: g.allowNamespaceSelector,
		AllowAllNamespaces:     g.allowAllNamespaces,
	}
}

func trafficTypeNames() []string {
	names := make([]string, len(istio.TrafficTypes))
	for i, t := range istio.TrafficTypes {
		names[i] = string(t)
	}
	return names
}

// examples turns an example block written for "kubectl-waypoint" into one for
// the name the tool runs under, indented as cobra expects.
func examples(name, text string) string {
	text = strings.ReplaceAll(strings.TrimSpace(text), "kubectl-waypoint", name)
	lines := strings.Split(text, "\n")
	for i, l := range lines {
		if l != "" {
			lines[i] = "  " + l
		}
	}
	return strings.Join(lines, "\n")
}
