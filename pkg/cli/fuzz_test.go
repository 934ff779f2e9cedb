package cli

import (
	"maps"
	"slices"
	"strings"
	"testing"

	gatewayv1 "sigs.k8s.io/gateway-api/apis/v1"
	"sigs.k8s.io/yaml"

	"github.com/kubectl-waypoint/kubectl-waypoint/pkg/istio"
	"github.com/kubectl-waypoint/kubectl-waypoint/pkg/mesh"
)

// FuzzGenerate feeds the renderer's flags arbitrary values: generate must
// never panic, and either print a waypoint Gateway with one HBONE listener
// (exit 0) or refuse with one line (exit 2). A command line drawn valid
// from gen must print, for each namespace asked for, the waypoint asked
// for: its name, labels, and the namespaces it admits, read as istiod
// reads them. The seeds run with every go test; go test -fuzz FuzzGenerate
// ./pkg/cli explores further.
func FuzzGenerate(f *testing.F) {
	f.Add("waypoint", "service", "", "default", "", "", []byte{0, 1, 2, 3, 4, 5})
	f.Add("none", "bogus", "canary", "", "a,b", "", []byte{1, 2, 3, 4, 5, 6, 7})
	f.Add("w", "all", "1-2", "x", "", "team in (a,b),!x", []byte{2, 3, 4, 1, 2, 2, 9, 9})
	f.Add("", "", "", "", "", "a in (", []byte{3, 4, 5, 2, 3, 3, 4, 1, 7})
	f.Add("UPPER", "workload", "r/x", "n", ",,", "=", []byte{4, 0, 1, 3, 6, 7, 8, 9, 10, 11})
	f.Fuzz(func(t *testing.T, name, forType, revision, namespace, allow, selector string, gen []byte) {
		args := []string{"generate", "--name", name, "--for", forType}
		if revision != "" {
			args = append(args, "-r", revision)
		}
		if namespace != "" {
			args = append(args, "-n", namespace)
		}
		switch {
		case allow != "":
			args = append(args, "--allow-namespace", allow)
		case selector != "":
			args = append(args, "--allow-namespace-selector", selector)
		}
		stdout, stderr, code := run(t, false, args...)
		switch code {
		case ExitOK:
			gws := printedGateways(t, args, stdout)
			if gw := gws[0]; gw.Name != name || len(gw.Spec.Listeners) != 1 || gw.Spec.Listeners[0].Port != 15008 {
				t.Fatalf("%q: not the waypoint asked for:\n%s", args, stdout)
			}
		case ExitUsage:
			if stdout != "" || strings.Count(stderr, "\n") != 1 {
				t.Fatalf("%q: exit 2 must print one line on stderr and nothing on stdout: %q %q", args, stdout, stderr)
			}
		default:
			t.Fatalf("%q: exit %d: %s", args, code, stderr)
		}

		checkDrawnGenerate(t, drawGenerate(&choices{b: gen}))
	})
}

// printedGateways reads the YAML stream generate printed, one Gateway a
// document.
func printedGateways(t *testing.T, args []string, stdout string) []gatewayv1.Gateway {
	t.Helper()
	var gws []gatewayv1.Gateway
	for _, doc := range strings.Split(stdout, "\n---\n") {
		var gw gatewayv1.Gateway
		if err := yaml.UnmarshalStrict([]byte(doc), &gw); err != nil || gw.Kind != "Gateway" {
			t.Fatalf("%q: exit 0 but not a Gateway (%v):\n%s", args, err, stdout)
		}
		gws = append(gws, gw)
	}
	return gws
}

// drawnGenerate is a generate command line drawn valid, and what the
// Gateways it prints must be.
type drawnGenerate struct {
	args []string
	// name, labels and namespaces (sorted, "" for none) of the Gateways.
	name       string
	labels     map[string]string
	namespaces []string
	// from is whom they admit: the names in allowed, or by selector.
	from     gatewayv1.FromNamespaces
	allowed  []string
	selector drawnSelector
}

