package cli

import (
	"context"
	"errors"
	"fmt"
	"os"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/spf13/pflag"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/util/validation"
	"k8s.io/cli-runtime/pkg/genericclioptions"
	"k8s.io/client-go/rest"
	"k8s.io/client-go/tools/clientcmd"

	"github.com/kubectl-waypoint/kubectl-waypoint/pkg/kube"
	"github.com/kubectl-waypoint/kubectl-waypoint/pkg/waypoint"
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
	// listedNamespaces are the namespaces --namespace-selector listed, by
	// name, as little as enrollment reads of them.
	listedNamespaces map[string]*corev1.Namespace
	qps              float32
	burst            int

	// contexts are the values of --context: kubectl's flag, which here may
	// be repeated or hold a comma-separated list (fleet.go); context is the
	// one ConfigFlags uses, the first of them or a fleet member's own.
	contexts []string
	context  string
	// fleet holds the flags that choose many clusters; clusters are the
	// contexts they chose, when several (planFleet).
	fleet    fleetFlags
	clusters []string
	// flags are the root's persistent flags, which a fleet run gives each
	// cluster's factory (forCluster).
	flags *pflag.FlagSet
	// offline is set on the factory that checks a fleet run's command line
	// once: it reaches no cluster.
	offline bool

	// started is set once cobra has accepted the command line.
	started bool
	// connectionFlags are kubectl's flags from ConfigFlags, where an empty
	// value means "unset" as in kubectl.
	connectionFlags map[string]bool

	once    sync.Once
	clients *kube.Clients
	err     error
	// noKubeconfig, when set, says where a kubeconfig was looked for in
	// vain: the clients then try client-go's default address.
	noKubeconfig string
}

// NewFactory returns a factory over the given streams with kubectl's
// connection flags.
func NewFactory(streams *IOStreams, name string) *Factory {
	flags := genericclioptions.NewConfigFlags(true)
	// -n is ours: the same flag, but it takes several namespaces.
	flags.Namespace = nil
	// So is --context: it takes several clusters (fleet.go).
	flags.Context = nil
	return &Factory{
		IO:          streams,
		ConfigFlags: flags,
		Name:        name,
		NewClients:  kube.NewClients,
	}
}

