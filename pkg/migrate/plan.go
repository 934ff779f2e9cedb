// Package migrate plans the move of namespaces from sidecars to ambient
// mode with waypoints: what each sidecar-era object does once its pods
// leave their sidecars, and the steps, in phases, that keep every policy.
package migrate

import (
	"fmt"
	"slices"
	"sort"
	"strings"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/labels"

	"github.com/kubectl-waypoint/kubectl-waypoint/pkg/enroll"
	"github.com/kubectl-waypoint/kubectl-waypoint/pkg/istio"
	"github.com/kubectl-waypoint/kubectl-waypoint/pkg/kube"
	"github.com/kubectl-waypoint/kubectl-waypoint/pkg/mesh"
)

// Code names a kind of finding; codes are stable, documented in
// docs/troubleshooting.md, and what a pipeline matches on.
type Code string

// The finding codes.
const (
	// AuthorizationPolicies without targetRefs, as istiod converts them.
	CodeAuthzAllowHTTP            Code = "AuthzAllowHTTP"
	CodeAuthzDenyHTTP             Code = "AuthzDenyHTTP"
	CodeAuthzDenyNoEffect         Code = "AuthzDenyNoEffect"
	CodeAuthzUnsupportedAction    Code = "AuthzUnsupportedAction"
	CodeAuthzDryRun               Code = "AuthzDryRun"
	CodeSelectorPolicyIgnored     Code = "SelectorPolicyIgnored"
	CodeRouteNeedsWaypoint        Code = "RouteNeedsWaypoint"
	CodeVirtualServiceToHTTPRoute Code = "VirtualServiceToHTTPRoute"
	CodeEnvoyFilterUnsupported    Code = "EnvoyFilterUnsupported"
	CodeSidecarResourceIgnored    Code = "SidecarResourceIgnored"
	CodeWaypointNeeded            Code = "WaypointNeeded"
	CodeNamespaceEnrollment       Code = "NamespaceEnrollment"
	CodeServiceEnrollment         Code = "ServiceEnrollment"
	CodeNamespaceToAmbient        Code = "NamespaceToAmbient"
	CodePodsRunSidecars           Code = "PodsRunSidecars"
)

// codeEffect is the code of each way ztunnel does not enforce a policy as written.
var codeEffect = map[ZtunnelEffect]Code{
	EffectAllowHTTPOmitted: CodeAuthzAllowHTTP, EffectDenyWithoutHTTP: CodeAuthzDenyHTTP, EffectDenyNoEffect: CodeAuthzDenyNoEffect,
	EffectUnsupportedAction: CodeAuthzUnsupportedAction, EffectDryRun: CodeAuthzDryRun,
}

// The phases of a migration, in the order they must run.
const (
	// PhaseWaypoints brings waypoints, enrollment and the converted copies,
	// harmless while the pods still run sidecars.
	PhaseWaypoints = 1
	// PhaseAmbient moves the namespace to ambient and restarts its pods
	// without sidecars.
	PhaseAmbient = 2
	// PhaseCleanup removes the originals that ztunnel would enforce wrongly, or
	// that nothing applies any more.
	PhaseCleanup = 3
)

// PhaseNames say what each phase does.
var PhaseNames = map[int]string{
	PhaseWaypoints: "waypoints, enrollment and converted copies",
	PhaseAmbient:   "namespaces to ambient",
	PhaseCleanup:   "originals removed",
}

// Granularity is what a planned waypoint serves: a whole namespace, or one
// Service.
type Granularity string

// The granularities.
const (
	// GranularityNamespace plans one waypoint per namespace, the
	// namespace enrolled in it.
	GranularityNamespace Granularity = "namespace"
	// GranularityService plans one waypoint per Service that needs one,
	// named <service>-svc-waypoint, the Service enrolled in it.
	GranularityService Granularity = "service"
)

// Granularities are the granularities, in the order of --granularity's help.
var Granularities = []string{string(GranularityNamespace), string(GranularityService)}

// Mode is the data-plane mode of a namespace.
type Mode string

// The modes.
const (
	ModeSidecar Mode = "sidecar"
	ModeAmbient Mode = "ambient"
	ModeNone    Mode = "none"
)

// Step is one thing to do about a finding, in a phase.
type Step struct {
	Phase int `json:"phase"`
	// Do says what to do in words.
	Do string `json:"do"`
	// Command is the command that does it, when one does.
	Command string `json:"command,omitempty"`
	// Auto says migrate apply carries it out; the others are the user's.
	Auto bool `json:"auto,omitempty"`
}

// Finding is one object that needs attention to move to ambient.
type Finding struct {
	Code   Code     `json:"code"`
	Object kube.Ref `json:"object"`
	// Ambient says what happens to the object in ambient mode, as things are.
	Ambient string `json:"ambient"`
	Steps   []Step `json:"steps"`
	// Ztunnel is the prediction of istiod's ZtunnelAccepted, for an
	// AuthorizationPolicy.
	Ztunnel *ZtunnelVerdict `json:"ztunnel,omitempty"`
	// ZtunnelAccepted is the condition istiod wrote, when it wrote one.
	ZtunnelAccepted *metav1.Condition `json:"ztunnelAccepted,omitempty"`
	// Copy is the converted copy phase 1 creates, for a policy that has an
	// exact conversion.
	Copy *unstructured.Unstructured `json:"copy,omitempty"`
	// Rewrite is the original as --replace rewrites it in place, with
	// targetRefs in place of its selector; ExistingCopy is the copy that
	// is deleted after it.
	Rewrite      *unstructured.Unstructured `json:"rewrite,omitempty"`
	ExistingCopy string                     `json:"existingCopy,omitempty"`
	// original is the object as the plan read it, for a rewrite.
	original *unstructured.Unstructured
	// Replacement is the HTTPRoute that replaces a VirtualService in phase
	// 3, when it has an exact conversion.
	Replacement *unstructured.Unstructured `json:"replacement,omitempty"`
	// WaypointName is the name of the waypoint to apply (WaypointNeeded)
	// or to enroll in (NamespaceEnrollment, ServiceEnrollment), in the
	// namespace; Object is the namespace or the Service that uses it.
	WaypointName string `json:"waypoint,omitempty"`
}

