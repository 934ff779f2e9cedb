package migrate

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"time"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/equality"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/client-go/dynamic"
	"k8s.io/client-go/util/retry"

	"github.com/kubectl-waypoint/kubectl-waypoint/pkg/bulk"
	"github.com/kubectl-waypoint/kubectl-waypoint/pkg/enroll"
	"github.com/kubectl-waypoint/kubectl-waypoint/pkg/istio"
	"github.com/kubectl-waypoint/kubectl-waypoint/pkg/kube"
	"github.com/kubectl-waypoint/kubectl-waypoint/pkg/render"
	"github.com/kubectl-waypoint/kubectl-waypoint/pkg/waypoint"
)

// Due is the phase migrate apply carries out next in a namespace: the
// first with a step it can do (Step.Auto); 0 when none is left. waiting
// says why phase 3 cannot start yet, when it is the one due: the namespace
// is not ambient, or its pods still run sidecars, which still apply the
// originals it deletes.
func (np NamespacePlan) Due() (phase int, waiting string) {
	has := map[int]bool{}
	for _, f := range np.Findings {
		for _, s := range f.Steps {
			if s.Auto {
				has[s.Phase] = true
			}
		}
	}
	switch {
	case has[PhaseWaypoints]:
		return PhaseWaypoints, ""
	case has[PhaseAmbient]:
		return PhaseAmbient, ""
	case has[PhaseCleanup] && np.Mode != ModeAmbient:
		return PhaseCleanup, "the namespace is not in ambient mode"
	case has[PhaseCleanup] && len(np.SidecarPods) > 0:
		return PhaseCleanup, fmt.Sprintf("%d pods still run a sidecar (%s); it starts once they are replaced without one", len(np.SidecarPods), abbreviate(np.SidecarPods, 5))
	case has[PhaseCleanup]:
		return PhaseCleanup, ""
	}
	return 0, ""
}

// ApplyRequest is one run of migrate apply.
type ApplyRequest struct {
	// Namespaces to migrate; none for every namespace in sidecar or
	// ambient mode.
	Namespaces []string
	DryRun     kube.DryRun
	// AllPhases goes on with the next phase of a namespace once one is
	// done, for as long as one is due and can start.
	AllPhases bool
}

// ApplyResult is what a run did.
type ApplyResult struct {
	Records []bulk.Record
	// Phases are the phases carried out in each namespace, in order.
	Phases map[string][]int
	// Waiting says, for a namespace whose next phase cannot start, why.
	Waiting map[string]string
	// Plan is the plan read last.
	Plan *Plan
}

// Apply carries out the phase due in each namespace of the plan (every
// phase due, one after the other, with AllPhases): phase 1 applies the
// waypoint and enrolls the namespace through the operations of apply and
// enroll, and applies the copies; phase 2 relabels the namespace for
// ambient and restarts the controllers of its pods that run sidecars (as
// kubectl rollout restart does); phase 3 deletes the originals whose
// copies exist, the Sidecar resources, and replaces VirtualServices with
// their HTTPRoutes. Phase 3 waits while a pod of the namespace runs a
// sidecar. What has no exact conversion, and EnvoyFilters, are left to the
// user.
func (p *Planner) Apply(ctx context.Context, req ApplyRequest) (*ApplyResult, error) {
	res := &ApplyResult{Phases: map[string][]int{}, Waiting: map[string]string{}}
	done := map[string]int{}
	for round := 0; round < 3; round++ {
		plan, err := p.Plan(ctx, req.Namespaces)
		if err != nil {
			return nil, err
		}
		res.Plan = plan
		progressed := false
		for _, np := range plan.Namespaces {
			phase, waiting := np.Due()
			delete(res.Waiting, np.Name)
			if phase == 0 || phase <= done[np.Name] {
				continue // nothing due, or it did not take (a dry run)
			}
			if waiting != "" {
				res.Waiting[np.Name] = fmt.Sprintf("phase 3 waits: %s", waiting)
				continue
			}
			res.Records = append(res.Records, p.carryOut(ctx, np, phase, req.DryRun)...)
			res.Phases[np.Name] = append(res.Phases[np.Name], phase)
			done[np.Name] = phase
			progressed = true
		}
		if !req.AllPhases || !progressed || req.DryRun != kube.DryRunNone {
			break
		}
	}
	return res, nil
}

