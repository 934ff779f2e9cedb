package waypoint

import (
	"context"
	"errors"
	"fmt"
	"sort"
	"sync"

	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	gatewayv1 "sigs.k8s.io/gateway-api/apis/v1"

	"github.com/kubectl-waypoint/kubectl-waypoint/pkg/bulk"
	"github.com/kubectl-waypoint/kubectl-waypoint/pkg/enroll"
	"github.com/kubectl-waypoint/kubectl-waypoint/pkg/istio"
	"github.com/kubectl-waypoint/kubectl-waypoint/pkg/kube"
	"github.com/kubectl-waypoint/kubectl-waypoint/pkg/mesh"
)

// DeleteRequest chooses the waypoints to delete: by name in each of
// Namespaces, or all (optionally of one revision) in Namespaces or, when there
// are none, everywhere.
type DeleteRequest struct {
	Namespaces []string
	Names      []string
	All        bool
	Revision   string
	DryRun     kube.DryRun
	// Unenroll removes the enrollment labels that still name a deleted waypoint.
	Unenroll bool
	// Concurrency bounds the deletes in flight; 0 means bulk.DefaultConcurrency.
	Concurrency int
	// Progress, when set, is told how many deletes are done.
	Progress func(done, total int)
}

// Refusal is a named Gateway that is not a waypoint and was left alone.
type Refusal struct {
	Ref   Ref
	Class string
}

// Failure is an object the work failed on.
type Failure struct {
	Ref Ref
	Err error
}

// DeleteResult says what Delete did, object by object.
type DeleteResult struct {
	Deleted  []Ref
	NotFound []Ref
	Refused  []Refusal
	Failed   []Failure
	// Enrolled are the resources whose labels still name a deleted waypoint
	// (before Unenroll removed them).
	Enrolled []enroll.Resource
	// Unenrolled are those whose labels Unenroll removed.
	Unenrolled []enroll.Resource
	// UnenrollFailed are those it could not change.
	UnenrollFailed []Failure
	// EnrolledUnknown says why Enrolled could not be looked for (without
	// Unenroll, that does not fail the delete).
	EnrolledUnknown error
}

