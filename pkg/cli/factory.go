package cli

import (
	"sync"

	"k8s.io/cli-runtime/pkg/genericclioptions"
	"k8s.io/client-go/rest"

	"github.com/kubectl-waypoint/kubectl-waypoint/pkg/kube"
)

// Factory gives commands what they need from their environment: streams, the
// kubectl connection flags, and clients built lazily from those flags, so that
// a command that needs no cluster (generate, version) never reads a
// kubeconfig.
type Factory struct {
	IO          *IOStreams
	ConfigFlags *genericclioptions.ConfigFlags
	// Name is how the tool is invoked, "kubectl-waypoint" or "kubectl waypoint".
	Name string

	// NewClients builds the clients from a REST config; tests may replace it.
	NewClients func(*rest.Config) (*kube.Clients, error)

	// started is set once cobra has accepted the command line.
	started bool

	once    sync.Once
	clients *kube.Clients
	err     error
}

// NewFactory returns a factory over the given streams with kubectl's
// connection flags.
func NewFactory(streams *IOStreams, name string) *Factory {
	return &Factory{
		IO:          streams,
		ConfigFlags: genericclioptions.NewConfigFlags(true),
		Name:        name,
		NewClients:  kube.NewClients,
	}
}

// FlagNamespace is the value of -n/--namespace as given, or "" when it was not.
func (f *Factory) FlagNamespace() string {
	if f.ConfigFlags.Namespace == nil {
		return ""
	}
	return *f.ConfigFlags.Namespace
}

// Namespace is the namespace to work in: -n if given, else the current
// context's namespace, else "default".
func (f *Factory) Namespace() (string, error) {
	ns, _, err := f.ConfigFlags.ToRawKubeConfigLoader().Namespace()
	return ns, err
}

// Clients returns the API clients, building them on first use.
func (f *Factory) Clients() (*kube.Clients, error) {
	f.once.Do(func() {
		var cfg *rest.Config
		cfg, f.err = f.ConfigFlags.ToRESTConfig()
		if f.err != nil {
			return
		}
		f.clients, f.err = f.NewClients(cfg)
	})
	return f.clients, f.err
}