// Namespace is the namespace a finding belongs to: its object's, or the
// namespace itself.
func (f Finding) Namespace() string {
	if f.Object.Kind == "Namespace" {
		return f.Object.Name
	}
	return f.Object.Namespace
}

// NamespacePlan is the plan of one namespace.
type NamespacePlan struct {
	Name     string    `json:"name"`
	Mode     Mode      `json:"mode"`
	Findings []Finding `json:"findings"`
	// Enrollment are the namespace's enrollment labels once phase 1 is
	// done: those it has, or those phase 1 sets. A later patch of the
	// namespace by the same field manager must repeat them, or a
	// server-side apply would remove them.
	Enrollment map[string]string `json:"enrollment,omitempty"`
	// SidecarPods are the pods that run a sidecar, sorted: phase 3 waits
	// for them.
	SidecarPods []string `json:"sidecarPods,omitempty"`
	// sidecarPods are those pods as read, for phase 2 to find their
	// controllers without listing them again.
	sidecarPods []corev1.Pod
}

// Plan is what is left to do, by namespace.
type Plan struct {
	Namespaces []NamespacePlan `json:"namespaces"`
	// Absent are the kinds whose CRD is not installed.
	Absent []string `json:"absentKinds,omitempty"`
}

// Count is the number of findings.
func (p *Plan) Count() int {
	n := 0
	for _, ns := range p.Namespaces {
		n += len(ns.Findings)
	}
	return n
}

// ModeOf is the data-plane mode a namespace's labels ask for, as istiod and
// the sidecar injector read them: ambient wins over injection.
func ModeOf(nsLabels map[string]string) Mode {
	if nsLabels[istio.LabelDataplaneMode] == istio.DataplaneModeAmbient {
		return ModeAmbient
	}
	if v, ok := nsLabels["istio-injection"]; ok {
		if v == "enabled" {
			return ModeSidecar
		}
		return ModeNone
	}
	if nsLabels[istio.LabelRev] != "" {
		return ModeSidecar
	}
	return ModeNone
}

// HasSidecar says whether a pod runs a sidecar: the injector's status
// annotation (a container named istio-proxy is no sign: waypoints and
// gateways run one as their only container).
func HasSidecar(pod *corev1.Pod) bool {
	_, ok := pod.Annotations["sidecar.istio.io/status"]
	return ok
}

// world is what the planner read, by namespace.
type world struct {
	root string
	// perService plans a waypoint per Service (GranularityService).
	perService bool
	// replace rewrites originals in place where no sidecar applies them.
	replace    bool
	namespaces map[string]*corev1.Namespace
	// objects of every kind read, by kind name then namespace.
	objects    map[string]map[string][]unstructured.Unstructured
	services   map[string][]corev1.Service
	pods       map[string][]corev1.Pod
	waypoints  map[string][]mesh.Waypoint
	waypointOf map[string]mesh.Waypoint // by namespace/name
	// sidecars are the pods of each namespace that run a sidecar
	// (sidecarPods), once found.
	sidecars map[string][]corev1.Pod
}

// sidecarPods are the pods of namespace ns that run a sidecar, sorted by
// name; found once per namespace.
func (w *world) sidecarPods(ns string) []corev1.Pod {
	if pods, ok := w.sidecars[ns]; ok {
		return pods
	}
	var pods []corev1.Pod
	for i := range w.pods[ns] {
		if HasSidecar(&w.pods[ns][i]) {
			pods = append(pods, w.pods[ns][i])
		}
	}
	slices.SortFunc(pods, func(a, b corev1.Pod) int { return strings.Compare(a.Name, b.Name) })
	if w.sidecars == nil {
		w.sidecars = map[string][]corev1.Pod{}
	}
	w.sidecars[ns] = pods
	return pods
}

// sidecarsApply says sidecars may still apply the namespace's originals:
// it is not ambient, or some of its pods still run one.
func (w *world) sidecarsApply(ns *corev1.Namespace) bool {
	return ModeOf(ns.Labels) != ModeAmbient || len(w.sidecarPods(ns.Name)) > 0
}

// perServiceIn says the Services of ns get waypoints of their own: with
// GranularityService, in a namespace whose label names no waypoint (one
// that does keeps serving them).
func (w *world) perServiceIn(ns *corev1.Namespace) bool {
	return w.perService && !enroll.UseOf(ns.Labels, ns.Name).Names()
}

