// Command kubectl-waypoint manages Istio ambient waypoint proxies. It runs
// standalone or as the kubectl plugin "kubectl waypoint".
package main

import (
	"io"
	"os"

	"k8s.io/klog/v2"

	// Exec, OIDC and the cloud providers' kubeconfig auth plugins.
	_ "k8s.io/client-go/plugin/pkg/client/auth"

	"github.com/kubectl-waypoint/kubectl-waypoint/internal/interrupt"
	"github.com/kubectl-waypoint/kubectl-waypoint/internal/startup"
	"github.com/kubectl-waypoint/kubectl-waypoint/pkg/cli"
)

func main() {
	startup.Done()
	// client-go logs through klog, e.g. each failed watch retry; the tool
	// reports faults itself, as one line.
	klog.LogToStderr(false)
	klog.SetOutput(io.Discard)
	f := cli.NewFactory(cli.SystemStreams(), cli.DisplayName(os.Args[0]))
	ctx, stop := interrupt.Context(os.Stderr)
	code := cli.ExecuteContext(ctx, f, os.Args[1:])
	stop()
	os.Exit(code)
}
