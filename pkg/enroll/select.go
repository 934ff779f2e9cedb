package enroll

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"sort"
	"sync"

	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/labels"

	"github.com/kubectl-waypoint/kubectl-waypoint/pkg/bulk"
	"github.com/kubectl-waypoint/kubectl-waypoint/pkg/istio"
	"github.com/kubectl-waypoint/kubectl-waypoint/pkg/kube"
)

// ErrNoServiceEntries says the API server does not serve ServiceEntries.
var ErrNoServiceEntries = errors.New("the API server does not serve serviceentries.networking.istio.io: the Istio CRDs are not installed; install Istio (or at least its CRDs) first")

// ErrNoWorkloadEntries says the API server does not serve WorkloadEntries.
var ErrNoWorkloadEntries = errors.New("the API server does not serve workloadentries.networking.istio.io: the Istio CRDs are not installed; install Istio (or at least its CRDs) first")

// ErrNoIstioCRDs is the error for an Istio kind the API server does not serve.
func ErrNoIstioCRDs(k Kind) error {
	if k == KindWorkloadEntry {
		return ErrNoWorkloadEntries
	}
	return ErrNoServiceEntries
}

// Target is one object to enroll or unenroll, with its labels as read.
type Target struct {
	Kind Kind
	// Namespace is empty for namespaces.
	Namespace string
	Name      string
	Labels    map[string]string
	// Annotations are read with the labels: the canary weight is one.
	Annotations map[string]string
	// ResourceVersion is the version the labels were read at; writes are
	// conditional on it.
	ResourceVersion string
}

// Own is the namespace the target lives in; for a namespace, its name.
func (t Target) Own() string {
	if t.Kind == KindNamespace {
		return t.Name
	}
	return t.Namespace
}

// Resource is the target as a Resource.
func (t Target) Resource() Resource {
	return Resource{Kind: t.Kind, Namespace: t.Namespace, Name: t.Name, Enrollment: EnrollmentOf(t.Labels), ResourceVersion: t.ResourceVersion}
}

// Missing is a named object that does not exist; Namespace is empty for
// namespaces.
type Missing struct{ Namespace, Name string }

// Selection is what SelectIn read: the objects, the named ones that do not
// exist, the labels of the namespaces the objects live in, and the reads
// that failed.
type Selection struct {
	Targets         []Target
	Missing         []Missing
	NamespaceLabels map[string]map[string]string
	// Failed are the objects (or, for a selector, the namespaces) that could
	// not be read; each stands for a failed record.
	Failed []ReadFailure
}

// ReadFailure is an object that could not be read (Name empty when a whole
// namespace's selection failed).
type ReadFailure struct {
	Namespace, Name string
	Err             error
}

// SelectIn reads the objects of kind to change: for namespaces, those named
// (or selected, or else namespaces themselves); for the other kinds, those
// named or selected in each namespace, concurrency namespaces at a time,
// with the labels of that namespace. Every read is retried like a write; a
// read that fails fails only the objects it was for.
func SelectIn(ctx context.Context, c *kube.Clients, kind Kind, namespaces, names []string, selector string, concurrency int) *Selection {
	sel := &Selection{NamespaceLabels: map[string]map[string]string{}}
	if !kind.Namespaced() {
		if len(names) == 0 && selector == "" {
			names = namespaces
		}
		found, gone, failed := selectIn(ctx, c, kind, "", names, selector, concurrency)
		for _, n := range gone {
			sel.Missing = append(sel.Missing, Missing{Name: n})
		}
		sel.Targets, sel.Failed = found, failed
		return sel
	}
	// The list of namespaces runs alongside the first selections: with a
	// slow server, one round trip less.
	listed := make(chan map[string]map[string]string, 1)
	go func() { listed <- namespaceLabels(ctx, c, namespaces) }()
	var nsLabels map[string]map[string]string
	var listOnce sync.Once
	var mu sync.Mutex
	started := bulk.ForEach(ctx, len(namespaces), concurrency, func(ctx context.Context, i int) {
		ns := namespaces[i]
		found, gone, failed := selectIn(ctx, c, kind, ns, names, selector, concurrency)
		listOnce.Do(func() { nsLabels = <-listed })
		labels, ok := nsLabels[ns]
		var err error
		switch {
		case ok:
		case nsLabels != nil:
			err = errNamespaceNotFound(ns)
		default:
			// No list of namespaces (one namespace, no right, or the list
			// failed): read this one.
			labels, err = namespaceLabelsOf(ctx, c, ns)
		}
		if err != nil {
			found, gone, failed = nil, nil, failAll(ns, names, err)
		}
		mu.Lock()
		defer mu.Unlock()
		if err == nil {
			sel.NamespaceLabels[ns] = labels
		}
		sel.Targets = append(sel.Targets, found...)
		for _, n := range gone {
			sel.Missing = append(sel.Missing, Missing{Namespace: ns, Name: n})
		}
		sel.Failed = append(sel.Failed, failed...)
	}, nil)
	for _, ns := range namespaces[started:] {
		sel.Failed = append(sel.Failed, failAll(ns, names, bulk.ErrInterrupted)...)
	}
	sort.Slice(sel.Targets, func(i, j int) bool {
		a, b := sel.Targets[i], sel.Targets[j]
		if a.Namespace != b.Namespace {
			return a.Namespace < b.Namespace
		}
		return a.Name < b.Name
	})
	return sel
}