// planNamespace makes the plan of one namespace.
func (w *world) planNamespace(ns *corev1.Namespace) NamespacePlan {
	p := NamespacePlan{Name: ns.Name, Mode: ModeOf(ns.Labels), Findings: []Finding{}}
	needsWaypoint := false
	for _, obj := range w.objects[kindAuthorizationPolicy][ns.Name] {
		f, ok := w.authorizationFinding(ns, &obj)
		if !ok {
			continue
		}
		if f.Code != CodeAuthzUnsupportedAction && f.Code != CodeAuthzDryRun {
			needsWaypoint = true
		}
		p.Findings = append(p.Findings, f)
	}
	for _, kind := range selectorKinds {
		for _, obj := range w.objects[kind][ns.Name] {
			spec, _, _ := unstructured.NestedMap(obj.Object, "spec")
			sel, _, _ := unstructured.NestedStringMap(spec, "selector", "matchLabels")
			if hasTargetRefs(spec) || len(sel) == 0 {
				continue
			}
			needsWaypoint = true
			ref := kube.Ref{Kind: kind, Namespace: ns.Name, Name: obj.GetName()}
			f := Finding{Code: CodeSelectorPolicyIgnored, Object: ref,
				Ambient: "has no effect on ambient pods: it selects pods, and only a sidecar applies a selector"}
			w.policySteps(ns, &obj, sel, "which nothing applies in ambient", &f)
			p.Findings = append(p.Findings, f)
		}
	}
	routes, unbound := w.routeFindings(ns)
	for _, f := range routes {
		needsWaypoint = true
		p.Findings = append(p.Findings, f)
	}
	for _, kind := range []string{kindEnvoyFilter, kindSidecar} {
		for _, obj := range w.objects[kind][ns.Name] {
			ref := kube.Ref{Kind: kind, Namespace: ns.Name, Name: obj.GetName()}
			f := Finding{Code: CodeEnvoyFilterUnsupported, Object: ref,
				Ambient: "not supported with waypoints nor applied by ztunnel; it has no exact conversion",
				Steps:   []Step{{Phase: PhaseCleanup, Do: "express what it does another way (an HTTPRoute filter, a WasmPlugin with targetRefs), then delete it", Command: deleteCommand(ref)}}}
			if kind == kindSidecar {
				f = Finding{Code: CodeSidecarResourceIgnored, Object: ref,
					Ambient: "ignored in ambient: it configures sidecars only",
					Steps:   []Step{{Phase: PhaseCleanup, Auto: true, Do: "delete it once no pod of the namespace runs a sidecar", Command: deleteCommand(ref)}}}
			}
			p.Findings = append(p.Findings, f)
		}
	}
	if ns.Name == w.root {
		// The root namespace's policies are mesh-wide; the namespace
		// itself runs istiod, not applications.
		return p
	}
	for _, l := range []string{istio.LabelUseWaypoint, istio.LabelUseWaypointNamespace} {
		if v, ok := ns.Labels[l]; ok {
			if p.Enrollment == nil {
				p.Enrollment = map[string]string{}
			}
			p.Enrollment[l] = v
		}
	}
	switch {
	case w.perServiceIn(ns):
		var services []Finding
		for _, svc := range w.servicesToServe(ns.Name, p.Findings, unbound) {
			if f, ok := w.serviceWaypointFinding(ns, svc); ok {
				services = append(services, f)
			}
		}
		p.Findings = append(services, p.Findings...)
	case needsWaypoint:
		if f, ok := w.waypointFinding(ns); ok {
			p.Findings = append([]Finding{f}, p.Findings...)
			p.Enrollment = map[string]string{istio.LabelUseWaypoint: f.WaypointName}
		}
	}
	p.sidecarPods = w.sidecarPods(ns.Name)
	for _, pod := range p.sidecarPods {
		p.SidecarPods = append(p.SidecarPods, pod.Name)
	}
	p.Findings = append(p.Findings, ambientFindings(ns, p.Mode, p.SidecarPods)...)
	if w.sidecarsApply(ns) {
		for i := range p.Findings {
			if step, ok := w.narrowStep(ns, &p.Findings[i]); ok {
				p.Findings[i].Steps = append(p.Findings[i].Steps, step)
				slices.SortStableFunc(p.Findings[i].Steps, func(a, b Step) int { return a.Phase - b.Phase })
			}
		}
		// Phase 3 removes what the pods' sidecars still apply.
		for i := range p.Findings {
			for j, s := range p.Findings[i].Steps {
				if s.Phase == PhaseCleanup && p.Findings[i].Code != CodeSidecarResourceIgnored {
					p.Findings[i].Steps[j].Do = "after phase 2 (the pods still run sidecars that apply it): " + s.Do
				}
			}
		}
	}
	return p
}

// LabelTLSMode is the label the sidecar injector sets on every pod it
// injects ("istio", unless the pod has a value of its own); pods in ambient
// mode do not have it.
const LabelTLSMode = "security.istio.io/tlsMode"