// addFlags adds kubectl's connection flags and ours to the root command.
func (f *Factory) addFlags(fs *pflag.FlagSet) {
	f.flags = fs
	f.ConfigFlags.AddFlags(fs)
	f.ConfigFlags.Context = &f.context
	f.addContextFlag(fs)
	f.connectionFlags = map[string]bool{}
	fs.VisitAll(func(fl *pflag.Flag) { f.connectionFlags[fl.Name] = true })
	f.addFleetFlags(fs)
	fs.StringSliceVarP(&f.namespaces, "namespace", "n", nil, "If present, the namespace scope for this CLI request; apply, delete, enroll, unenroll and generate take several (repeat the flag or separate with commas)")
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

// checkKubeconfig refuses, before anything is read from it, a --kubeconfig
// that does not exist, and contradicting TLS flags. Commands call it only
// when they need the cluster, so their own usage errors come first.
func (f *Factory) checkKubeconfig() error {
	if p := f.ConfigFlags.KubeConfig; p != nil && *p != "" {
		if _, err := os.Stat(*p); err != nil {
			return usageErrorf("invalid --kubeconfig %q: %v", *p, errors.Unwrap(err))
		}
	}
	return f.checkTLSFlags()
}

// checkTLSFlags refuses, as kubectl does, --insecure-skip-tls-verify
// together with a certificate authority: one says trust anything, the
// other trust only this CA.
func (f *Factory) checkTLSFlags() error {
	if f.ConfigFlags.Insecure == nil || !*f.ConfigFlags.Insecure {
		return nil
	}
	if ca := f.ConfigFlags.CAFile; ca != nil && *ca != "" {
		return usageErrorf("--insecure-skip-tls-verify and --certificate-authority contradict each other: use one")
	}
	raw, err := f.ConfigFlags.ToRawKubeConfigLoader().RawConfig()
	if err != nil {
		return nil // the client reports a broken kubeconfig
	}
	ctxName := raw.CurrentContext
	if c := f.ConfigFlags.Context; c != nil && *c != "" {
		ctxName = *c
	}
	clusterName := ""
	if kctx := raw.Contexts[ctxName]; kctx != nil {
		clusterName = kctx.Cluster
	}
	if c := f.ConfigFlags.ClusterName; c != nil && *c != "" {
		clusterName = *c
	}
	if cl := raw.Clusters[clusterName]; cl != nil && (cl.CertificateAuthority != "" || len(cl.CertificateAuthorityData) > 0) {
		return usageErrorf("--insecure-skip-tls-verify cannot be used with the certificate authority that cluster %q of the kubeconfig names: remove one of them", clusterName)
	}
	return nil
}

// checkEmptyValues refuses a flag given with an empty value (--name ""),
// which would otherwise quietly mean the default. kubectl's connection
// flags keep kubectl's meaning of empty: unset.
func (f *Factory) checkEmptyValues(fs *pflag.FlagSet) error {
	var err error
	fs.Visit(func(fl *pflag.Flag) {
		if err != nil || f.connectionFlags[fl.Name] || fl.Value.Type() == "bool" {
			return
		}
		if v := fl.Value.String(); v == "" || v == "[]" {
			err = usageErrorf("invalid --%s \"\": an empty value is not allowed; leave the flag out for its default", fl.Name)
		}
	})
	return err
}

// checkAllNamespaces refuses -A together with another choice of
// namespaces.
func (f *Factory) checkAllNamespaces(all bool) error {
	if all && len(f.namespaces) > 0 {
		return usageErrorf("-A/--all-namespaces and -n/--namespace choose namespaces in two ways: use one")
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
	if err := f.checkKubeconfig(); err != nil {
		return "", err
	}
	if f.offline {
		return "default", nil // each cluster reads its own
	}
	ns, _, err := f.ConfigFlags.ToRawKubeConfigLoader().Namespace()
	if err != nil {
		return "", usageErrorf("invalid kubeconfig: %v", err)
	}
	return ns, nil
}

// Namespaces are the namespaces a bulk command works in: those of
// --namespace-selector (one list request, whose namespaces stay in
// listedNamespaces for the command to reuse), else every -n, else the
// current one. They come back sorted and without duplicates.
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
		var out []string
		listed := map[string]*corev1.Namespace{}
		err = kube.EachPage(ctx, metav1.ListOptions{LabelSelector: selector}, kube.NamespacePage(c.Kube), func(items []corev1.Namespace) error {
			for i := range items {
				out = append(out, items[i].Name)
				listed[items[i].Name] = waypoint.Slim(&items[i])
			}
			return nil
		})
		if err != nil {
			return nil, kube.Describe("list namespaces matching "+selector, err)
		}
		f.listedNamespaces = listed
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

// kubeconfigPlaces says where the loader looked for a kubeconfig.
func kubeconfigPlaces(loader clientcmd.ClientConfig) string {
	var paths []string
	if access := loader.ConfigAccess(); access != nil {
		paths = access.GetLoadingPrecedence()
	}
	where := strings.Join(paths, ", ")
	if env := os.Getenv(clientcmd.RecommendedConfigPathEnvVar); env != "" {
		where = "$KUBECONFIG (" + where + ")"
	} else {
		where = "$KUBECONFIG (unset), " + where
	}
	return "no kubeconfig was found (looked in " + where + "); set KUBECONFIG or pass --kubeconfig"
}

// Clients returns the API clients, building them on first use. A
// kubeconfig that cannot be read or used is invalid input (exit 2).
func (f *Factory) Clients() (*kube.Clients, error) {
	if f.offline {
		return nil, errValidated
	}
	f.once.Do(func() {
		if f.err = f.checkKubeconfig(); f.err != nil {
			return
		}
		loader := f.ConfigFlags.ToRawKubeConfigLoader()
		raw, err := loader.RawConfig()
		if err != nil {
			f.err = usageErrorf("invalid kubeconfig: %v", err)
			return
		}
		var cfg *rest.Config
		cfg, f.err = f.ConfigFlags.ToRESTConfig()
		if f.err != nil {
			if clientcmd.IsConfigurationInvalid(f.err) || clientcmd.IsEmptyConfig(f.err) {
				f.err = usageErrorf("invalid kubeconfig: %v", f.err)
			}
			return
		}
		if len(raw.Clusters) == 0 && (f.ConfigFlags.APIServer == nil || *f.ConfigFlags.APIServer == "") {
			f.noKubeconfig = kubeconfigPlaces(loader)
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
