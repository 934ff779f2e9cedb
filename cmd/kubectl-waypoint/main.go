// Command kubectl-waypoint manages Istio ambient waypoint proxies. It runs
// standalone or as the kubectl plugin "kubectl waypoint".
package main

import (
	"os"

	// Exec, OIDC and the cloud providers' kubeconfig auth plugins.
	_ "k8s.io/client-go/plugin/pkg/client/auth"

	"github.com/kubectl-waypoint/kubectl-waypoint/internal/startup"
	"github.com/kubectl-waypoint/kubectl-waypoint/pkg/cli"
)

func main() {
	startup.Done()
	f := cli.NewFactory(cli.SystemStreams(), cli.DisplayName(os.Args[0]))
	os.Exit(cli.Execute(f, os.Args[1:]))
}