// narrowStep is the step of phase 2 that keeps ztunnel from enforcing an
// AuthorizationPolicy wrongly on the pods that come back from their
// restart without a sidecar, while the others still run one: its selector
// narrowed to the pods the injector labelled, before any restart. Between
// phases 2 and 3 the pods without a sidecar are then under the copy on
// their waypoint only, and those with one under the original as before.
// Only for a policy ztunnel would enforce wrongly (an ALLOW that loses
// rules, a DENY that denies more) whose copy exists or is planned, and
// whose selector does not already say which pods by that label.
func (w *world) narrowStep(ns *corev1.Namespace, f *Finding) (Step, bool) {
	if f.Ztunnel == nil || (f.Ztunnel.Effect != EffectAllowHTTPOmitted && f.Ztunnel.Effect != EffectDenyWithoutHTTP) || ns.Name == w.root {
		return Step{}, false
	}
	objs := w.objects[kindAuthorizationPolicy][ns.Name]
	i := slices.IndexFunc(objs, func(o unstructured.Unstructured) bool { return o.GetName() == f.Object.Name })
	if i < 0 || (f.Copy == nil && w.copyOf(&objs[i]) == "") {
		return Step{}, false
	}
	if _, ok, _ := unstructured.NestedString(objs[i].Object, "spec", "selector", "matchLabels", LabelTLSMode); ok {
		return Step{}, false
	}
	return Step{Phase: PhaseAmbient, Auto: true,
		Do:      fmt.Sprintf("before the restarts, narrow its selector to the pods that run a sidecar (%s=istio, which the injector sets), so that ztunnel never enforces it on the pods that come back without one; its copy covers those", LabelTLSMode),
		Command: fmt.Sprintf(`kubectl patch authorizationpolicy %s -n %s --type merge -p '{"spec":{"selector":{"matchLabels":{%q:"istio"}}}}'`, f.Object.Name, ns.Name, LabelTLSMode)}, true
}

// authorizationFinding is the finding of an AuthorizationPolicy that ztunnel
// would not enforce as written; ok is false when it would.
func (w *world) authorizationFinding(ns *corev1.Namespace, obj *unstructured.Unstructured) (Finding, bool) {
	v, ok := PredictZtunnel(obj)
	if !ok || v.Effect == EffectEnforced {
		return Finding{}, false
	}
	ref := kube.Ref{Kind: kindAuthorizationPolicy, Namespace: ns.Name, Name: obj.GetName()}
	f := Finding{Code: codeEffect[v.Effect], Object: ref, Ztunnel: &v}
	for _, c := range kube.Conditions(obj) {
		if c.Type == "ZtunnelAccepted" {
			f.ZtunnelAccepted = &c
		}
	}
	attrs := strings.Join(v.HTTPAttributes, ", ")
	sel, _, _ := unstructured.NestedStringMap(obj.Object, "spec", "selector", "matchLabels")
	scope := "its pods"
	if len(sel) == 0 {
		scope = "the namespace's pods"
		if ns.Name == w.root {
			scope = "every ambient pod of the mesh"
		}
	}
	switch v.Effect {
	case EffectAllowHTTPOmitted:
		f.Ambient = fmt.Sprintf("ztunnel drops its rules with HTTP attributes (%s): it allows less than it says to %s, nothing when every rule has one", attrs, scope)
	case EffectDenyWithoutHTTP:
		f.Ambient = fmt.Sprintf("ztunnel enforces it without its HTTP attributes (%s): it denies more than it says to %s", attrs, scope)
	case EffectDenyNoEffect:
		f.Ambient = fmt.Sprintf("once its HTTP attributes (%s) are dropped no rule is left that ztunnel can match: it denies nothing to %s", attrs, scope)
	case EffectUnsupportedAction:
		f.Ambient = "ztunnel does not apply its action; only a waypoint can (CUSTOM) or nothing does (AUDIT)"
	case EffectDryRun:
		f.Ambient = "istiod does not send dry-run policies to ztunnel"
	}
	why := "which ztunnel would enforce without its HTTP rules"
	switch v.Effect {
	case EffectDryRun, EffectUnsupportedAction:
		why = "which ztunnel does not apply"
	case EffectDenyNoEffect:
		why = "which ztunnel would not enforce at all"
	}
	w.policySteps(ns, obj, sel, why, &f)
	return f, true
}

// policySteps sets the steps of a policy that moves to the waypoint: its
// copy in phase 1 (done when a copy of it exists: a policy of its kind
// and namespace whose AnnotationConvertedFrom names it), the original's
// deletion in phase 3; and the copy to create, if any. With --replace
// (world.replace) the original is rewritten in place instead, where no
// sidecar applies it any more: in phase 1 in an ambient namespace whose
// pods run no sidecar, with no copy; else in phase 3, its copy deleted
// after it.
func (w *world) policySteps(ns *corev1.Namespace, obj *unstructured.Unstructured, sel map[string]string, why string, f *Finding) {
	ref := kube.Ref{Kind: obj.GetKind(), Namespace: ns.Name, Name: obj.GetName()}
	copied, copy := w.copyStep(ns, obj, sel)
	existing := w.copyObject(obj)
	if w.replace && (copy != nil || existing != nil) {
		from := copy
		if existing != nil {
			from, f.ExistingCopy = existing, existing.GetName()
		}
		targets, _, _ := unstructured.NestedSlice(from.Object, "spec", "targetRefs")
		f.Rewrite, f.original = rewrite(obj, targets), obj
		step := Step{Phase: PhaseCleanup, Auto: true, Do: fmt.Sprintf("rewrite the original in place, %s: targetRefs %s in place of its selector", why, targetNames(targets))}
		switch {
		case existing != nil:
			step.Do += ", then delete its copy " + existing.GetName()
			f.Steps = []Step{step}
		case !w.sidecarsApply(ns):
			// No sidecar applies the original: it can change now.
			step.Phase = PhaseWaypoints
			f.Steps = []Step{step}
		default:
			f.Steps, f.Copy = []Step{copied, step}, copy
		}
		return
	}
	if existing != nil {
		f.Steps = []Step{{Phase: PhaseCleanup, Auto: true, Do: fmt.Sprintf("delete the original, %s (its copy %s exists)", why, existing.GetName()), Command: deleteCommand(ref)}}
		return
	}
	f.Steps, f.Copy = []Step{copied, cleanupStep(copied, ref, why)}, copy
}

