package cli

import (
	"fmt"
	"strings"

	"github.com/spf13/cobra"
	"github.com/spf13/pflag"

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
	infra                  render.Infrastructure
	class                  string

	fs *pflag.FlagSet
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
	fs.StringVar(&g.class, "class", istio.ClassWaypoint, "GatewayClass of the waypoint: {"+istio.ClassWaypoint+"|"+istio.ClassAgentgatewayWaypoint+"} (the second only where istiod serves it)")
	_ = cmd.RegisterFlagCompletionFunc("class", cobra.FixedCompletions([]string{istio.ClassWaypoint, istio.ClassAgentgatewayWaypoint}, cobra.ShellCompDirectiveNoFileComp))
	g.addInfraFlags(cmd)
	g.fs = fs
}

// addInfraFlags adds the flags that size and place the waypoint's
// Deployment through istiod's parameters (docs/production.md).
func (g *gatewayFlags) addInfraFlags(cmd *cobra.Command) {
	addSizingFlags(cmd, &g.infra)
	fs := cmd.Flags()
	in := &g.infra
	fs.StringArrayVar(&in.Labels, "infra-label", nil, "Label, key=value, that istiod puts on the waypoint's Deployment, pods and Service (spec.infrastructure.labels; repeatable)")
	fs.StringArrayVar(&in.Annotations, "infra-annotation", nil, "Annotation, key=value, that istiod puts on the waypoint's Deployment, pods and Service (spec.infrastructure.annotations; repeatable)")
	fs.StringVar(&in.Parameters, "parameters", "", "Use this ConfigMap of the waypoint's namespace as istiod's parameters, as it is (never changed or deleted)")
}

// addSizingFlags adds the flags that become overlays of istiod's
// parameters: apply's and generate's for one waypoint, defaults' for a
// class.
func addSizingFlags(cmd *cobra.Command, in *render.Infrastructure) {
	fs := cmd.Flags()
	fs.Int32Var(&in.Replicas, "replicas", 0, "Replicas of the waypoint's Deployment (default: istiod's, 1)")
	fs.Int32Var(&in.MinReplicas, "min-replicas", 0, "With --max-replicas: the autoscaler's lower bound (default 1)")
	fs.Int32Var(&in.MaxReplicas, "max-replicas", 0, "Autoscale the waypoint's Deployment up to this many replicas (a HorizontalPodAutoscaler)")
	fs.Int32Var(&in.CPUPercent, "cpu-percent", 0, "With --max-replicas: the average CPU use, in percent of the request, that the autoscaler aims at (default: the cluster's, 80)")
	fs.StringVar(&in.MinAvailable, "min-available", "", "A PodDisruptionBudget: waypoint pods that must stay up during voluntary evictions (number or percentage)")
	fs.StringVar(&in.MaxUnavailable, "max-unavailable", "", "A PodDisruptionBudget: waypoint pods that may be down during voluntary evictions (number or percentage)")
	fs.StringVar(&in.Requests, "requests", "", "Resource requests of the proxy container, such as cpu=100m,memory=128Mi")
	fs.StringVar(&in.Limits, "limits", "", "Resource limits of the proxy container, such as cpu=1,memory=512Mi")
	fs.StringVar(&in.NodeSelector, "node-selector", "", "Node labels the waypoint's pods must run on, such as pool=waypoints")
	fs.StringArrayVar(&in.Tolerations, "toleration", nil, "Taint the waypoint's pods tolerate, as key[=value][:effect] (repeatable)")
	fs.StringVar(&in.Spread, "topology-spread", "", "Spread the waypoint's pods over: {zone|node}")
	fs.StringVar(&in.ProxyImage, "proxy-image", "", "Image of the waypoint's proxy container, instead of istiod's")
	_ = cmd.RegisterFlagCompletionFunc("topology-spread", cobra.FixedCompletions([]string{render.SpreadZone, render.SpreadNode}, cobra.ShellCompDirectiveNoFileComp))
}

// zeroCounts refuses a count flag given as 0: 0 replicas would stop every
// enrolled service's traffic, and 0 elsewhere means "not asked for".
func zeroCounts(fs *pflag.FlagSet) error {
	for _, name := range []string{"replicas", "min-replicas", "max-replicas", "cpu-percent"} {
		if f := fs.Lookup(name); f != nil && f.Changed && f.Value.String() == "0" {
			return fmt.Errorf("invalid --%s 0: must be at least 1", name)
		}
	}
	return nil
}

// validate checks the flags as the renderer does, and refuses a count
// given as 0: 0 replicas would stop every enrolled service's traffic.
func (g *gatewayFlags) validate() error {
	if g.fs != nil {
		if err := zeroCounts(g.fs); err != nil {
			return err
		}
	}
	return g.request("").Validate()
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
		Infra:                  g.infra,
		Class:                  g.class,
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