// failAll fails every named object of namespace ns, or the namespace's
// selection when none is named.
func failAll(ns string, names []string, err error) []ReadFailure {
	if len(names) == 0 {
		return []ReadFailure{{Namespace: ns, Err: err}}
	}
	out := make([]ReadFailure, len(names))
	for i, n := range names {
		out[i] = ReadFailure{Namespace: ns, Name: n, Err: err}
	}
	return out
}

func errNamespaceNotFound(ns string) error {
	return fmt.Errorf("namespace %q not found; pick another with -n", ns)
}

// namespaceLabels lists the namespaces once, when there are several and the
// user may; nil otherwise (each is then read on its own).
func namespaceLabels(ctx context.Context, c *kube.Clients, namespaces []string) map[string]map[string]string {
	if len(namespaces) < 2 {
		return nil
	}
	out := map[string]map[string]string{}
	err := kube.Retry(ctx, func() error {
		return eachMetadata(ctx, c, KindNamespace, "", "", func(m *metav1.PartialObjectMetadata) {
			if slices.Contains(namespaces, m.Name) {
				out[m.Name] = m.Labels
			}
		})
	})
	if err != nil {
		return nil
	}
	return out
}

// namespaceLabelsOf reads one namespace's labels.
func namespaceLabelsOf(ctx context.Context, c *kube.Clients, ns string) (map[string]string, error) {
	var m *metav1.PartialObjectMetadata
	err := kube.Retry(ctx, func() (err error) {
		m, err = c.Metadata.Resource(KindNamespace.GVR()).Get(ctx, ns, metav1.GetOptions{})
		return err
	})
	if apierrors.IsNotFound(err) {
		return nil, errNamespaceNotFound(ns)
	}
	if err != nil {
		return nil, kube.Describe("read namespace "+ns, err)
	}
	return m.Labels, nil
}

// selectIn reads the objects of kind to change: the named ones (concurrency
// at a time), or those the label selector matches, in namespace (ignored
// for namespaces), reading metadata only and retrying like a write. Names
// that do not exist come back in missing, in order; reads that failed in
// failed.
func selectIn(ctx context.Context, c *kube.Clients, kind Kind, namespace string, names []string, selector string, concurrency int) (targets []Target, missing []string, failed []ReadFailure) {
	if !kind.Namespaced() {
		namespace = ""
	}
	if len(names) == 0 {
		err := kube.Retry(ctx, func() error {
			targets = nil
			return eachMetadata(ctx, c, kind, namespace, selector, func(m *metav1.PartialObjectMetadata) {
				targets = append(targets, targetOf(kind, m))
			})
		})
		if err != nil {
			return nil, nil, []ReadFailure{{Namespace: namespace, Err: describeRead(kind, err)}}
		}
		return targets, nil, nil
	}
	found := make([]*Target, len(names))
	errs := make([]error, len(names))
	started := bulk.ForEach(ctx, len(names), concurrency, func(ctx context.Context, i int) {
		res := c.Metadata.Resource(kind.GVR())
		var m *metav1.PartialObjectMetadata
		err := kube.Retry(ctx, func() (err error) {
			if kind.Namespaced() {
				m, err = res.Namespace(namespace).Get(ctx, names[i], metav1.GetOptions{})
			} else {
				m, err = res.Get(ctx, names[i], metav1.GetOptions{})
			}
			return err
		})
		switch {
		case err == nil:
			t := targetOf(kind, m)
			found[i] = &t
		case apierrors.IsNotFound(err) && !kube.IsMissingType(err):
		default:
			errs[i] = describeRead(kind, err)
		}
	}, nil)
	for i := started; i < len(names); i++ {
		errs[i] = bulk.ErrInterrupted
	}
	for i, t := range found {
		switch {
		case errs[i] != nil:
			failed = append(failed, ReadFailure{Namespace: namespace, Name: names[i], Err: errs[i]})
		case t == nil:
			missing = append(missing, names[i])
		default:
			targets = append(targets, *t)
		}
	}
	return targets, missing, failed
}

func targetOf(kind Kind, m *metav1.PartialObjectMetadata) Target {
	return Target{Kind: kind, Namespace: m.Namespace, Name: m.Name, Labels: m.Labels, Annotations: m.Annotations, ResourceVersion: m.ResourceVersion}
}

func describeRead(kind Kind, err error) error {
	if kind.IsIstio() && kube.IsMissingType(err) {
		return ErrNoIstioCRDs(kind)
	}
	return kube.Describe("read "+kind.Resource()+"s", err)
}

