package cli

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"maps"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	kubefake "k8s.io/client-go/kubernetes/fake"
	"k8s.io/client-go/tools/clientcmd"
	clientcmdapi "k8s.io/client-go/tools/clientcmd/api"

	"github.com/kubectl-waypoint/kubectl-waypoint/pkg/bulk"
	"github.com/kubectl-waypoint/kubectl-waypoint/pkg/istio"
	"github.com/kubectl-waypoint/kubectl-waypoint/pkg/kube"
	"github.com/kubectl-waypoint/kubectl-waypoint/pkg/render"
)

// fleetKubeconfig writes a kubeconfig with the named contexts, whose
// servers answer nothing: enough for what needs no cluster.
func fleetKubeconfig(t *testing.T, names ...string) string {
	t.Helper()
	kc := clientcmdapi.NewConfig()
	for _, n := range names {
		kc.Clusters[n] = &clientcmdapi.Cluster{Server: "https://127.0.0.1:1"}
		kc.AuthInfos[n] = &clientcmdapi.AuthInfo{Token: "t"}
		kc.Contexts[n] = &clientcmdapi.Context{Cluster: n, AuthInfo: n}
	}
	kc.CurrentContext = names[0]
	path := filepath.Join(t.TempDir(), "kubeconfig")
	if err := clientcmd.WriteToFile(*kc, path); err != nil {
		t.Fatal(err)
	}
	return path
}

func TestUnitFleetCompletesContexts(t *testing.T) {
	kc := fleetKubeconfig(t, "prod-eu", "prod-us", "staging")
	for _, tc := range []struct {
		word string
		want []string
	}{
		{"prod", []string{"prod-eu", "prod-us"}},
		{"prod-eu,", []string{"prod-eu,prod-us", "prod-eu,staging"}},
		{"prod-eu,st", []string{"prod-eu,staging"}},
	} {
		out, _, code := run(t, false, "__complete", "--kubeconfig", kc, "list", "--context", tc.word)
		if code != 0 {
			t.Fatalf("%q: exit %d", tc.word, code)
		}
		lines := strings.Split(strings.TrimSpace(out), "\n")
		if got := lines[:len(lines)-1]; strings.Join(got, " ") != strings.Join(tc.want, " ") {
			t.Errorf("completing --context %q: %q, want %q", tc.word, got, tc.want)
		}
	}
}

// TestUnitFleetUsageOnce: bad input over several clusters is said once,
// before any cluster is asked anything (their servers answer nothing).
func TestUnitFleetUsageOnce(t *testing.T) {
	kc := fleetKubeconfig(t, "a", "b", "c")
	for _, tty := range []bool{false, true} {
		out, errOut, code := run(t, tty, "--kubeconfig", kc, "apply", "--all-contexts", "--name", "none")
		if code != ExitUsage || out != "" || strings.Count(errOut, "\n") != 1 || strings.Contains(errOut, "[a]") {
			t.Errorf("tty %v: exit %d, stdout %q, stderr %q; want exit 2 and one unprefixed line", tty, code, out, errOut)
		}
	}
	// One context is kubectl's flag, as ever: no fan-out, no prefix.
	_, errOut, code := run(t, false, "--kubeconfig", kc, "list", "--context", "b", "--request-timeout", "2s")
	if code != ExitFailed || strings.Contains(errOut, "[b]") || !strings.Contains(errOut, "unreachable") {
		t.Errorf("one context: exit %d, stderr %q; want exit 1, unreachable, no prefix", code, errOut)
	}
}

// TestUnitFleetUnreachable: every cluster unreachable fails each, named.
func TestUnitFleetUnreachable(t *testing.T) {
	kc := fleetKubeconfig(t, "a", "b")
	out, errOut, code := run(t, false, "--kubeconfig", kc, "list", "--context", "a,b", "--request-timeout", "2s")
	if code != ExitFailed || out != "" {
		t.Fatalf("exit %d, stdout %q", code, out)
	}
	for _, want := range []string{"[a] error: cannot list waypoints: the API server at https://127.0.0.1:1 is unreachable", "[b] error: ", "error: 2 of 2 contexts failed: a (exit 1), b (exit 1)\n"} {
		if !strings.Contains(errOut, want) {
			t.Errorf("stderr lacks %q:\n%s", want, errOut)
		}
	}
}

func TestUnitFleetPrefixWriter(t *testing.T) {
	var buf bytes.Buffer
	var mu sync.Mutex
	a, b := newPrefixWriter(&buf, &mu, "a"), newPrefixWriter(&buf, &mu, "b")
	_, _ = a.Write([]byte("one\ntw"))
	_, _ = b.Write([]byte("x\n"))
	_, _ = a.Write([]byte("o\nthree"))
	a.flush()
	b.flush()
	if want := "[a] one\n[b] x\n[a] two\n[a] three\n"; buf.String() != want {
		t.Errorf("got %q, want %q", buf.String(), want)
	}
}

