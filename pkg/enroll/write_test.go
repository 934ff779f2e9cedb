package enroll

import (
	"context"
	"encoding/json"
	"errors"
	"strings"
	"testing"
	"time"

	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/apimachinery/pkg/util/wait"
	k8stesting "k8s.io/client-go/testing"

	"github.com/kubectl-waypoint/kubectl-waypoint/pkg/bulk"
	"github.com/kubectl-waypoint/kubectl-waypoint/pkg/istio"
	"github.com/kubectl-waypoint/kubectl-waypoint/pkg/kube"
)

func conflict(resource, name string) error {
	return apierrors.NewConflict(schema.GroupResource{Resource: resource}, name, errors.New("the object has been modified"))
}

// patches are the bodies of the patches sent to resource.
func patches(c *fakeCluster, resource string) []map[string]any {
	var out []map[string]any
	for _, f := range []*k8stesting.Fake{&c.kube.Fake, &c.dynamic.Fake} {
		for _, a := range f.Actions() {
			if p, ok := a.(k8stesting.PatchAction); ok && a.GetResource().Resource == resource {
				var body map[string]any
				_ = json.Unmarshal(p.GetPatch(), &body)
				out = append(out, body)
			}
		}
	}
	return out
}

func TestWriteDo(t *testing.T) {
	ctx := context.Background()
	c := newFakeCluster(svcObj("app", "s", map[string]string{"app": "s"}))
	w := Write{Kind: KindService, Namespace: "app", Name: "s", Labels: map[string]string{"app": "s"}, ResourceVersion: "1",
		Change: EnrollChange("app", "wp", "infra")}
	got, err := w.Do(ctx, c.clients())
	if err != nil || !got.Changed || got.Labels[istio.LabelUseWaypoint] != "wp" || got.Labels[istio.LabelUseWaypointNamespace] != "infra" || got.Labels["app"] != "s" {
		t.Fatalf("Do: %+v, %v", got, err)
	}
	ps := patches(c, "services")
	if len(ps) != 1 {
		t.Fatalf("patches %v", ps)
	}
	md := ps[0]["metadata"].(map[string]any)
	if md["resourceVersion"] != "1" || md["labels"].(map[string]any)[istio.LabelUseWaypoint] != "wp" || md["annotations"] != nil {
		t.Errorf("patch %v", ps[0])
	}

	// Already as asked: nothing sent.
	w.Labels = got.Labels
	again, err := w.Do(ctx, c.clients())
	if err != nil || again.Changed || len(patches(c, "services")) != 1 {
		t.Errorf("a second time: %+v, %v", again, err)
	}

	// A client dry run sends nothing and reads nothing.
	c = newFakeCluster(svcObj("app", "s", nil))
	dry, err := Write{Kind: KindService, Namespace: "app", Name: "s", Change: EnrollChange("app", "wp", ""), DryRun: kube.DryRunClient}.Do(ctx, c.clients())
	if err != nil || !dry.Changed || dry.Labels[istio.LabelUseWaypoint] != "wp" || len(c.kube.Actions())+len(c.metadata.Actions()) != 0 {
		t.Errorf("client dry run: %+v, %v", dry, err)
	}

	// No version given: read first (metadata only), then patch with it.
	c = newFakeCluster(podObj("app", "p", map[string]string{"app": "p"}))
	got, err = Write{Kind: KindPod, Namespace: "app", Name: "p", Change: EnrollChange("app", "wp", "")}.Do(ctx, c.clients())
	if err != nil || !got.Changed || got.Labels[istio.LabelUseWaypoint] != "wp" || got.Labels["app"] != "p" || c.requests("get", "pods") != 1 {
		t.Errorf("read first: %+v, %v", got, err)
	}
	if ps := patches(c, "pods"); len(ps) != 1 || ps[0]["metadata"].(map[string]any)["resourceVersion"] != "1" {
		t.Errorf("patch %v", ps)
	}
	// What that read finds enrolled was not seen by the caller: left alone.
	c = newFakeCluster(podObj("app", "p", use("old")))
	got, err = Write{Kind: KindPod, Namespace: "app", Name: "p", Change: UnenrollChange()}.Do(ctx, c.clients())
	if !errors.Is(err, ErrChangedSince) || got.Labels[istio.LabelUseWaypoint] != "old" || len(patches(c, "pods")) != 0 {
		t.Errorf("read first, enrolled: %+v, %v", got, err)
	}
	c = newFakeCluster()
	if _, err := (Write{Kind: KindPod, Namespace: "app", Name: "p", Change: UnenrollChange()}).Do(ctx, c.clients()); !apierrors.IsNotFound(err) {
		t.Errorf("read first, gone: %v", err)
	}
}