// carryOut does the automatic steps of one phase of a namespace.
func (p *Planner) carryOut(ctx context.Context, np NamespacePlan, phase int, dry kube.DryRun) []bulk.Record {
	var out []bulk.Record
	record := func(ref kube.Ref, action bulk.Action, err error) {
		rec := bulk.Record{Ref: ref, Action: action}
		if err != nil {
			rec.Action, rec.Error, rec.Err = bulk.Failed, err.Error(), err
		}
		out = append(out, rec)
	}
	nsRef := kube.Ref{Kind: "Namespace", Name: np.Name}
	narrowFailed := false
	for _, f := range np.Findings {
		if !auto(f, phase) {
			continue
		}
		switch {
		case phase == PhaseAmbient && f.Object.Kind == kindAuthorizationPolicy:
			// The findings of policies come before the namespace's: every
			// narrowing is done before the restarts.
			err := p.narrow(ctx, f.Object, dry)
			narrowFailed = narrowFailed || err != nil
			record(f.Object, Narrowed, err)
		case f.Code == CodeNamespaceToAmbient && narrowFailed:
			record(nsRef, "", errors.New("not moved to ambient: a policy above could not be narrowed to the pods that run a sidecar, and ztunnel would enforce it wrongly on the pods restarted without one; run migrate apply again"))
		case f.Code == CodeWaypointNeeded:
			gw, err := render.Gateway(render.Request{Name: f.WaypointName, Namespace: np.Name})
			if err != nil {
				record(nsRef, "", err)
				continue
			}
			forService := f.Object.Kind == "Service"
			r, err := waypoint.Apply(ctx, p.Clients, waypoint.ApplyRequest{Gateway: gw, EnrollNamespace: !forService, DryRun: dry})
			gwRef := kube.Ref{Kind: gw.Kind, Namespace: gw.Namespace, Name: gw.Name}
			if err != nil {
				record(gwRef, "", err)
				continue
			}
			record(gwRef, map[bool]bulk.Action{true: bulk.Created, false: bulk.Configured}[r.Created], nil)
			if r.Enrolled {
				record(nsRef, bulk.Enrolled, nil)
			}
			if forService {
				out = append(out, p.enrollService(ctx, f.Object, f.WaypointName, dry)...)
			}
		case f.Code == CodeServiceEnrollment:
			out = append(out, p.enrollService(ctx, f.Object, f.WaypointName, dry)...)
		case f.Code == CodeNamespaceEnrollment:
			changed, err := waypoint.EnrollNamespace(ctx, p.Clients, waypoint.EnrollNamespaceWrite(np.Name, nil, "", f.WaypointName, false, dry))
			record(nsRef, map[bool]bulk.Action{true: bulk.Enrolled, false: bulk.Unchanged}[changed], err)
		case f.Rewrite != nil && (phase == PhaseCleanup || f.Copy == nil):
			err := p.rewriteInPlace(ctx, f, dry)
			record(f.Object, Rewritten, err)
			if err == nil && f.ExistingCopy != "" {
				ref := kube.Ref{Kind: f.Object.Kind, Namespace: np.Name, Name: f.ExistingCopy}
				record(ref, bulk.Deleted, p.deleteObject(ctx, ref, dry))
			}
		case phase == PhaseWaypoints && f.Copy != nil:
			ref := kube.Ref{Kind: f.Copy.GetKind(), Namespace: np.Name, Name: f.Copy.GetName()}
			record(ref, bulk.Created, p.serverSideApply(ctx, f.Copy, dry))
		case f.Code == CodeNamespaceToAmbient || f.Code == CodePodsRunSidecars:
			if f.Code == CodeNamespaceToAmbient {
				ambient := istio.DataplaneModeAmbient
				w := enroll.Write{Kind: enroll.KindNamespace, Name: np.Name, DryRun: dry,
					Change:  enroll.LabelChange{"istio-injection": nil, istio.LabelRev: nil, istio.LabelDataplaneMode: &ambient},
					Recheck: func(map[string]string) error { return nil }}
				_, err := w.Do(ctx, p.Clients)
				record(nsRef, bulk.Configured, kube.Describe("label namespace "+np.Name, err))
			}
			out = append(out, p.restartSidecarPods(ctx, np.sidecarPods, dry)...)
		case phase == PhaseCleanup && f.Replacement != nil:
			ref := kube.Ref{Kind: kindHTTPRoute, Namespace: np.Name, Name: f.Replacement.GetName()}
			err := p.serverSideApply(ctx, f.Replacement, dry)
			record(ref, bulk.Created, err)
			if err == nil {
				record(f.Object, bulk.Deleted, p.deleteObject(ctx, f.Object, dry))
			}
		case phase == PhaseCleanup:
			record(f.Object, bulk.Deleted, p.deleteObject(ctx, f.Object, dry))
		}
	}
	return out
}