// rewrite is the original as --replace rewrites it: its spec without the
// selector and with targets, the rest as read (its resourceVersion too, so
// that the update fails if anyone changed it since; see rewriteInPlace).
func rewrite(obj *unstructured.Unstructured, targets []any) *unstructured.Unstructured {
	r := obj.DeepCopy()
	unstructured.RemoveNestedField(r.Object, "spec", "selector")
	unstructured.RemoveNestedField(r.Object, "metadata", "managedFields")
	_ = unstructured.SetNestedSlice(r.Object, targets, "spec", "targetRefs")
	return r
}

// targetNames says which objects targetRefs name: "Service reviews, ...".
func targetNames(targets []any) string {
	names := make([]string, len(targets))
	for i, t := range targets {
		ref, _ := t.(map[string]any)
		names[i] = fmt.Sprintf("%v %v", ref["kind"], ref["name"])
	}
	return "to " + strings.Join(names, ", ")
}

// copyOf is the name of an existing copy of obj (of its own kind, or of
// kind as given), "" when there is none.
func (w *world) copyOf(obj *unstructured.Unstructured, kind ...string) string {
	if c := w.copyObject(obj, kind...); c != nil {
		return c.GetName()
	}
	return ""
}

// copyObject is an existing copy of obj (of its own kind, or of kind as
// given), nil when there is none.
func (w *world) copyObject(obj *unstructured.Unstructured, kind ...string) *unstructured.Unstructured {
	want := obj.GetKind() + "/" + obj.GetName()
	k := obj.GetKind()
	if len(kind) > 0 {
		k = kind[0]
	}
	objs := w.objects[k][obj.GetNamespace()]
	for i := range objs {
		if objs[i].GetAnnotations()[AnnotationConvertedFrom] == want {
			return &objs[i]
		}
	}
	return nil
}

// cleanupStep is the step of phase 3 that deletes an original; when its
// copy has no exact conversion, only once the user has replaced it.
func cleanupStep(copied Step, ref kube.Ref, why string) Step {
	do := "delete the original, " + why
	if strings.HasPrefix(copied.Do, noConversion) {
		do = "once what it does is done another way (phase 1 has no exact conversion), delete the original, " + why
	}
	return Step{Phase: PhaseCleanup, Do: do, Command: deleteCommand(ref)}
}

// noConversion starts the step of a policy that has no exact conversion.
const noConversion = "no exact conversion: "

// copyStep is the step of phase 1 that converts a selector (or
// namespace-wide) policy into a copy with targetRefs, with the copy; or
// the step that says why no exact conversion exists, and no copy.
func (w *world) copyStep(ns *corev1.Namespace, obj *unstructured.Unstructured, sel map[string]string) (Step, *unstructured.Unstructured) {
	if ns.Name == w.root {
		if len(sel) > 0 {
			return Step{Phase: PhaseWaypoints, Do: noConversion + "a selector of the root namespace picks pods of every namespace; copy it with targetRefs to the Services of each namespace whose pods it picks"}, nil
		}
		return Step{Phase: PhaseWaypoints, Do: noConversion + "a mesh-wide policy has no one waypoint to target; copy it with targetRefs to each namespace's waypoint"}, nil
	}
	if len(sel) == 0 && !w.perServiceIn(ns) {
		name, ok := w.namespaceWaypoint(ns)
		if !ok {
			return Step{Phase: PhaseWaypoints, Do: noConversion + "the namespace uses a waypoint of another namespace, where a policy on it would apply to the traffic of every namespace it serves"}, nil
		}
		copied := convert(obj, []target{{group: gatewayGroup, kind: "Gateway", name: name}})
		return Step{Phase: PhaseWaypoints, Auto: true, Do: fmt.Sprintf("create %s, a copy with targetRefs to the namespace's waypoint %s", copied.GetName(), name)}, copied
	}
	// A namespace-wide policy, with a waypoint per Service, targets every
	// Service of the namespace.
	services, orphans := w.selectedServices(ns.Name, sel)
	if len(services) == 0 {
		if len(orphans) == 0 && len(sel) == 0 {
			return Step{Phase: PhaseWaypoints, Do: noConversion + "the namespace has no pod in a Service to target"}, nil
		}
		if len(orphans) == 0 {
			return Step{Phase: PhaseWaypoints, Do: noConversion + "its selector picks no pod, so no Service to target"}, nil
		}
		return Step{Phase: PhaseWaypoints, Do: noConversion + fmt.Sprintf("the pods its selector picks (%s) are in no Service to target", strings.Join(orphans, ", "))}, nil
	}
	targets := make([]target, len(services))
	for i, svc := range services {
		targets[i] = target{kind: "Service", name: svc}
	}
	copied := convert(obj, targets)
	whose := "its pods"
	if len(sel) == 0 {
		whose = "the namespace's pods"
	}
	do := fmt.Sprintf("create %s, a copy with targetRefs to the Services of %s: %s", copied.GetName(), whose, strings.Join(services, ", "))
	if len(orphans) > 0 {
		do += fmt.Sprintf("; the pods %s are in no Service, so the copy does not cover them", strings.Join(orphans, ", "))
	}
	return Step{Phase: PhaseWaypoints, Auto: true, Do: do}, copied
}