func TestWriteCanaryAnnotation(t *testing.T) {
	c := newFakeCluster(svcObj("app", "s", nil))
	ch := CanaryChange(EnrollChange("app", "wp", ""), "app", "next", "", 20)
	got, err := Write{Kind: KindService, Namespace: "app", Name: "s", ResourceVersion: "1", Change: ch}.Do(context.Background(), c.clients())
	if err != nil || !got.Changed || got.Labels[istio.LabelUseWaypointCanary] != "next" {
		t.Fatalf("%+v, %v", got, err)
	}
	md := patches(c, "services")[0]["metadata"].(map[string]any)
	ann, _ := md["annotations"].(map[string]any)
	if ann[istio.AnnotationCanaryWeight] != "20" {
		t.Errorf("the weight goes in the annotations: %v", md)
	}
	if _, ok := md["labels"].(map[string]any)[AnnotationKey(istio.AnnotationCanaryWeight)]; ok {
		t.Errorf("an annotation key in the labels: %v", md)
	}
	svc, _ := c.kube.CoreV1().Services("app").Get(context.Background(), "s", metav1.GetOptions{})
	if svc.Annotations[istio.AnnotationCanaryWeight] != "20" {
		t.Errorf("annotations %v", svc.Annotations)
	}
	// The weight alone differs: still a change.
	if !ch.NeededFor(got.Labels, map[string]string{istio.AnnotationCanaryWeight: "10"}) || ch.NeededFor(got.Labels, svc.Annotations) {
		t.Error("NeededFor the weight")
	}
}

func TestWriteConflicts(t *testing.T) {
	ctx := context.Background()
	// The object changed since it was read, its enrollment too: left alone.
	c := newFakeCluster(svcObj("app", "s", use("theirs")))
	w := Write{Kind: KindService, Namespace: "app", Name: "s", Labels: nil, ResourceVersion: "0", Change: EnrollChange("app", "mine", "")}
	c.kube.PrependReactor("patch", "services", func(k8stesting.Action) (bool, runtime.Object, error) {
		return true, nil, conflict("services", "s")
	})
	got, err := w.Do(ctx, c.clients())
	if !errors.Is(err, ErrChangedSince) || got.Changed || got.Labels[istio.LabelUseWaypoint] != "theirs" {
		t.Errorf("changed since: %+v, %v", got, err)
	}

	// Recheck may let it through: the patch then carries the new version.
	c = newFakeCluster(svcObj("app", "s", use("theirs")))
	calls := 0
	c.kube.PrependReactor("patch", "services", func(k8stesting.Action) (bool, runtime.Object, error) {
		calls++
		if calls == 1 {
			return true, nil, conflict("services", "s")
		}
		return false, nil, nil
	})
	var seen map[string]string
	w.Recheck = func(current map[string]string) error { seen = current; return nil }
	got, err = w.Do(ctx, c.clients())
	if err != nil || !got.Changed || got.Labels[istio.LabelUseWaypoint] != "mine" || seen[istio.LabelUseWaypoint] != "theirs" || calls != 2 {
		t.Errorf("rechecked: %+v, %v, saw %v, %d patches", got, err, seen, calls)
	}
	if ps := patches(c, "services"); len(ps) != 2 || ps[1]["metadata"].(map[string]any)["resourceVersion"] != "1" {
		t.Errorf("patches %v", ps)
	}
	// A Recheck that refuses.
	c = newFakeCluster(svcObj("app", "s", use("theirs")))
	c.kube.PrependReactor("patch", "services", func(k8stesting.Action) (bool, runtime.Object, error) {
		return true, nil, conflict("services", "s")
	})
	no := errors.New("no")
	w.Recheck = func(map[string]string) error { return no }
	if _, err := w.Do(ctx, c.clients()); !errors.Is(err, no) {
		t.Errorf("a refusing Recheck: %v", err)
	}

	// The labels are unchanged, only the version moved: tried again, up to
	// the bound, then the conflict is returned.
	c = newFakeCluster(svcObj("app", "s", nil))
	c.kube.PrependReactor("patch", "services", func(k8stesting.Action) (bool, runtime.Object, error) {
		return true, nil, conflict("services", "s")
	})
	w = Write{Kind: KindService, Namespace: "app", Name: "s", ResourceVersion: "0", Change: EnrollChange("app", "mine", "")}
	_, err = w.Do(ctx, c.clients())
	if !apierrors.IsConflict(err) || len(patches(c, "services")) != maxConflicts+1 || c.requests("get", "services") != maxConflicts {
		t.Errorf("endless conflicts: %v after %d patches and %d reads", err, len(patches(c, "services")), c.requests("get", "services"))
	}

	// Someone else made the change in between: done, not by us.
	c = newFakeCluster(svcObj("app", "s", use("mine")))
	c.kube.PrependReactor("patch", "services", func(k8stesting.Action) (bool, runtime.Object, error) {
		return true, nil, conflict("services", "s")
	})
	got, err = w.Do(ctx, c.clients())
	if err != nil || got.Changed || got.Labels[istio.LabelUseWaypoint] != "mine" {
		t.Errorf("made by someone else: %+v, %v", got, err)
	}

	// The object went away after the conflict.
	c = newFakeCluster(svcObj("app", "s", nil))
	c.kube.PrependReactor("patch", "services", func(k8stesting.Action) (bool, runtime.Object, error) {
		return true, nil, conflict("services", "s")
	})
	c.metadata.PrependReactor("get", "services", func(k8stesting.Action) (bool, runtime.Object, error) {
		return true, nil, apierrors.NewNotFound(schema.GroupResource{Resource: "services"}, "s")
	})
	if _, err := w.Do(ctx, c.clients()); !apierrors.IsNotFound(err) {
		t.Errorf("gone after the conflict: %v", err)
	}

	// Another fault is returned as it is.
	c = newFakeCluster(svcObj("app", "s", nil))
	c.kube.PrependReactor("patch", "services", func(k8stesting.Action) (bool, runtime.Object, error) {
		return true, nil, forbidden("services")
	})
	if _, err := w.Do(ctx, c.clients()); !apierrors.IsForbidden(err) || len(patches(c, "services")) != 1 {
		t.Errorf("forbidden: %v", err)
	}
}