// drawGenerate draws --name (or the default), --for, -r, the namespaces
// (none, or several in one -n or in several), and at most one of the
// cross-namespace flags.
func drawGenerate(c *choices) drawnGenerate {
	d := drawnGenerate{args: []string{"generate"}, name: istio.DefaultWaypointName, labels: map[string]string{},
		namespaces: []string{""}, from: gatewayv1.NamespacesFromSame}
	if c.intn(4) > 0 {
		d.name = c.waypointName()
		d.args = append(d.args, "--name", d.name)
	}
	if i := c.intn(len(istio.TrafficTypes) + 1); i > 0 {
		t := string(istio.TrafficTypes[i-1])
		d.labels[istio.LabelWaypointFor] = t
		d.args = append(d.args, "--for", t)
	}
	if c.intn(3) == 0 {
		rev := c.labelValue()
		d.labels[istio.LabelRev] = rev
		d.args = append(d.args, "-r", rev)
	}
	if c.intn(2) == 0 {
		ns := c.namespaces()
		d.args = append(d.args, c.listFlag("-n", ns)...)
		d.namespaces = slices.Compact(slices.Sorted(slices.Values(ns)))
	}
	switch c.intn(4) {
	case 1:
		names := c.namespaces()
		d.args = append(d.args, c.listFlag("--allow-namespace", names)...)
		d.from, d.allowed = gatewayv1.NamespacesFromSelector, slices.Compact(slices.Sorted(slices.Values(names)))
	case 2:
		d.selector = drawSelector(c)
		d.args = append(d.args, "--allow-namespace-selector", d.selector.text)
		d.from = gatewayv1.NamespacesFromSelector
	case 3:
		d.args = append(d.args, "--allow-all-namespaces")
		d.from = gatewayv1.NamespacesFromAll
	}
	return d
}

// checkDrawnGenerate runs the drawn command line: it must print one
// Gateway for each namespace, the one drawn.
func checkDrawnGenerate(t *testing.T, d drawnGenerate) {
	t.Helper()
	stdout, stderr, code := run(t, false, d.args...)
	if code != ExitOK || stderr != "" {
		t.Fatalf("%q: valid, but exit %d: %s", d.args, code, stderr)
	}
	gws := printedGateways(t, d.args, stdout)
	if len(gws) != len(d.namespaces) {
		t.Fatalf("%q: %d Gateways for namespaces %q:\n%s", d.args, len(gws), d.namespaces, stdout)
	}
	for i, gw := range gws {
		w := mesh.Parse(&gw, nil)
		if w.Name != d.name || w.Namespace != d.namespaces[i] || !maps.Equal(gw.Labels, d.labels) || w.Listener != istio.ListenerName ||
			len(gw.Spec.Listeners) != 1 || !w.IsWaypointClass() || w.From != d.from {
			t.Fatalf("%q: not the waypoint asked for (%s/%s %v, from %s):\n%s", d.args, d.namespaces[i], d.name, d.labels, d.from, stdout)
		}
		if got, ok := w.AllowedNames(); d.allowed != nil && (!ok || !slices.Equal(got, d.allowed)) {
			t.Fatalf("%q: admits %q (%v), want %q", d.args, got, ok, d.allowed)
		}
		if s := d.selector; s.text != "" && (!w.Allows("elsewhere", s.match) || w.Allows("elsewhere", s.miss)) {
			t.Fatalf("%q: admits %v: %v, %v: %v; want true, false", d.args, s.match, w.Allows("elsewhere", s.match), s.miss, w.Allows("elsewhere", s.miss))
		}
	}
}

// choices hands out the decisions of a generated input, one fuzzed byte
// each, so that the fuzzer's mutations walk among valid inputs as well as
// invalid ones. Once the bytes run out, every decision is the first option.
type choices struct{ b []byte }