// namespaceWaypoint is the waypoint of its own namespace that a namespace
// uses or will use (the one the plan applies, "waypoint", when it has
// none); ok is false when it uses one of another namespace.
func (w *world) namespaceWaypoint(ns *corev1.Namespace) (string, bool) {
	if use := enroll.UseOf(ns.Labels, ns.Name); use.Names() {
		wpNs, name, _ := strings.Cut(use.Key(), "/")
		return name, wpNs == ns.Name
	}
	for _, wp := range w.waypoints[ns.Name] {
		if wp.TrafficType.ServesServices() {
			return wp.Name, true
		}
	}
	return "waypoint", true
}

// selectedServices are the Services whose selectors pick a pod that sel
// picks (every pod when sel is empty), and the picked pods in no Service.
// The pods of Gateways (waypoints, gateways) are never picked: no policy
// of the namespace's workloads is about them.
func (w *world) selectedServices(ns string, sel map[string]string) (services, orphans []string) {
	selector := labels.SelectorFromSet(sel)
	for _, pod := range w.pods[ns] {
		if _, gw := pod.Labels[istio.LabelGatewayName]; gw || !selector.Matches(labels.Set(pod.Labels)) {
			continue
		}
		in := false
		for _, svc := range w.services[ns] {
			if len(svc.Spec.Selector) > 0 && labels.SelectorFromSet(svc.Spec.Selector).Matches(labels.Set(pod.Labels)) {
				in = true
				if !slices.Contains(services, svc.Name) {
					services = append(services, svc.Name)
				}
			}
		}
		if !in {
			orphans = append(orphans, pod.Name)
		}
	}
	sort.Strings(services)
	sort.Strings(orphans)
	return services, orphans
}

// routeFindings are the VirtualServices and DestinationRules of ns whose
// hosts are Services of the cluster that use no waypoint: in ambient they
// take effect only through one; and the names of those Services in ns.
func (w *world) routeFindings(ns *corev1.Namespace) (out []Finding, unboundHere []string) {
	for _, kind := range []string{kindVirtualService, kindDestinationRule} {
		for _, obj := range w.objects[kind][ns.Name] {
			spec, _, _ := unstructured.NestedMap(obj.Object, "spec")
			var hosts []string
			if kind == kindVirtualService {
				gateways := stringList(spec, "gateways")
				if len(gateways) > 0 && !slices.Contains(gateways, "mesh") {
					continue // a route of ingress gateways only
				}
				hosts = stringList(spec, "hosts")
			} else if h, _ := spec["host"].(string); h != "" {
				hosts = []string{h}
			}
			var unbound, local []string
			foreign := false
			for _, h := range hosts {
				svc, ok := w.service(h, ns.Name)
				if !ok {
					continue
				}
				if svc.Namespace == ns.Name {
					local = append(local, svc.Name)
				} else {
					foreign = true
				}
				svcNs := w.namespaces[svc.Namespace]
				var nsLabels map[string]string
				if svcNs != nil {
					nsLabels = svcNs.Labels
				}
				if use, _ := enroll.DecidingUse(svc.Labels, nsLabels, svc.Namespace); use.Names() {
					continue
				}
				unbound = append(unbound, svc.Namespace+"/"+svc.Name)
				if svc.Namespace == ns.Name && !slices.Contains(unboundHere, svc.Name) {
					unboundHere = append(unboundHere, svc.Name)
				}
			}
			ref := kube.Ref{Kind: kind, Namespace: ns.Name, Name: obj.GetName()}
			f := Finding{Code: CodeRouteNeedsWaypoint, Object: ref}
			if len(unbound) > 0 {
				which := "the namespace's"
				if w.perServiceIn(ns) {
					which = "its own"
				}
				f.Ambient = fmt.Sprintf("applies only to traffic through a waypoint, and %s uses none", joinServices(unbound))
				f.Steps = []Step{{Phase: PhaseWaypoints, Do: fmt.Sprintf("enroll %s in a waypoint (%s, planned above)", joinServices(unbound), which)}}
			}
			if kind == kindVirtualService && len(local) > 0 {
				// A VirtualService that works through its waypoint and has no
				// exact conversion is left as it is.
				if step, replacement, ok := w.replaceStep(&obj, local, foreign); ok && (len(unbound) > 0 || !strings.HasPrefix(step.Do, noConversion)) {
					if len(unbound) == 0 {
						f.Code = CodeVirtualServiceToHTTPRoute
						f.Ambient = "applies through the waypoint, where Istio's support of VirtualServices is alpha; the Gateway API's HTTPRoute says the same"
					}
					f.Steps, f.Replacement = append(f.Steps, step), replacement
				}
			}
			if len(f.Steps) > 0 {
				out = append(out, f)
			}
		}
	}
	return out, unboundHere
}