// eachMetadata lists the metadata of the objects of kind in namespace (""
// for all) that match selector, one page of 500 at a time.
func eachMetadata(ctx context.Context, c *kube.Clients, kind Kind, namespace, selector string, fn func(*metav1.PartialObjectMetadata)) error {
	opts := metav1.ListOptions{LabelSelector: selector, Limit: 500}
	for {
		var list *metav1.PartialObjectMetadataList
		var err error
		if kind.Namespaced() {
			list, err = c.Metadata.Resource(kind.GVR()).Namespace(namespace).List(ctx, opts)
		} else {
			list, err = c.Metadata.Resource(kind.GVR()).List(ctx, opts)
		}
		if err != nil {
			return err
		}
		for i := range list.Items {
			fn(&list.Items[i])
		}
		if list.Continue == "" {
			return nil
		}
		opts.Continue = list.Continue
	}
}

// eachMetadataIn is eachMetadata, except that namespaces "in" a namespace
// are that namespace alone, read on its own (a Role in a namespace may let
// a user read it, never list namespaces).
func eachMetadataIn(ctx context.Context, c *kube.Clients, kind Kind, namespace, selector string, fn func(*metav1.PartialObjectMetadata)) error {
	if kind.Namespaced() || namespace == "" {
		return eachMetadata(ctx, c, kind, namespace, selector, fn)
	}
	m, err := c.Metadata.Resource(kind.GVR()).Get(ctx, namespace, metav1.GetOptions{})
	if apierrors.IsNotFound(err) {
		return nil
	}
	if err != nil {
		return err
	}
	sel, err := labels.Parse(selector)
	if err != nil {
		return err
	}
	if sel.Matches(labels.Set(m.Labels)) {
		fn(m)
	}
	return nil
}

// Outcome is what happened to one target.
type Outcome struct {
	Target Target
	// Before and After are the enrollment labels before and after the
	// change (After as it would be, for a client dry run).
	Before map[string]string
	After  map[string]string
	// Changed is false when the labels already were as asked: nothing was sent.
	Changed bool
	Err     error
	// NotStarted says an interrupt came before the target's turn.
	NotStarted bool
}

// ChangeAll applies to every target the label change change(target) returns,
// patching only the labels, with at most concurrency patches in flight
// (bulk.DefaultConcurrency when <= 0). A target whose labels already match is
// not written. Outcomes are in the order of targets; a failure of one does
// not stop the others. progress, when not nil, hears how many are done.
func ChangeAll(ctx context.Context, c *kube.Clients, targets []Target, change func(Target) LabelChange, dryRun kube.DryRun, concurrency int, progress func(done, total int)) []Outcome {
	out := make([]Outcome, len(targets))
	started := bulk.ForEach(ctx, len(targets), concurrency, func(ctx context.Context, i int) {
		t := targets[i]
		ch := change(t)
		o := Outcome{Target: t, Before: EnrollmentLabels(t.Labels)}
		if !ch.NeededFor(t.Labels, annotationsOf(t)) {
			o.After = o.Before
			out[i] = o
			return
		}
		w, err := Write{Kind: t.Kind, Namespace: t.Namespace, Name: t.Name, Labels: t.Labels, Annotations: t.Annotations,
			ResourceVersion: t.ResourceVersion, Change: ch, DryRun: dryRun}.Do(ctx, c)
		o.Changed, o.After = w.Changed, EnrollmentLabels(w.Labels)
		if err != nil {
			o.Err = describeWrite(t, err)
		}
		out[i] = o
	}, progress)
	for i := started; i < len(targets); i++ {
		before := EnrollmentLabels(targets[i].Labels)
		out[i] = Outcome{Target: targets[i], Before: before, After: before, NotStarted: true}
	}
	return out
}

func describeWrite(t Target, err error) error {
	if errors.Is(err, ErrChangedSince) {
		return fmt.Errorf("did not label %s: %w", Write{Kind: t.Kind, Namespace: t.Namespace, Name: t.Name}, err)
	}
	what := "label " + t.Kind.Resource() + " " + t.Name
	if t.Kind.Namespaced() {
		what = "label " + t.Kind.Resource() + " " + t.Namespace + "/" + t.Name
	}
	if apierrors.IsNotFound(err) {
		if t.Kind.IsIstio() && kube.IsMissingType(err) {
			return ErrNoIstioCRDs(t.Kind)
		}
		return fmt.Errorf("cannot %s: it no longer exists", what)
	}
	return kube.Describe(what, err)
}

// EnrollmentLabels picks the enrollment labels (and the ingress label) out
// of labels; never nil.
func EnrollmentLabels(labels map[string]string) map[string]string {
	out := map[string]string{}
	for _, k := range []string{istio.LabelUseWaypoint, istio.LabelUseWaypointNamespace, istio.LabelUseWaypointCanary, istio.LabelUseWaypointCanaryNamespace, istio.LabelIngressUseWaypoint} {
		if v, ok := labels[k]; ok {
			out[k] = v
		}
	}
	return out
}

// annotationsOf is the target's annotations, never nil: a target read
// without any has none.
func annotationsOf(t Target) map[string]string {
	if t.Annotations == nil {
		return map[string]string{}
	}
	return t.Annotations
}