// enrollService enrolls a Service in a waypoint of its namespace through
// the operation of enroll service, its L7 policy guard and waypoint checks
// included: a Service the guard refuses is left as it is, and its record
// says why.
func (p *Planner) enrollService(ctx context.Context, svc kube.Ref, name string, dry kube.DryRun) []bulk.Record {
	res, err := waypoint.Enroll(ctx, p.Clients, waypoint.EnrollRequest{Kind: enroll.KindService,
		Namespaces: []string{svc.Namespace}, Names: []string{svc.Name}, Waypoint: name, DryRun: dry})
	var out []bulk.Record
	if res != nil {
		out = res.Records()
	}
	if err != nil {
		out = append(out, bulk.Record{Ref: svc, Action: bulk.Failed, Err: err, Error: fmt.Sprintf("enroll service %s/%s in waypoint %s: %v", svc.Namespace, svc.Name, name, err)})
	}
	return out
}

// Narrowed is the action of a policy whose selector phase 2 narrowed to
// the pods that run a sidecar.
const Narrowed bulk.Action = "narrowed"

// narrowPatch adds LabelTLSMode=istio to a policy's selector, creating the
// selector of a namespace-wide one; a merge patch of that one key, which
// changes nothing else another writer set.
var narrowPatch = []byte(fmt.Sprintf(`{"spec":{"selector":{"matchLabels":{%q:"istio"}}}}`, LabelTLSMode))

// narrow narrows the selector of an AuthorizationPolicy to the pods that
// run a sidecar (narrowStep).
func (p *Planner) narrow(ctx context.Context, ref kube.Ref, dry kube.DryRun) error {
	obj := &unstructured.Unstructured{}
	obj.SetKind(ref.Kind)
	obj.SetNamespace(ref.Namespace)
	obj.SetName(ref.Name)
	return p.write(ctx, obj, dry, "narrow", func(c dynamic.ResourceInterface, manager string, dryRun []string) error {
		_, err := c.Patch(ctx, ref.Name, types.MergePatchType, narrowPatch, metav1.PatchOptions{FieldManager: manager, DryRun: dryRun})
		return err
	})
}

// gvrOf is the resource of a kind the planner reads.
func gvrOf(kind string) (schema.GroupVersionResource, bool) {
	for _, k := range kinds {
		if k.name == kind {
			return k.gvr, true
		}
	}
	return schema.GroupVersionResource{}, false
}

// serverSideApply writes obj with the tool's field manager.
func (p *Planner) serverSideApply(ctx context.Context, obj *unstructured.Unstructured, dry kube.DryRun) error {
	return p.write(ctx, obj, dry, "apply", func(c dynamic.ResourceInterface, manager string, dryRun []string) error {
		_, err := c.Apply(ctx, obj.GetName(), obj, metav1.ApplyOptions{FieldManager: manager, DryRun: dryRun})
		return err
	})
}

// Rewritten is the action of an original that --replace rewrote in place.
const Rewritten bulk.Action = "rewritten"

// errSpecChanged says another writer changed the spec of an original (or
// replaced it) between its read and its rewrite or deletion.
var errSpecChanged = errors.New("its spec changed since it was read, so it was left as it is: run migrate plan again to see what it needs now")

// sameObject reports whether now is the object read, with the same spec:
// only its status or metadata may have changed since.
func sameObject(now, read *unstructured.Unstructured) bool {
	return now.GetUID() == read.GetUID() && equality.Semantic.DeepEqual(now.Object["spec"], read.Object["spec"])
}