// replaceStep is the step of phase 3 that replaces a VirtualService with
// the HTTPRoute that does the same for the Services of its namespace
// (local), and that HTTPRoute; ok is false when it has no exact
// conversion and already works through a waypoint, so nothing is to be
// done. The HTTPRoute waits for phase 3 because sidecars apply HTTPRoutes
// of Services too, and Istio does not support a VirtualService and an
// HTTPRoute for the same host.
func (w *world) replaceStep(vs *unstructured.Unstructured, local []string, foreign bool) (Step, *unstructured.Unstructured, bool) {
	ref := kube.Ref{Kind: kindVirtualService, Namespace: vs.GetNamespace(), Name: vs.GetName()}
	if existing := w.copyOf(vs, kindHTTPRoute); existing != "" {
		return Step{Phase: PhaseCleanup, Auto: true, Do: fmt.Sprintf("delete the VirtualService, now that HTTPRoute %s does what it did", existing), Command: deleteCommand(ref)}, nil, true
	}
	if foreign {
		return Step{}, nil, false // a route for clients of other namespaces' Services: no producer route says it
	}
	svcs := map[string]corev1.Service{}
	for _, s := range w.services[vs.GetNamespace()] {
		svcs[s.Name] = s
	}
	route, why := convertRoute(vs, local, svcs)
	if route == nil {
		return Step{Phase: PhaseCleanup, Do: noConversion + "to an HTTPRoute: " + why}, nil, why != ""
	}
	return Step{Phase: PhaseCleanup, Auto: true, Do: fmt.Sprintf("replace it with HTTPRoute %s, the same routes with its Services as parents: create it, then delete the VirtualService", route.GetName()),
		Command: deleteCommand(ref)}, route, true
}
func joinServices(keys []string) string {
	if len(keys) == 1 {
		return "service " + keys[0]
	}
	return "services " + strings.Join(keys, ", ")
}

// serviceHost reads a host of a route in namespace ns as a Service's name
// and namespace: name, name.namespace, name.namespace.svc or the full
// cluster name; ok is false for any other host.
func serviceHost(host, ns string) (name, svcNs string, ok bool) {
	parts := strings.Split(strings.TrimSuffix(host, ".cluster.local"), ".")
	switch {
	case len(parts) == 1:
		return parts[0], ns, true
	case len(parts) == 2, len(parts) == 3 && parts[2] == "svc":
		return parts[0], parts[1], true
	}
	return "", "", false
}

// service finds the Service a host of a route in namespace ns names.
func (w *world) service(host, ns string) (corev1.Service, bool) {
	name, svcNs, ok := serviceHost(host, ns)
	if !ok {
		return corev1.Service{}, false
	}
	for _, svc := range w.services[svcNs] {
		if svc.Name == name {
			return svc, true
		}
	}
	return corev1.Service{}, false
}

// waypointFinding is the waypoint a namespace needs for its L7 policies:
// none when it already uses one that serves its Services, enrollment in
// one of its own when it has one that does, else a new one.
func (w *world) waypointFinding(ns *corev1.Namespace) (Finding, bool) {
	ref := kube.Ref{Kind: "Namespace", Name: ns.Name}
	use := enroll.UseOf(ns.Labels, ns.Name)
	if use.Names() {
		if wp, ok := w.waypointOf[use.Key()]; ok && wp.TrafficType.ServesServices() {
			return Finding{}, false
		}
	}
	for _, wp := range w.waypoints[ns.Name] {
		if wp.TrafficType.ServesServices() {
			return Finding{Code: CodeNamespaceEnrollment, Object: ref, WaypointName: wp.Name,
				Ambient: fmt.Sprintf("its L7 policies need a waypoint, and waypoint %s serves its Services but the namespace is not enrolled in it", wp.Key()),
				Steps: []Step{{Phase: PhaseWaypoints, Auto: true, Do: "enroll the namespace in waypoint " + wp.Key(),
					Command: fmt.Sprintf("kubectl waypoint enroll namespace %s --waypoint %s", ns.Name, wp.Name)}}}, true
		}
	}
	return Finding{Code: CodeWaypointNeeded, Object: ref, WaypointName: istio.DefaultWaypointName,
		Ambient: "its L7 policies need a waypoint, and it has none that serves its Services",
		Steps: []Step{{Phase: PhaseWaypoints, Auto: true, Do: "apply a waypoint and enroll the namespace in it",
			Command: fmt.Sprintf("kubectl waypoint apply -n %s --enroll-namespace --wait", ns.Name)}}}, true
}

// serviceWaypointSuffix ends the name of a Service's own waypoint, as the
// Istio documents name reviews' (reviews-svc-waypoint).
const serviceWaypointSuffix = "-svc-waypoint"

// serviceWaypointName is the name of a Service's own waypoint, cut to the 63
// characters of the Service and Deployment istiod names after it.
func serviceWaypointName(svc string) string {
	if len(svc) > 63-len(serviceWaypointSuffix) {
		svc = strings.TrimRight(svc[:63-len(serviceWaypointSuffix)], "-")
	}
	return svc + serviceWaypointSuffix
}

// servicesToServe are the Services of ns that need a waypoint of their own:
// those the copies (planned, or made before) target, and those of the
// routes that use no waypoint (unbound).
func (w *world) servicesToServe(ns string, findings []Finding, unbound []string) []string {
	out := slices.Clone(unbound)
	add := func(obj *unstructured.Unstructured) {
		refs, _, _ := unstructured.NestedSlice(obj.Object, "spec", "targetRefs")
		for _, r := range refs {
			ref, _ := r.(map[string]any)
			if name, _ := ref["name"].(string); ref["kind"] == "Service" && name != "" && !slices.Contains(out, name) {
				out = append(out, name)
			}
		}
	}
	for _, f := range findings {
		for _, obj := range []*unstructured.Unstructured{f.Copy, f.Rewrite} {
			if obj != nil {
				add(obj)
			}
		}
	}
	for _, kind := range append([]string{kindAuthorizationPolicy}, selectorKinds...) {
		for i, obj := range w.objects[kind][ns] {
			if obj.GetAnnotations()[AnnotationConvertedFrom] != "" {
				add(&w.objects[kind][ns][i])
			}
		}
	}
	sort.Strings(out)
	return out
}