// Delete deletes waypoints, and only waypoints: a named Gateway of another
// class is refused. Each delete is conditional on the UID it checked, so a
// Gateway replaced in between is never deleted by mistake.
func Delete(ctx context.Context, c *kube.Clients, req DeleteRequest) (*DeleteResult, error) {
	res := &DeleteResult{}
	var targets []*gatewayv1.Gateway
	if len(req.Names) > 0 {
		for _, ns := range req.Namespaces {
			for _, name := range req.Names {
				ref := Ref{Namespace: ns, Name: name}
				var gw *gatewayv1.Gateway
				err := kube.Retry(ctx, func() (err error) {
					gw, err = c.Gateway.GatewayV1().Gateways(ns).Get(ctx, name, metav1.GetOptions{})
					return err
				})
				switch {
				case apierrors.IsNotFound(err) && !kube.IsMissingType(err):
					res.NotFound = append(res.NotFound, ref)
				case err != nil:
					return nil, kube.Describe("read gateway "+ref.String(), err)
				case !mesh.IsWaypointGateway(gw):
					res.Refused = append(res.Refused, Refusal{Ref: ref, Class: string(gw.Spec.GatewayClassName)})
				default:
					targets = append(targets, gw)
				}
			}
		}
	} else {
		opts := ListOptions{}
		if req.Revision != "" {
			opts.LabelSelector = istio.LabelRev + "=" + req.Revision
		}
		inScope := map[string]bool{}
		for _, ns := range req.Namespaces {
			inScope[ns] = true
		}
		keep := func(gw *gatewayv1.Gateway) {
			if mesh.IsWaypointGateway(gw) && (len(inScope) == 0 || inScope[gw.Namespace]) {
				targets = append(targets, gw.DeepCopy())
			}
		}
		err := InNamespaces(req.Namespaces, func(ns string) error {
			opts.Namespace = ns
			_, err := EachGateway(ctx, c.Gateway, opts, keep)
			return err
		})
		if err != nil {
			return nil, kube.Describe("list gateways", err)
		}
	}

	var mu sync.Mutex
	bulk.ForEach(ctx, len(targets), req.Concurrency, func(ctx context.Context, i int) {
		gw := targets[i]
		ref := Ref{Namespace: gw.Namespace, Name: gw.Name}
		var err error
		if req.DryRun != kube.DryRunClient {
			uid := gw.UID
			err = kube.Retry(ctx, func() error {
				return c.Gateway.GatewayV1().Gateways(gw.Namespace).Delete(ctx, gw.Name, metav1.DeleteOptions{
					Preconditions: &metav1.Preconditions{UID: &uid},
					DryRun:        req.DryRun.Server(),
				})
			})
		}
		mu.Lock()
		defer mu.Unlock()
		switch {
		case err == nil:
			res.Deleted = append(res.Deleted, ref)
		case apierrors.IsNotFound(err):
			res.NotFound = append(res.NotFound, ref)
		default:
			res.Failed = append(res.Failed, Failure{Ref: ref, Err: kube.Describe("delete waypoint "+ref.String(), err)})
		}
	}, req.Progress)
	sortRefs(res.Deleted)
	sortRefs(res.NotFound)

	keys := make([]string, len(res.Deleted))
	for i, r := range res.Deleted {
		keys[i] = r.String()
	}
	enrolled, err := enroll.FindEnrolled(ctx, c, keys)
	res.Enrolled = enrolled
	if err != nil {
		if !req.Unenroll {
			// The deletes are done; only the look for leftovers failed.
			res.EnrolledUnknown = err
			return res, nil
		}
		return res, err
	}
	if req.Unenroll {
		bulk.ForEach(ctx, len(enrolled), req.Concurrency, func(ctx context.Context, i int) {
			r := enrolled[i]
			var err error
			if req.DryRun != kube.DryRunClient {
				_, err = unenrollWrite(r, req.DryRun).Do(ctx, c)
			}
			mu.Lock()
			defer mu.Unlock()
			if err != nil {
				res.UnenrollFailed = append(res.UnenrollFailed, Failure{Ref: Ref{Namespace: r.Namespace, Name: r.Name}, Err: describeUnenroll(r, err)})
				return
			}
			res.Unenrolled = append(res.Unenrolled, r)
		}, nil)
		sort.Slice(res.Unenrolled, func(i, j int) bool { return resourceLess(res.Unenrolled[i], res.Unenrolled[j]) })
	}
	return res, nil
}

func resourceLess(a, b enroll.Resource) bool {
	if a.Kind != b.Kind {
		return a.Kind < b.Kind
	}
	if a.Namespace != b.Namespace {
		return a.Namespace < b.Namespace
	}
	return a.Name < b.Name
}

func sortRefs(refs []Ref) {
	sort.Slice(refs, func(i, j int) bool { return refs[i].String() < refs[j].String() })
}

func describeUnenroll(r enroll.Resource, err error) error {
	what := "unenroll " + string(r.Kind) + " " + r.Name
	if r.Namespace != "" {
		what = "unenroll " + string(r.Kind) + " " + r.Namespace + "/" + r.Name
	}
	if errors.Is(err, enroll.ErrChangedSince) {
		return fmt.Errorf("did not %s: %w", what, enroll.ErrChangedSince)
	}
	return kube.Describe(what, err)
}

// unenrollWrite removes the enrollment labels of r, conditional on the
// labels it was found with.
func unenrollWrite(r enroll.Resource, dryRun kube.DryRun) enroll.Write {
	labels := map[string]string{}
	if r.Enrollment.Waypoint != "" {
		labels[istio.LabelUseWaypoint] = r.Enrollment.Waypoint
	}
	if r.Enrollment.Namespace != "" {
		labels[istio.LabelUseWaypointNamespace] = r.Enrollment.Namespace
	}
	return enroll.Write{Kind: r.Kind, Namespace: r.Namespace, Name: r.Name, Labels: labels,
		ResourceVersion: r.ResourceVersion, Change: enroll.UnenrollChange(), DryRun: dryRun}
}
