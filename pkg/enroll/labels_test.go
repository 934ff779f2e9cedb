package enroll

import (
	"testing"

	"github.com/kubectl-waypoint/kubectl-waypoint/pkg/istio"
)

func TestParseKind(t *testing.T) {
	for want, names := range map[Kind][]string{
		KindNamespace:     {"namespace", "namespaces", "ns", "Namespace"},
		KindService:       {"service", "services", "svc", "SVC"},
		KindPod:           {"pod", "pods", "po"},
		KindServiceEntry:  {"serviceentry", "serviceentries", "se", "serviceentries.networking.istio.io", "ServiceEntry"},
		KindWorkloadEntry: {"workloadentry", "workloadentries", "we", "workloadentries.networking.istio.io"},
	} {
		for _, n := range names {
			if got, err := ParseKind(n); got != want || err != nil {
				t.Errorf("ParseKind(%q) = %q, %v; want %q", n, got, err, want)
			}
		}
	}
	_, err := ParseKind("deployment")
	if err == nil || err.Error() != `cannot enroll "deployment": the kinds are namespace (ns), service (svc), pod (po), serviceentry (se) and workloadentry (we)` {
		t.Errorf("an unknown kind: %v", err)
	}
}

func TestKindNames(t *testing.T) {
	cases := []struct {
		k                                  Kind
		api, plural, resource              string
		istioKind, service, workload, nsed bool
	}{
		{KindNamespace, "Namespace", "namespaces", "namespace", false, false, false, false},
		{KindService, "Service", "services", "service", false, true, false, true},
		{KindPod, "Pod", "pods", "pod", false, false, true, true},
		{KindServiceEntry, "ServiceEntry", "serviceentries", "serviceentries.networking.istio.io", true, true, false, true},
		{KindWorkloadEntry, "WorkloadEntry", "workloadentries", "workloadentries.networking.istio.io", true, false, true, true},
	}
	for _, tc := range cases {
		k := tc.k
		if k.APIKind() != tc.api || k.Plural() != tc.plural || k.Resource() != tc.resource ||
			k.IsIstio() != tc.istioKind || k.IsService() != tc.service || k.IsWorkload() != tc.workload || k.Namespaced() != tc.nsed {
			t.Errorf("%s: %s %s %s istio=%v service=%v workload=%v namespaced=%v", k, k.APIKind(), k.Plural(), k.Resource(),
				k.IsIstio(), k.IsService(), k.IsWorkload(), k.Namespaced())
		}
	}
	if len(Kinds) != 5 || Kinds[0] != KindNamespace || Kinds[4] != KindWorkloadEntry {
		t.Errorf("Kinds %v", Kinds)
	}
	if ServiceEntryGVR.String() != "networking.istio.io/v1, Resource=serviceentries" || WorkloadEntryGVR.String() != "networking.istio.io/v1, Resource=workloadentries" {
		t.Errorf("GVRs %s %s", ServiceEntryGVR, WorkloadEntryGVR)
	}
	if ErrNoIstioCRDs(KindServiceEntry) != ErrNoServiceEntries || ErrNoIstioCRDs(KindWorkloadEntry) != ErrNoWorkloadEntries {
		t.Error("ErrNoIstioCRDs")
	}
}

func TestEnrollment(t *testing.T) {
	e := EnrollmentOf(map[string]string{"istio.io/use-waypoint": "wp", "istio.io/use-waypoint-namespace": "infra", "x": "y"})
	if e != (Enrollment{Waypoint: "wp", Namespace: "infra"}) || !e.IsSet() || e.WaypointNamespace("app") != "infra" {
		t.Errorf("EnrollmentOf %+v", e)
	}
	e = EnrollmentOf(map[string]string{"istio.io/use-waypoint-namespace": "infra"})
	if e.IsSet() || e.WaypointNamespace("app") != "infra" {
		t.Errorf("a namespace label alone: %+v", e)
	}
	if e := EnrollmentOf(nil); e.IsSet() || e.WaypointNamespace("app") != "app" {
		t.Errorf("no labels: %+v", e)
	}
}

func ptr(s string) *string { return &s }

func changeText(c LabelChange) map[string]string {
	out := map[string]string{}
	for k, v := range c {
		if v == nil {
			out[k] = "<remove>"
		} else {
			out[k] = *v
		}
	}
	return out
}