// serviceWaypointFinding is the waypoint of its own a Service needs
// (GranularityService): none when it uses one that serves Services,
// enrollment in <service>-svc-waypoint when that exists, else a new one.
// A Service whose label (or its namespace's) names a waypoint that does not
// serve it, or opts out, is the user's to decide: the step is not automatic.
func (w *world) serviceWaypointFinding(ns *corev1.Namespace, name string) (Finding, bool) {
	i := slices.IndexFunc(w.services[ns.Name], func(s corev1.Service) bool { return s.Name == name })
	if i < 0 {
		return Finding{}, false
	}
	svc := w.services[ns.Name][i]
	use, _ := enroll.DecidingUse(svc.Labels, ns.Labels, ns.Name)
	if wp, ok := w.waypointOf[use.Key()]; ok && wp.TrafficType.ServesServices() {
		return Finding{}, false
	}
	ref := kube.Ref{Kind: "Service", Namespace: ns.Name, Name: name}
	wpName := serviceWaypointName(name)
	apply := fmt.Sprintf("kubectl waypoint apply -n %s --name %s --wait", ns.Name, wpName)
	enrollCmd := fmt.Sprintf("kubectl waypoint enroll service %s -n %s --waypoint %s", name, ns.Name, wpName)
	f := Finding{Code: CodeWaypointNeeded, Object: ref, WaypointName: wpName,
		Ambient: "its L7 policies and routes need a waypoint, and it uses none that serves it"}
	existing, exists := w.waypointOf[ns.Name+"/"+wpName]
	switch {
	case use.None:
		f.Steps = []Step{{Phase: PhaseWaypoints, Do: "it opts out of waypoints (istio.io/use-waypoint=none, its own or its namespace's): if it may use one, apply its own and enroll it",
			Command: apply + " && " + enrollCmd}}
	case use.Set:
		f.Steps = []Step{{Phase: PhaseWaypoints, Do: fmt.Sprintf("its istio.io/use-waypoint (or its namespace's) names waypoint %s, which does not exist or does not serve Services: apply that one, or its own and enroll it", use.String()),
			Command: apply + " && " + enrollCmd}}
	case exists && !existing.TrafficType.ServesServices():
		f.Steps = []Step{{Phase: PhaseWaypoints, Do: fmt.Sprintf("waypoint %s exists and does not serve Services: apply one of another name and enroll the Service in it", existing.Key())}}
	case exists:
		f.Code = CodeServiceEnrollment
		f.Ambient = fmt.Sprintf("its L7 policies and routes need a waypoint, and waypoint %s serves Services but the Service is not enrolled in it", existing.Key())
		f.Steps = []Step{{Phase: PhaseWaypoints, Auto: true, Do: "enroll the Service in waypoint " + existing.Key(), Command: enrollCmd}}
	default:
		f.Steps = []Step{{Phase: PhaseWaypoints, Auto: true, Do: fmt.Sprintf("apply waypoint %s and enroll the Service in it", wpName),
			Command: apply + " && " + enrollCmd}}
	}
	return f, true
}

// ambientFindings are the namespace's move to ambient and the pods that
// still run sidecars.
func ambientFindings(ns *corev1.Namespace, mode Mode, withSidecar []string) []Finding {
	ref := kube.Ref{Kind: "Namespace", Name: ns.Name}
	pods := ""
	if len(withSidecar) > 0 {
		pods = fmt.Sprintf("; restart the %d pods that run a sidecar (%s) so they come back without one", len(withSidecar), abbreviate(withSidecar, 5))
	}
	switch {
	case mode != ModeAmbient:
		return []Finding{{Code: CodeNamespaceToAmbient, Object: ref,
			Ambient: fmt.Sprintf("in %s mode: its pods are not in ambient", mode),
			Steps: []Step{{Phase: PhaseAmbient, Auto: true, Do: "label the namespace for ambient and remove its injection labels" + pods,
				Command: ambientCommand(ns)}}}}
	case len(withSidecar) > 0:
		return []Finding{{Code: CodePodsRunSidecars, Object: ref,
			Ambient: fmt.Sprintf("ambient, but %d pods still run a sidecar, which istiod keeps out of ambient", len(withSidecar)),
			Steps:   []Step{{Phase: PhaseAmbient, Do: strings.TrimPrefix(pods, "; ")}}}}
	}
	return nil
}

// ambientCommand labels a namespace for ambient and removes the injection
// labels it has.
func ambientCommand(ns *corev1.Namespace) string {
	args := []string{"kubectl", "label", "namespace", ns.Name}
	for _, l := range []string{"istio-injection", istio.LabelRev} {
		if _, ok := ns.Labels[l]; ok {
			args = append(args, l+"-")
		}
	}
	return strings.Join(append(args, istio.LabelDataplaneMode+"="+istio.DataplaneModeAmbient), " ")
}

// abbreviate lists the first n names and how many more there are.
func abbreviate(names []string, n int) string {
	if len(names) <= n {
		return strings.Join(names, ", ")
	}
	return fmt.Sprintf("%s and %d more", strings.Join(names[:n], ", "), len(names)-n)
}

// deleteCommand is the kubectl command that deletes an object.
func deleteCommand(r kube.Ref) string {
	return fmt.Sprintf("kubectl delete %s %s -n %s", strings.ToLower(r.Kind), r.Name, r.Namespace)
}