// rewriteInPlace writes the original as f.Rewrite has it, as an update
// conditional on the version the plan read. istiod writes each policy's
// status, and others its labels, so a conflict is common and says nothing
// of the spec: the object is read again and, if its spec is still the one
// the plan read (sameObject), rewritten again from what it is now (the
// other writer's metadata kept); if its spec changed, or it was replaced,
// it is left as it is (errSpecChanged); if it is the rewrite already, an
// update whose answer was lost took.
func (p *Planner) rewriteInPlace(ctx context.Context, f Finding, dry kube.DryRun) error {
	obj := f.Rewrite
	targets, _, _ := unstructured.NestedSlice(obj.Object, "spec", "targetRefs")
	return p.write(ctx, obj, dry, "rewrite", func(c dynamic.ResourceInterface, manager string, dryRun []string) error {
		return retry.RetryOnConflict(retry.DefaultRetry, func() error {
			_, err := c.Update(ctx, obj, metav1.UpdateOptions{FieldManager: manager, DryRun: dryRun})
			if !apierrors.IsConflict(err) {
				return err
			}
			now, getErr := c.Get(ctx, obj.GetName(), metav1.GetOptions{})
			if getErr != nil {
				return getErr
			}
			switch {
			case equality.Semantic.DeepEqual(now.Object["spec"], obj.Object["spec"]):
				return nil // rewritten already: an answer lost, and the update retried
			case !sameObject(now, f.original):
				return errSpecChanged
			}
			obj = rewrite(now, targets)
			return err
		})
	})
}

// write sends one write of obj (send) to the resource of its kind, with the
// tool's field manager, retried while the server is busy; verb names it in
// the error. A client dry run sends nothing.
func (p *Planner) write(ctx context.Context, obj *unstructured.Unstructured, dry kube.DryRun, verb string, send func(c dynamic.ResourceInterface, manager string, dryRun []string) error) error {
	gvr, ok := gvrOf(obj.GetKind())
	if !ok {
		return fmt.Errorf("no resource for kind %s", obj.GetKind())
	}
	if dry == kube.DryRunClient {
		return nil
	}
	client := p.Clients.Dynamic.Resource(gvr).Namespace(obj.GetNamespace())
	err := kube.Retry(ctx, func() error { return send(client, p.Clients.Manager(), dry.Server()) })
	return kube.Describe(fmt.Sprintf("%s %s %s/%s", verb, strings.ToLower(obj.GetKind()), obj.GetNamespace(), obj.GetName()), err)
}

// deleteObject deletes the object as it is now: the delete is conditional
// on the UID and version just read, so that a change made in between by
// another writer is never lost with it. A conflict caused by a change of
// the status or the metadata alone (istiod writes each policy's status)
// reads the object again and deletes it as it is then; a changed spec is
// left as it is, and so is a new object of the same name (errSpecChanged).
// A delete whose answer was lost and that then finds nothing took.
func (p *Planner) deleteObject(ctx context.Context, ref kube.Ref, dry kube.DryRun) error {
	gvr, ok := gvrOf(ref.Kind)
	if !ok {
		return fmt.Errorf("no resource for kind %s", ref.Kind)
	}
	what := fmt.Sprintf("delete %s %s/%s", strings.ToLower(ref.Kind), ref.Namespace, ref.Name)
	client := p.Clients.Dynamic.Resource(gvr).Namespace(ref.Namespace)
	var read *unstructured.Unstructured
	err := retry.RetryOnConflict(retry.DefaultRetry, func() error {
		var obj *unstructured.Unstructured
		err := kube.Retry(ctx, func() (err error) {
			obj, err = client.Get(ctx, ref.Name, metav1.GetOptions{})
			return err
		})
		switch {
		case err != nil:
			return err
		case read == nil:
			read = obj
		case !sameObject(obj, read):
			return errSpecChanged
		}
		if dry == kube.DryRunClient {
			return nil
		}
		uid, rv := obj.GetUID(), obj.GetResourceVersion()
		lost, err := kube.RetryTracked(ctx, func() error {
			return client.Delete(ctx, ref.Name, metav1.DeleteOptions{DryRun: dry.Server(),
				Preconditions: &metav1.Preconditions{UID: &uid, ResourceVersion: &rv}})
		})
		if lost && apierrors.IsNotFound(err) {
			return nil // the delete whose answer was lost took
		}
		return err
	})
	return kube.Describe(what, err)
}