// intn decides among n options: 0 to n-1.
func (c *choices) intn(n int) int {
	if n <= 1 || len(c.b) == 0 {
		return 0
	}
	v := int(c.b[0]) % n
	c.b = c.b[1:]
	return v
}

const (
	dnsEdge   = "abcdefghijklmnopqrstuvwxyz0123456789"
	dnsInner  = dnsEdge + "-"
	nameEdge  = dnsEdge + "ABCDEFGHIJKLMNOPQRSTUVWXYZ"
	nameInner = nameEdge + "-_."
)

// word is 1 to most characters of inner, the first and the last of edge.
func (c *choices) word(most int, edge, inner string) string {
	b := make([]byte, 1+c.intn(most))
	for i := range b {
		set := inner
		if i == 0 || i == len(b)-1 {
			set = edge
		}
		b[i] = set[c.intn(len(set))]
	}
	return string(b)
}

// dnsLabel is a DNS-1123 label of 1 to 63 characters: a namespace name.
func (c *choices) dnsLabel() string { return c.word(63, dnsEdge, dnsInner) }

// waypointName is a DNS-1123 label other than the reserved "none".
func (c *choices) waypointName() string {
	if name := c.dnsLabel(); name != istio.NoWaypoint {
		return name
	}
	return "none-0"
}

// labelValue is a non-empty label value: a revision, a selector's value.
func (c *choices) labelValue() string { return c.word(63, nameEdge, nameInner) }

// namespaces are one to three namespace names, maybe repeated.
func (c *choices) namespaces() []string {
	names := []string{c.dnsLabel()}
	for range c.intn(3) {
		if c.intn(4) == 0 {
			names = append(names, names[0])
			continue
		}
		names = append(names, c.dnsLabel())
	}
	return names
}

// listFlag passes values to a list flag, comma-separated or one flag each;
// no values, no flag.
func (c *choices) listFlag(flag string, values []string) []string {
	if len(values) == 0 {
		return nil
	}
	if c.intn(2) == 0 {
		return []string{flag, strings.Join(values, ",")}
	}
	var args []string
	for _, v := range values {
		args = append(args, flag, v)
	}
	return args
}

// drawnSelector is a label selector in kubectl's syntax, labels it
// selects, and labels it does not (match with one requirement broken).
type drawnSelector struct {
	text        string
	match, miss map[string]string
}

// drawSelector draws one or two requirements, on keys of their own so
// that both can hold at once: =, !=, in, notin, exists or !exists.
func drawSelector(c *choices) drawnSelector {
	s := drawnSelector{match: map[string]string{}}
	var parts []string
	var breakFirst func(map[string]string)
	used := map[string]bool{}
	for range 1 + c.intn(2) {
		op, key := c.intn(6), c.dnsLabel()
		if used[key] {
			continue
		}
		used[key] = true
		v, vs := c.labelValue(), []string{c.labelValue(), c.labelValue()}
		unset := func(m map[string]string) { delete(m, key) }
		setTo := func(v string) func(map[string]string) { return func(m map[string]string) { m[key] = v } }
		part, breaks := "", unset
		switch op {
		case 0:
			part, s.match[key] = key+"="+v, v
		case 1:
			part, breaks = key+"!="+v, setTo(v)
		case 2:
			part, s.match[key] = key+" in ("+strings.Join(vs, ",")+")", vs[1]
		case 3:
			part, breaks = key+" notin ("+strings.Join(vs, ",")+")", setTo(vs[0])
		case 4:
			part, s.match[key] = key, v
		default:
			part, breaks = "!"+key, setTo(v)
		}
		parts = append(parts, part)
		if breakFirst == nil {
			breakFirst = breaks
		}
	}
	s.text = strings.Join(parts, ",")
	s.miss = maps.Clone(s.match)
	breakFirst(s.miss)
	return s
}
