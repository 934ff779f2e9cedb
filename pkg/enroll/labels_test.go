package enroll

import (
	"encoding/json"
	"fmt"
	"slices"
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
	if e != (Enrollment{Waypoint: "wp", Namespace: "infra"}) || !e.IsSet() || e.Use("app").Namespace != "infra" || e.Use("app").Key() != "infra/wp" {
		t.Errorf("EnrollmentOf %+v", e)
	}
	// istiod reads the namespace label only beside istio.io/use-waypoint:
	// alone, it names nothing (the first reading took it as the namespace).
	e = EnrollmentOf(map[string]string{"istio.io/use-waypoint-namespace": "infra"})
	if e.IsSet() || e.Use("app") != (Use{}) {
		t.Errorf("a namespace label alone: %+v", e)
	}
	if e := EnrollmentOf(nil); e.IsSet() || e.Use("app") != (Use{}) {
		t.Errorf("no labels: %+v", e)
	}
	e = EnrollmentOf(map[string]string{"istio.io/use-waypoint": "", "istio.io/use-waypoint-namespace": ""})
	if e != (Enrollment{EmptyWaypoint: true, EmptyNamespace: true}) || !e.IsSet() ||
		!mapsEqual(e.Labels(), map[string]string{"istio.io/use-waypoint": "", "istio.io/use-waypoint-namespace": ""}) {
		t.Errorf("empty labels: %+v", e)
	}
	if e == (Enrollment{}) {
		t.Error("empty labels read as no labels: a conditional write would miss their change")
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

// absent marks a label that is not there, in the tables of the reader.
const absent = "<absent>"

// enrollmentLabels are the labels use-waypoint=use and
// use-waypoint-namespace=ns, leaving out those that are absent.
func enrollmentLabels(use, ns string) map[string]string {
	labels := map[string]string{"app": "x"}
	if use != absent {
		labels[istio.LabelUseWaypoint] = use
	}
	if ns != absent {
		labels[istio.LabelUseWaypointNamespace] = ns
	}
	return labels
}

// labelValues are the values each enrollment label takes in the tables:
// absent, present but empty, a name, the opt-out, and its capitalised
// spelling (a name to istiod, which compares with "none" exactly).
var labelValues = []string{absent, "", "infra", "none", "None"}

// useTable is what istiod's GetUseWaypoint makes of one object's labels,
// for an object in namespace app: every pair of labelValues.
var useTable = []struct {
	use, ns string
	want    Use
}{
	{absent, absent, Use{}},
	{absent, "", Use{}},
	{absent, "infra", Use{}},
	{absent, "none", Use{}},
	{absent, "None", Use{}},
	{"", absent, Use{Set: true, Name: "", Namespace: "app"}},
	{"", "", Use{Set: true, Name: "", Namespace: "", NamespaceLabeled: true}},
	{"", "infra", Use{Set: true, Name: "", Namespace: "infra", NamespaceLabeled: true}},
	{"", "none", Use{Set: true, Name: "", Namespace: "none", NamespaceLabeled: true}},
	{"", "None", Use{Set: true, Name: "", Namespace: "None", NamespaceLabeled: true}},
	{"infra", absent, Use{Set: true, Name: "infra", Namespace: "app"}},
	{"infra", "", Use{Set: true, Name: "infra", Namespace: "", NamespaceLabeled: true}},
	{"infra", "infra", Use{Set: true, Name: "infra", Namespace: "infra", NamespaceLabeled: true}},
	{"infra", "none", Use{Set: true, Name: "infra", Namespace: "none", NamespaceLabeled: true}},
	{"infra", "None", Use{Set: true, Name: "infra", Namespace: "None", NamespaceLabeled: true}},
	{"none", absent, Use{Set: true, None: true}},
	{"none", "", Use{Set: true, None: true}},
	{"none", "infra", Use{Set: true, None: true}},
	{"none", "none", Use{Set: true, None: true}},
	{"none", "None", Use{Set: true, None: true}},
	{"None", absent, Use{Set: true, Name: "None", Namespace: "app"}},
	{"None", "", Use{Set: true, Name: "None", Namespace: "", NamespaceLabeled: true}},
	{"None", "infra", Use{Set: true, Name: "None", Namespace: "infra", NamespaceLabeled: true}},
	{"None", "none", Use{Set: true, Name: "None", Namespace: "none", NamespaceLabeled: true}},
	{"None", "None", Use{Set: true, Name: "None", Namespace: "None", NamespaceLabeled: true}},
}

func lookupUse(t *testing.T, use, ns string) Use {
	t.Helper()
	for _, row := range useTable {
		if row.use == use && row.ns == ns {
			return row.want
		}
	}
	t.Fatalf("no row for use-waypoint %q, use-waypoint-namespace %q", use, ns)
	return Use{}
}

func TestUseOf(t *testing.T) {
	if len(useTable) != len(labelValues)*len(labelValues) {
		t.Fatalf("useTable has %d rows, want every pair of %d values", len(useTable), len(labelValues))
	}
	for _, row := range useTable {
		if got := UseOf(enrollmentLabels(row.use, row.ns), "app"); got != row.want {
			t.Errorf("use-waypoint %q, use-waypoint-namespace %q: %+v, want %+v", row.use, row.ns, got, row.want)
		}
	}
}

// TestDecidingUse reads every combination of the two labels on an object
// and on its namespace: the object's own use-waypoint decides when it is
// there (empty and "none" included), else the namespace's; each
// use-waypoint-namespace is read only beside its own use-waypoint. Resolve
// names the same waypoint from the same source.
func TestDecidingUse(t *testing.T) {
	for _, use := range labelValues {
		for _, ns := range labelValues {
			for _, nsUse := range labelValues {
				for _, nsNS := range labelValues {
					labels, nsLabels := enrollmentLabels(use, ns), enrollmentLabels(nsUse, nsNS)
					want, wantSource := lookupUse(t, use, ns), SourceOwn
					if !want.Set {
						want, wantSource = lookupUse(t, nsUse, nsNS), SourceNamespace
					}
					if !want.Set {
						wantSource = SourceNone
					}
					name := fmt.Sprintf("object %q/%q, namespace %q/%q", use, ns, nsUse, nsNS)
					got, source := DecidingUse(labels, nsLabels, "app")
					if got != want || source != wantSource {
						t.Errorf("%s: %+v from %q, want %+v from %q", name, got, source, want, wantSource)
					}
					r := Resolve(ResolveInput{Kind: KindService, Namespace: "app", Name: "s", Labels: labels, NamespaceLabels: nsLabels})
					wantReason := ReasonNotReady // no waypoint exists in this test
					switch {
					case !want.Set:
						wantReason = ReasonNoWaypoint
					case want.None:
						wantReason = ReasonOptedOut
					}
					if r.Waypoint != want.Key() || r.Source != wantSource || r.Reason != wantReason {
						t.Errorf("%s: Resolve names %q from %q (%s), want %q from %q (%s)", name, r.Waypoint, r.Source, r.Reason, want.Key(), wantSource, wantReason)
					}
					if wk := WantedWaypoints(ResolveInput{Kind: KindService, Namespace: "app", Name: "s", Labels: labels, NamespaceLabels: nsLabels}); want.Names() != slices.Contains(wk, want.Key()) {
						t.Errorf("%s: WantedWaypoints %v", name, wk)
					}
				}
			}
		}
	}
}

func TestUseViews(t *testing.T) {
	for _, tc := range []struct {
		u                   Use
		key, text, relative string
	}{
		{Use{}, "", "", ""},
		{Use{Set: true, None: true}, "", "none", "none"},
		{Use{Set: true, Name: "wp", Namespace: "app"}, "app/wp", "app/wp", "wp"},
		{Use{Set: true, Name: "wp", Namespace: "infra", NamespaceLabeled: true}, "infra/wp", "infra/wp", "infra/wp"},
		{Use{Set: true, Name: "wp", Namespace: "", NamespaceLabeled: true}, "/wp", `"wp" in namespace ""`, "/wp"},
		{Use{Set: true, Name: "", Namespace: "app"}, "app/", `"" in namespace "app"`, ""},
		{Use{Set: true, Name: "None", Namespace: "app"}, "app/None", "app/None", "None"},
	} {
		if got := tc.u.Key(); got != tc.key {
			t.Errorf("%+v: Key %q, want %q", tc.u, got, tc.key)
		}
		if got := tc.u.String(); got != tc.text {
			t.Errorf("%+v: String %q, want %q", tc.u, got, tc.text)
		}
		if got := tc.u.Relative("app"); got != tc.relative {
			t.Errorf("%+v: Relative %q, want %q", tc.u, got, tc.relative)
		}
	}
}

// TestKindJSON: documents name kinds as the API does, and read them back.
func TestKindJSON(t *testing.T) {
	for _, k := range []Kind{KindNamespace, KindService, KindPod, KindServiceEntry, KindWorkloadEntry, ""} {
		b, err := json.Marshal(k)
		if err != nil {
			t.Fatal(err)
		}
		if k == "" && string(b) != `""` {
			t.Errorf("the empty kind: %s", b)
		}
		if k != "" && string(b) != `"`+k.APIKind()+`"` {
			t.Errorf("%s: %s, want %q", k, b, k.APIKind())
		}
		var back Kind
		if err := json.Unmarshal(b, &back); err != nil || back != k {
			t.Errorf("%s read back as %q (%v)", b, back, err)
		}
	}
	var k Kind
	if err := json.Unmarshal([]byte(`"Deployment"`), &k); err == nil {
		t.Errorf("Deployment read as %q", k)
	}
}