// Restarted is the action of a workload whose pods phase 2 restarted.
const Restarted bulk.Action = "restarted"

// restartAnnotation is what kubectl rollout restart sets on a pod template.
const restartAnnotation = "kubectl.kubernetes.io/restartedAt"

// errNoController says a pod with a sidecar has no controller to restart it.
var errNoController = errors.New("no Deployment, StatefulSet or DaemonSet controls it: delete it and create it again yourself, without the sidecar")

// restartSidecarPods restarts the controllers of pods that run a sidecar
// (as the plan read them), as kubectl rollout restart does: a new
// annotation on the pod template, so that the controller replaces its
// pods. Each controller is restarted once, whatever the number of its pods.
func (p *Planner) restartSidecarPods(ctx context.Context, pods []corev1.Pod, dry kube.DryRun) []bulk.Record {
	var out []bulk.Record
	restarted := map[kube.Ref]bool{}
	for i := range pods {
		pod := &pods[i]
		owner, err := p.controllerOf(ctx, pod)
		if err != nil {
			// A pod with no controller is the user's to replace; a read
			// that failed is a failure.
			action := bulk.Failed
			if errors.Is(err, errNoController) {
				action = bulk.Skipped
			}
			out = append(out, bulk.Record{Ref: kube.Ref{Kind: "Pod", Namespace: pod.Namespace, Name: pod.Name}, Action: action, Error: err.Error(), Err: err})
			continue
		}
		if restarted[owner] {
			continue
		}
		restarted[owner] = true
		rec := bulk.Record{Ref: owner, Action: Restarted}
		if err := p.restart(ctx, owner, dry); err != nil {
			rec.Action, rec.Error, rec.Err = bulk.Failed, err.Error(), err
		}
		out = append(out, rec)
	}
	return out
}

// controllerOf is the workload that controls a pod: its StatefulSet or
// DaemonSet, or the Deployment of its ReplicaSet.
func (p *Planner) controllerOf(ctx context.Context, pod *corev1.Pod) (kube.Ref, error) {
	ctl := metav1.GetControllerOf(pod)
	if ctl == nil {
		return kube.Ref{}, errNoController
	}
	switch ctl.Kind {
	case "StatefulSet", "DaemonSet":
		return kube.Ref{Kind: ctl.Kind, Namespace: pod.Namespace, Name: ctl.Name}, nil
	case "ReplicaSet":
		rs, err := p.Clients.Kube.AppsV1().ReplicaSets(pod.Namespace).Get(ctx, ctl.Name, metav1.GetOptions{})
		if err != nil {
			return kube.Ref{}, kube.Describe("read replicaset "+pod.Namespace+"/"+ctl.Name, err)
		}
		if dep := metav1.GetControllerOf(rs); dep != nil && dep.Kind == "Deployment" {
			return kube.Ref{Kind: "Deployment", Namespace: pod.Namespace, Name: dep.Name}, nil
		}
	}
	return kube.Ref{}, errNoController
}

// restart sets the restart annotation on a workload's pod template.
func (p *Planner) restart(ctx context.Context, ref kube.Ref, dry kube.DryRun) error {
	if dry == kube.DryRunClient {
		return nil
	}
	patch := []byte(fmt.Sprintf(`{"spec":{"template":{"metadata":{"annotations":{%q:%q}}}}}`, restartAnnotation, time.Now().UTC().Format(time.RFC3339)))
	opts := metav1.PatchOptions{FieldManager: p.Clients.Manager(), DryRun: dry.Server()}
	apps := p.Clients.Kube.AppsV1()
	err := kube.Retry(ctx, func() (err error) {
		switch ref.Kind {
		case "Deployment":
			_, err = apps.Deployments(ref.Namespace).Patch(ctx, ref.Name, types.StrategicMergePatchType, patch, opts)
		case "StatefulSet":
			_, err = apps.StatefulSets(ref.Namespace).Patch(ctx, ref.Name, types.StrategicMergePatchType, patch, opts)
		default:
			_, err = apps.DaemonSets(ref.Namespace).Patch(ctx, ref.Name, types.StrategicMergePatchType, patch, opts)
		}
		return err
	})
	return kube.Describe(fmt.Sprintf("restart %s %s/%s", strings.ToLower(ref.Kind), ref.Namespace, ref.Name), err)
}