func TestWritePerKind(t *testing.T) {
	ctx := context.Background()
	c := newFakeCluster(nsObj("app", nil), svcObj("app", "s", nil), podObj("app", "p", nil),
		istioObj("ServiceEntry", "app", "se", nil), istioObj("WorkloadEntry", "app", "we", nil))
	for _, tc := range []struct {
		kind     Kind
		ns, name string
	}{
		{KindNamespace, "", "app"}, {KindService, "app", "s"}, {KindPod, "app", "p"}, {KindServiceEntry, "app", "se"}, {KindWorkloadEntry, "app", "we"},
	} {
		got, err := Write{Kind: tc.kind, Namespace: tc.ns, Name: tc.name, ResourceVersion: "1", Change: EnrollChange(tc.ns, "wp", "")}.Do(ctx, c.clients())
		if err != nil || !got.Changed || got.Labels[istio.LabelUseWaypoint] != "wp" {
			t.Errorf("%s: %+v, %v", tc.kind, got, err)
		}
		if len(patches(c, tc.kind.GVR().Resource)) != 1 {
			t.Errorf("%s: patched %d times", tc.kind, len(patches(c, tc.kind.GVR().Resource)))
		}
	}
	// A server dry run is sent as one.
	c.kube.PrependReactor("patch", "pods", func(a k8stesting.Action) (bool, runtime.Object, error) {
		return true, nil, errors.New("dry run? " + strings.Join(a.(k8stesting.PatchActionImpl).PatchOptions.DryRun, ","))
	})
	_, err := Write{Kind: KindPod, Namespace: "app", Name: "p", Labels: use("wp"), ResourceVersion: "1", Change: UnenrollChange(), DryRun: kube.DryRunServer}.Do(ctx, c.clients())
	if err == nil || err.Error() != "dry run? All" {
		t.Errorf("server dry run: %v", err)
	}
	if _, err := patch(ctx, c.clients(), Kind("deployment"), "app", "d", "", nil, kube.DryRunNone); err == nil || err.Error() != `cannot patch kind "deployment"` {
		t.Errorf("an unknown kind: %v", err)
	}
	for _, k := range Kinds {
		c.fail("patch", k.GVR().Resource, errors.New("boom"))
		if _, err := patch(ctx, c.clients(), k, "app", "x", "application/merge-patch+json", []byte(`{}`), kube.DryRunNone); err == nil || err.Error() != "boom" {
			t.Errorf("%s: a failing patch: %v", k, err)
		}
	}
}