func TestUnitFleetOutcome(t *testing.T) {
	m := func(name string, err error) *fleetMember {
		return &fleetMember{context: name, err: err, finished: true}
	}
	timeout := timeoutError(errors.New("timed out"))
	for _, tc := range []struct {
		members []*fleetMember
		code    int
		msg     string
	}{
		{[]*fleetMember{m("a", nil), m("b", nil)}, ExitOK, ""},
		{[]*fleetMember{m("a", nil), m("b", errors.New("x"))}, ExitFailed, "1 of 2 contexts failed: b (exit 1)"},
		{[]*fleetMember{m("a", timeout), m("b", timeout)}, ExitTimeout, "2 of 2 contexts failed: a (exit 3), b (exit 3)"},
		{[]*fleetMember{m("a", timeout), m("b", errors.New("x"))}, ExitFailed, "2 of 2 contexts failed: a (exit 3), b (exit 1)"},
		{[]*fleetMember{m("a", nil), {context: "b"}}, ExitInterrupted, "interrupted; contexts not started: b; run the same command again to finish the rest"},
	} {
		err := fleetOutcome(tc.members)
		if ExitCode(err) != tc.code || (err != nil && err.Error() != tc.msg) {
			t.Errorf("got %v (exit %d), want %q (exit %d)", err, ExitCode(err), tc.msg, tc.code)
		}
	}
}

func TestUnitFleetKubeconfigErrors(t *testing.T) {
	kc := fleetKubeconfig(t, "a", "b")
	empty := filepath.Join(t.TempDir(), "empty")
	if err := os.WriteFile(empty, []byte("apiVersion: v1\nkind: Config\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		args []string
		want string
	}{
		{[]string{"--kubeconfig", empty, "list", "--all-contexts"}, "error: --all-contexts: the kubeconfig has no contexts\n"},
		{[]string{"--kubeconfig", kc, "generate", "--context", "a,b"}, "error: kubectl-waypoint generate works on one cluster: give one --context\n"},
		{[]string{"--kubeconfig", kc, "status", "--all-contexts", "--compare", "--wait"}, "error: --compare and --wait do not go together: --compare shows where the clusters differ now\n"},
	} {
		out, errOut, code := run(t, false, tc.args...)
		if code != ExitUsage || out != "" || errOut != tc.want {
			t.Errorf("%v: exit %d, stdout %q, stderr %q; want exit 2, %q", tc.args, code, out, errOut, tc.want)
		}
	}
}

// TestUnitFleetSnapshotLabels: the drift gate reads each namespace's labels
// as istiod does (enroll.Use). An empty use-waypoint-namespace names
// waypoint "/NAME", which a cluster where the label is absent does not
// use (the gate read "NAME" and saw no drift), and "none" opts out
// whatever namespace label stands beside it (the gate read "infra/none").
func TestUnitFleetSnapshotLabels(t *testing.T) {
	ns := func(name string, labels map[string]string) *corev1.Namespace {
		return &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: name, Labels: labels}}
	}
	c := &kube.Clients{Kube: kubefake.NewSimpleClientset(
		ns("own", map[string]string{istio.LabelUseWaypoint: "wp"}),
		ns("own-named", map[string]string{istio.LabelUseWaypoint: "wp", istio.LabelUseWaypointNamespace: "own-named"}),
		ns("across", map[string]string{istio.LabelUseWaypoint: "wp", istio.LabelUseWaypointNamespace: "infra"}),
		ns("empty-namespace", map[string]string{istio.LabelUseWaypoint: "wp", istio.LabelUseWaypointNamespace: ""}),
		ns("opted-out", map[string]string{istio.LabelUseWaypoint: "none", istio.LabelUseWaypointNamespace: "infra"}),
		ns("capital", map[string]string{istio.LabelUseWaypoint: "None"}),
		ns("namespace-label-only", map[string]string{istio.LabelUseWaypointNamespace: "infra"}),
		ns("plain", nil),
	)}
	snap, err := snapshot(context.Background(), c, "", nil)
	if err != nil {
		t.Fatal(err)
	}
	want := map[string]string{"own": "wp", "own-named": "wp", "across": "infra/wp", "empty-namespace": "/wp", "opted-out": "none", "capital": "None"}
	if !maps.Equal(snap.Namespaces, want) {
		t.Errorf("namespaces %v, want %v", snap.Namespaces, want)
	}
}

