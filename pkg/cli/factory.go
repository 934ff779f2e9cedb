package cli

import (
	"context"
	"fmt"
	"slices"
	"strconv"
	"sync"
	"time"

	"github.com/spf13/pflag"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/util/validation"
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

	// namespaces are the values of -n/--namespace: kubectl's flag, which
	// here may be repeated or hold a comma-separated list for bulk work.
	namespaces []string
	qps        float32
	burst      int

	// started is set once cobra has accepted the command line.
	started bool

	once    sync.Once
	clients *kube.Clients
	err     error
}

// NewFactory returns a factory over the given streams with kubectl's
// connection flags.
func NewFactory(streams *IOStreams, name string) *Factory {
	flags := genericclioptions.NewConfigFlags(true)
	// -n is ours: the same flag, but it takes several namespaces.
	flags.Namespace = nil
	return &Factory{
		IO:          streams,
		ConfigFlags: flags,
		Name:        name,
		NewClients:  kube.NewClients,
	}
}

// addFlags adds kubectl's connection flags and ours to the root command.
func (f *Factory) addFlags(fs *pflag.FlagSet) {
	f.ConfigFlags.AddFlags(fs)
	fs.StringSliceVarP(&f.namespaces, "namespace", "n", nil, "If present, the namespace scope for this CLI request; apply, delete, enroll and unenroll take several (repeat the flag or separate with commas)")
	fs.Float32Var(&f.qps, "qps", 1000, "Requests per second the client may send to the API server (its own API Priority and Fairness still applies)")
	fs.IntVar(&f.burst, "burst", 2000, "Requests the client may send at once above --qps")
}

// validateFlags checks the connection flags that would otherwise fail only
// once a client is built.
func (f *Factory) validateFlags() error {
	if t := f.ConfigFlags.Timeout; t != nil && *t != "" && *t != "0" {
		if _, err := strconv.Atoi(*t); err != nil {
			if _, err := time.ParseDuration(*t); err != nil {
				return usageErrorf("invalid --request-timeout %q: must be a duration such as 30s or 1m, or 0 for none", *t)
			}
		}
	}
	if f.qps <= 0 || f.burst <= 0 {
		return usageErrorf("invalid --qps %v or --burst %d: both must be positive", f.qps, f.burst)
	}
	return nil
}

// FlagNamespace is the value of -n/--namespace as given, or "" when it was not.
func (f *Factory) FlagNamespace() string {
	if len(f.namespaces) == 0 {
		return ""
	}
	return f.namespaces[0]
}

// checkNamespaces validates the -n values; single says the command takes
// only one.
func (f *Factory) checkNamespaces(single bool) error {
	if single && len(f.namespaces) > 1 {
		return usageErrorf("this command works in one namespace; -n was given %d: %v", len(f.namespaces), f.namespaces)
	}
	for _, ns := range f.namespaces {
		if err := checkValue("namespace", ns, validation.IsDNS1123Label); err != nil {
			return err
		}
	}
	return nil
}

// Namespace is the one namespace to work in: -n if given, else the current
// context's namespace, else "default".
func (f *Factory) Namespace() (string, error) {
	if err := f.checkNamespaces(true); err != nil {
		return "", err
	}
	if len(f.namespaces) == 1 {
		return f.namespaces[0], nil
	}
	ns, _, err := f.ConfigFlags.ToRawKubeConfigLoader().Namespace()
	return ns, err
}

// Namespaces are the namespaces a bulk command works in: those of
// --namespace-selector (one list request), else every -n, else the current
// one. They come back sorted and without duplicates.
func (f *Factory) Namespaces(ctx context.Context, selector string) ([]string, error) {
	if err := f.checkNamespaces(false); err != nil {
		return nil, err
	}
	if selector != "" {
		if len(f.namespaces) > 0 {
			return nil, usageErrorf("-n and --namespace-selector choose namespaces in two ways: use one")
		}
		c, err := f.Clients()
		if err != nil {
			return nil, err
		}
		list, err := c.Kube.CoreV1().Namespaces().List(ctx, metav1.ListOptions{LabelSelector: selector})
		if err != nil {
			return nil, kube.Describe("list namespaces matching "+selector, err)
		}
		var out []string
		for _, ns := range list.Items {
			out = append(out, ns.Name)
		}
		if len(out) == 0 {
			return nil, fmt.Errorf("no namespace matches --namespace-selector %q", selector)
		}
		return out, nil
	}
	if len(f.namespaces) == 0 {
		ns, err := f.Namespace()
		return []string{ns}, err
	}
	out := slices.Clone(f.namespaces)
	slices.Sort(out)
	return slices.Compact(out), nil
}

// readScope is what a reading command needs: its one namespace ("" with
// all, for every namespace) and the clients.
func (f *Factory) readScope(all bool) (string, *kube.Clients, error) {
	ns := ""
	if !all {
		var err error
		if ns, err = f.Namespace(); err != nil {
			return "", nil, err
		}
	}
	c, err := f.Clients()
	return ns, c, err
}

// Clients returns the API clients, building them on first use.
func (f *Factory) Clients() (*kube.Clients, error) {
	f.once.Do(func() {
		var cfg *rest.Config
		cfg, f.err = f.ConfigFlags.ToRESTConfig()
		if f.err != nil {
			return
		}
		cfg.QPS, cfg.Burst = f.qps, f.burst
		f.clients, f.err = f.NewClients(cfg)
	})
	return f.clients, f.err
}

// writeClients are the clients of a command that writes: Clients, recording
// fieldManager (the command's --field-manager) as the owner of what it sets.
func (f *Factory) writeClients(fieldManager string) (*kube.Clients, error) {
	c, err := f.Clients()
	if err != nil {
		return nil, err
	}
	w := *c
	w.FieldManager = fieldManager
	return &w, nil
}