func TestWriteString(t *testing.T) {
	if s := (Write{Kind: KindService, Namespace: "default", Name: "reviews"}).String(); s != "service default/reviews" {
		t.Errorf("%s", s)
	}
	if s := (Write{Kind: KindNamespace, Name: "default"}).String(); s != "namespace default" {
		t.Errorf("%s", s)
	}
}

func TestChangeAllOutcomes(t *testing.T) {
	ctx := context.Background()
	c := newFakeCluster(svcObj("app", "s", nil), svcObj("app", "moved", use("theirs")), istioObj("ServiceEntry", "app", "se", nil))
	c.kube.PrependReactor("patch", "services", func(a k8stesting.Action) (bool, runtime.Object, error) {
		switch a.(k8stesting.PatchAction).GetName() {
		case "gone":
			return true, nil, apierrors.NewNotFound(schema.GroupResource{Resource: "services"}, "gone")
		case "moved":
			return true, nil, conflict("services", "moved")
		case "locked":
			return true, nil, forbidden("services")
		}
		return false, nil, nil
	})
	c.dynamic.PrependReactor("patch", "serviceentries", func(k8stesting.Action) (bool, runtime.Object, error) {
		return true, nil, missingType("networking.istio.io", "serviceentries")
	})
	targets := []Target{
		{Kind: KindService, Namespace: "app", Name: "s", ResourceVersion: "1"},
		{Kind: KindService, Namespace: "app", Name: "gone", ResourceVersion: "1"},
		{Kind: KindService, Namespace: "app", Name: "moved", ResourceVersion: "0"},
		{Kind: KindService, Namespace: "app", Name: "locked", ResourceVersion: "1"},
		{Kind: KindServiceEntry, Namespace: "app", Name: "se", ResourceVersion: "1"},
		{Kind: KindNamespace, Name: "ns-gone", ResourceVersion: "1"},
	}
	c.kube.PrependReactor("patch", "namespaces", func(k8stesting.Action) (bool, runtime.Object, error) {
		return true, nil, apierrors.NewNotFound(schema.GroupResource{Resource: "namespaces"}, "ns-gone")
	})
	var progress []int
	out := ChangeAll(ctx, c.clients(), targets, func(t Target) LabelChange { return EnrollChange(t.Own(), "wp", "") }, kube.DryRunNone, 1,
		func(done, total int) { progress = append(progress, done*10+total) })
	want := []string{
		"",
		"cannot label service app/gone: it no longer exists",
		"did not label service app/moved: " + ErrChangedSince.Error(),
		"cannot label service app/locked: forbidden",
		ErrNoServiceEntries.Error(),
		"cannot label namespace ns-gone: it no longer exists",
	}
	for i, o := range out {
		msg := ""
		if o.Err != nil {
			msg = o.Err.Error()
		}
		if !strings.HasPrefix(msg, want[i]) || (want[i] == "") != (msg == "") {
			t.Errorf("%s: %q, want %q", o.Target.Name, msg, want[i])
		}
	}
	if !errors.Is(out[2].Err, ErrChangedSince) || !out[0].Changed || out[1].Changed || out[0].After[istio.LabelUseWaypoint] != "wp" {
		t.Errorf("outcomes %+v", out)
	}
	if len(progress) != 6 || progress[5] != 66 {
		t.Errorf("progress %v", progress)
	}

	// Stopped: nothing starts, every outcome says so with its labels as read.
	stop := make(chan struct{})
	close(stop)
	out = ChangeAll(bulk.WithStop(ctx, stop), c.clients(), []Target{{Kind: KindService, Namespace: "app", Name: "s", Labels: use("x")}},
		func(Target) LabelChange { return UnenrollChange() }, kube.DryRunNone, 1, nil)
	if len(out) != 1 || !out[0].NotStarted || out[0].Before[istio.LabelUseWaypoint] != "x" || out[0].After[istio.LabelUseWaypoint] != "x" || out[0].Changed {
		t.Errorf("stopped: %+v", out)
	}
}