func TestChanges(t *testing.T) {
	cases := []struct {
		name string
		c    LabelChange
		want map[string]string
	}{
		{"own namespace", EnrollChange("app", "wp", ""), map[string]string{istio.LabelUseWaypoint: "wp", istio.LabelUseWaypointNamespace: "<remove>"}},
		{"its own namespace named", EnrollChange("app", "wp", "app"), map[string]string{istio.LabelUseWaypoint: "wp", istio.LabelUseWaypointNamespace: "<remove>"}},
		{"elsewhere", EnrollChange("app", "wp", "infra"), map[string]string{istio.LabelUseWaypoint: "wp", istio.LabelUseWaypointNamespace: "infra"}},
		{"none has no namespace", EnrollChange("app", "none", "infra"), map[string]string{istio.LabelUseWaypoint: "none", istio.LabelUseWaypointNamespace: "<remove>"}},
		{"unenroll", UnenrollChange(), map[string]string{istio.LabelUseWaypoint: "<remove>", istio.LabelUseWaypointNamespace: "<remove>",
			istio.LabelUseWaypointCanary: "<remove>", istio.LabelUseWaypointCanaryNamespace: "<remove>", "annotation:istio.io/use-waypoint-canary-weight": "<remove>"}},
		{"canary in its own namespace", CanaryChange(LabelChange{}, "app", "next", "app", 5), map[string]string{istio.LabelUseWaypointCanary: "next",
			istio.LabelUseWaypointCanaryNamespace: "<remove>", "annotation:istio.io/use-waypoint-canary-weight": "5"}},
		{"canary without a namespace", CanaryChange(LabelChange{}, "app", "next", "", 0), map[string]string{istio.LabelUseWaypointCanary: "next",
			istio.LabelUseWaypointCanaryNamespace: "<remove>", "annotation:istio.io/use-waypoint-canary-weight": "0"}},
		{"canary elsewhere", CanaryChange(LabelChange{}, "app", "next", "infra", 100), map[string]string{istio.LabelUseWaypointCanary: "next",
			istio.LabelUseWaypointCanaryNamespace: "infra", "annotation:istio.io/use-waypoint-canary-weight": "100"}},
	}
	for _, tc := range cases {
		if got := changeText(tc.c); !mapsEqual(got, tc.want) {
			t.Errorf("%s:\n got %v\nwant %v", tc.name, got, tc.want)
		}
	}
	if AnnotationKey("a/b") != "annotation:a/b" {
		t.Errorf("AnnotationKey %s", AnnotationKey("a/b"))
	}
	labels, annotations := CanaryChange(EnrollChange("app", "wp", ""), "app", "next", "", 7).split()
	if len(labels) != 4 || len(annotations) != 1 || *annotations[istio.AnnotationCanaryWeight] != "7" || *labels[istio.LabelUseWaypoint] != "wp" {
		t.Errorf("split %v %v", labels, annotations)
	}
}

func TestApplyAndNeeded(t *testing.T) {
	c := LabelChange{"a": ptr("1"), "b": nil, AnnotationKey("w"): ptr("5")}
	in := map[string]string{"a": "0", "b": "x", "c": "y"}
	out := c.Apply(in)
	if !mapsEqual(out, map[string]string{"a": "1", "c": "y"}) {
		t.Errorf("Apply %v", out)
	}
	if !mapsEqual(in, map[string]string{"a": "0", "b": "x", "c": "y"}) {
		t.Errorf("Apply changed its input: %v", in)
	}
	if got := c.Apply(nil); !mapsEqual(got, map[string]string{"a": "1"}) {
		t.Errorf("Apply(nil) %v", got)
	}
	for _, tc := range []struct {
		labels, annotations map[string]string
		needed              bool
	}{
		{map[string]string{"a": "1"}, nil, false}, // annotations not compared
		{map[string]string{"a": "1"}, map[string]string{"w": "5"}, false},
		{map[string]string{"a": "1"}, map[string]string{"w": "4"}, true},
		{map[string]string{"a": "1"}, map[string]string{}, true},
		{map[string]string{"a": "1", "b": ""}, nil, true},   // to remove, even empty
		{map[string]string{"a": ""}, nil, true},             // a different value
		{map[string]string{}, nil, true},                    // missing
		{map[string]string{"a": "1", "c": "z"}, nil, false}, // other labels do not matter
	} {
		if got := c.NeededFor(tc.labels, tc.annotations); got != tc.needed {
			t.Errorf("NeededFor(%v, %v) = %v", tc.labels, tc.annotations, got)
		}
	}
	if c.Needed(map[string]string{"a": "1"}) || !c.Needed(map[string]string{"a": "2"}) {
		t.Error("Needed compares labels only")
	}
	if (LabelChange{AnnotationKey("w"): nil}).NeededFor(nil, map[string]string{}) {
		t.Error("an annotation to remove that is not there")
	}
}