// TestUnitFleetObjects: the clusters' endings are put together as they
// were returned, never re-read from printed output: every record carries
// its context, a cluster that failed before its report is in the
// summaries with its error, status's rows become one list, and other
// documents go each under its context.
func TestUnitFleetObjects(t *testing.T) {
	rec := func(ns string) bulk.Record {
		return bulk.Record{Ref: kube.Ref{Kind: "Gateway", Namespace: ns, Name: "waypoint"}, Action: bulk.Created}
	}
	members := []*fleetMember{
		{context: "east", end: ending{report: bulk.NewReport([]bulk.Record{rec("a"), rec("b")}), format: render.FormatJSON}, finished: true},
		{context: "west", end: ending{report: bulk.NewReport([]bulk.Record{rec("a")}), format: render.FormatJSON}, finished: true},
		{context: "north", err: errors.New("forbidden"), finished: true},
	}
	io, out, _ := TestStreams(false)
	f := &Factory{IO: io}
	if err := f.printFleetObjects(oneReport, render.FormatJSON, members); err != nil {
		t.Fatal(err)
	}
	var rep bulk.Report
	if err := json.Unmarshal(out.Bytes(), &rep); err != nil {
		t.Fatal(err)
	}
	contexts := map[string]int{}
	for _, r := range rep.Records {
		contexts[r.Context]++
	}
	if want := map[string]int{"east": 2, "west": 1}; !maps.Equal(contexts, want) || rep.Summary.Total != 3 {
		t.Errorf("records by context %v, total %d; want %v, 3", contexts, rep.Summary.Total, want)
	}
	errs := map[string]string{}
	for _, c := range rep.Contexts {
		errs[c.Context] = c.Error
	}
	if want := map[string]string{"east": "", "west": "", "north": "forbidden"}; !maps.Equal(errs, want) {
		t.Errorf("summaries' errors %v, want %v", errs, want)
	}
	if members[0].end.report.Records[0].Context != "" {
		t.Error("the merge changed a cluster's own report")
	}

	out.Reset()
	rows := []*fleetMember{
		{context: "east", end: ending{doc: statusRows{{Namespace: "a", Name: "waypoint"}}}},
		{context: "west", end: ending{doc: statusRows{{Namespace: "b", Name: "waypoint"}, {Namespace: "c", Name: "waypoint"}}}},
	}
	if err := f.printFleetObjects(oneList, render.FormatJSON, rows); err != nil {
		t.Fatal(err)
	}
	var got []WaypointStatus
	if err := json.Unmarshal(out.Bytes(), &got); err != nil || len(got) != 3 || got[0].Context != "east" || got[2].Context != "west" || got[2].Namespace != "c" {
		t.Errorf("rows %+v (%v)", got, err)
	}

	out.Reset()
	docs := []*fleetMember{{context: "east", end: ending{doc: map[string]any{"kind": "List"}}}, {context: "west", err: errors.New("x")}}
	if err := f.printFleetObjects(eachDocument, render.FormatJSON, docs); err != nil {
		t.Fatal(err)
	}
	if want := `{"contexts":{"east":{"kind":"List"}}}`; strings.Join(strings.Fields(out.String()), "") != want {
		t.Errorf("documents %s, want %s", out.String(), want)
	}
}

// TestUnitFleetForCluster: each cluster's factory gets the connection
// flags of the command line as parsed, with its own context, and writes
// to its own streams.
func TestUnitFleetForCluster(t *testing.T) {
	kc := fleetKubeconfig(t, "a", "b")
	io, _, _ := TestStreams(false)
	f := NewFactory(io, "kubectl-waypoint")
	root := NewRootCommand(f)
	cmd, rest, err := root.Find([]string{"list"})
	if err != nil {
		t.Fatal(err)
	}
	args := []string{"--kubeconfig", kc, "-n", "x,y", "--request-timeout", "5s", "--context", "a,b", "--qps", "7", "--as", "someone"}
	if err := cmd.ParseFlags(append(rest, args...)); err != nil {
		t.Fatal(err)
	}
	sub, err := f.forCluster("b", &IOStreams{})
	if err != nil {
		t.Fatal(err)
	}
	cf := sub.ConfigFlags
	if *cf.KubeConfig != kc || *cf.Timeout != "5s" || *cf.Impersonate != "someone" || *cf.Context != "b" || sub.context != "b" {
		t.Errorf("connection flags: kubeconfig %q, timeout %q, as %q, context %q", *cf.KubeConfig, *cf.Timeout, *cf.Impersonate, *cf.Context)
	}
	if strings.Join(sub.namespaces, ",") != "x,y" || sub.qps != 7 || sub.IO == f.IO {
		t.Errorf("namespaces %v, qps %v, own streams %v", sub.namespaces, sub.qps, sub.IO != f.IO)
	}
	if f.context != "a" {
		t.Errorf("the parent's context changed to %q", f.context)
	}
}