func TestEnrollmentLabels(t *testing.T) {
	all := map[string]string{"app": "x", istio.LabelUseWaypoint: "w", istio.LabelUseWaypointNamespace: "n",
		istio.LabelUseWaypointCanary: "c", istio.LabelUseWaypointCanaryNamespace: "cn", "istio.io/rev": "r",
		istio.LabelIngressUseWaypoint: "true"}
	got := EnrollmentLabels(all)
	if len(got) != 5 || got["app"] != "" || got[istio.LabelUseWaypointCanaryNamespace] != "cn" || got[istio.LabelIngressUseWaypoint] != "true" {
		t.Errorf("EnrollmentLabels %v", got)
	}
	if got := EnrollmentLabels(nil); got == nil || len(got) != 0 {
		t.Errorf("none: %v", got)
	}
	if got := annotationsOf(Target{}); got == nil || len(got) != 0 {
		t.Errorf("annotationsOf without annotations: %v", got)
	}
	ann := map[string]string{"a": "b"}
	if got := annotationsOf(Target{Annotations: ann}); got["a"] != "b" {
		t.Errorf("annotationsOf %v", got)
	}
}

// TestWriteEmptyLabelIsAChange: an enrollment label set to "" after the
// read is a change of enrollment (istiod reads use-waypoint="" as naming
// waypoint "", and an empty use-waypoint-namespace as namespace ""), so
// the write is left alone like any other change since the read. Before
// Enrollment kept empty labels, both read as no label and were overwritten.
func TestWriteEmptyLabelIsAChange(t *testing.T) {
	for _, now := range []map[string]string{use(""), useIn("wp", "")} {
		now = with(now, "app", "s")
		c := newFakeCluster(svcObj("app", "s", now))
		c.kube.PrependReactor("patch", "services", func(k8stesting.Action) (bool, runtime.Object, error) {
			return true, nil, conflict("services", "s")
		})
		read := map[string]string{"app": "s"}
		if now[istio.LabelUseWaypoint] == "wp" {
			read = with(use("wp"), "app", "s")
		}
		w := Write{Kind: KindService, Namespace: "app", Name: "s", Labels: read, ResourceVersion: "0", Change: EnrollChange("app", "mine", "")}
		got, err := w.Do(context.Background(), c.clients())
		if !errors.Is(err, ErrChangedSince) || got.Changed || len(patches(c, "services")) != 1 {
			t.Errorf("read %v, now %v: %+v, %v", read, now, got, err)
		}
	}
}

// TestWriteLostAnswerThenFaults: the patch's answer is lost (a 500 after
// the server wrote it) and every try after it fails too. The change is in
// the object: Do reads it back and says it made it, not that it failed.
func TestWriteLostAnswerThenFaults(t *testing.T) {
	ctx := kube.WithBackoff(context.Background(), wait.Backoff{Steps: 2, Duration: time.Millisecond})
	c := newFakeCluster(svcObj("app", "s", nil))
	c.kube.PrependReactor("patch", "services", func(k8stesting.Action) (bool, runtime.Object, error) {
		return true, nil, apierrors.NewInternalError(errors.New("after the write"))
	})
	c.metadata.PrependReactor("get", "services", func(k8stesting.Action) (bool, runtime.Object, error) {
		return true, &metav1.PartialObjectMetadata{ObjectMeta: metav1.ObjectMeta{Namespace: "app", Name: "s", Labels: use("mine"), ResourceVersion: "2"}}, nil
	})
	w := Write{Kind: KindService, Namespace: "app", Name: "s", ResourceVersion: "1", Change: EnrollChange("app", "mine", "")}
	got, err := w.Do(ctx, c.clients())
	if err != nil || !got.Changed || got.Labels[istio.LabelUseWaypoint] != "mine" {
		t.Errorf("lost answer, then faults: %+v, %v", got, err)
	}
	// Had the read shown the old labels, the fault is the answer.
	c = newFakeCluster(svcObj("app", "s", nil))
	c.kube.PrependReactor("patch", "services", func(k8stesting.Action) (bool, runtime.Object, error) {
		return true, nil, apierrors.NewInternalError(errors.New("after the write"))
	})
	if got, err := w.Do(ctx, c.clients()); !apierrors.IsInternalError(err) || got.Changed {
		t.Errorf("not written: %+v, %v", got, err)
	}
}
