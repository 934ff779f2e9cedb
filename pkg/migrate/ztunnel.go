package migrate

import (
	"fmt"
	"net/netip"
	"slices"
	"strconv"
	"strings"

	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
)

// What istiod does with an AuthorizationPolicy that has no targetRefs when
// it converts it for ztunnel, which enforces it at L4 on ambient pods:
// convertAuthorizationPolicy and handleRule in istio.io/istio's
// pilot/pkg/serviceregistry/ambient/authorization.go. The verdict is the
// ZtunnelAccepted condition istiod writes on the policy.

// Ztunnel reasons, as istiod writes them in ZtunnelAccepted.
const (
	ReasonAccepted         = "Accepted"
	ReasonUnsupportedValue = "UnsupportedValue"
)

// ZtunnelEffect is what ztunnel does with a policy, in more detail than the
// reason: an UnsupportedValue may mean any of the last four.
type ZtunnelEffect string

const (
	// EffectEnforced means ztunnel enforces the policy as written.
	EffectEnforced ZtunnelEffect = "Enforced"
	// EffectAllowHTTPOmitted means an ALLOW whose rules with HTTP attributes are
	// dropped, so it allows less than it says (nothing, when every rule
	// has one).
	EffectAllowHTTPOmitted ZtunnelEffect = "AllowHTTPOmitted"
	// EffectDenyWithoutHTTP means a DENY enforced without its HTTP attributes,
	// so it denies more than it says.
	EffectDenyWithoutHTTP ZtunnelEffect = "DenyWithoutHTTP"
	// EffectDenyNoEffect means a DENY left with no rule ztunnel can match once
	// its HTTP attributes are dropped: it denies nothing.
	EffectDenyNoEffect ZtunnelEffect = "DenyNoEffect"
	// EffectUnsupportedAction means CUSTOM or AUDIT, which ztunnel does not
	// apply at all.
	EffectUnsupportedAction ZtunnelEffect = "UnsupportedAction"
	// EffectDryRun means the istio.io/dry-run annotation, which ztunnel does not
	// support: the policy is not sent.
	EffectDryRun ZtunnelEffect = "DryRunUnsupported"
)

// ZtunnelVerdict is the prediction of istiod's ZtunnelAccepted condition on
// a policy without targetRefs.
type ZtunnelVerdict struct {
	// Sent says istiod sends the policy to ztunnel (the condition's status).
	Sent bool `json:"sent"`

	Reason  string        `json:"reason"`
	Message string        `json:"message"`
	Effect  ZtunnelEffect `json:"effect"`
	// HTTPAttributes are the attributes ztunnel cannot see, sorted as
	// istiod names them in its message.
	HTTPAttributes []string `json:"httpAttributes,omitempty"`
}

// The words of istiod's messages.
const (
	acceptedMessage = "attached to ztunnel"
	httpRuleFormat  = "ztunnel does not support HTTP attributes (found: %s). " +
		"In ambient mode you must use a waypoint proxy to enforce HTTP rules. %s"
	denyMixedWords = "DENY policy with HTTP attributes is enforced without the HTTP rules. " +
		"This will be more restrictive than requested."
	allowHTTPWords = "Within an ALLOW policy, rules matching HTTP attributes are omitted. " +
		"This will be more restrictive than requested."
)

// dryRunAnnotation marks a policy istiod should only log.
const dryRunAnnotation = "istio.io/dry-run"

// l4When are the condition keys ztunnel can match; any other key of a
// rule's when is an HTTP attribute.
var l4When = []string{"source.ip", "source.namespace", "source.principal", "destination.ip", "destination.port"}

// operation and source fields that only an HTTP proxy sees, in the order
// istiod checks them.
var (
	httpOperationFields = []string{"hosts", "notHosts", "methods", "notMethods", "paths", "notPaths"}
	httpSourceFields    = []string{"remoteIpBlocks", "notRemoteIpBlocks", "requestPrincipals", "notRequestPrincipals"}
	// L4 source fields: a source with any of them set is a match ztunnel
	// can evaluate.
	l4SourceStrings = []string{"namespaces", "notNamespaces", "serviceAccounts", "notServiceAccounts", "principals", "notPrincipals"}
)

// PredictZtunnel says what istiod makes of an AuthorizationPolicy for
// ztunnel. ok is false for a policy with targetRefs, which istiod never
// sends to ztunnel (it writes no ZtunnelAccepted on it).
func PredictZtunnel(obj *unstructured.Unstructured) (v ZtunnelVerdict, ok bool) {
	spec, _, _ := unstructured.NestedMap(obj.Object, "spec")
	if hasTargetRefs(spec) {
		return v, false
	}
	if val := obj.GetAnnotations()[dryRunAnnotation]; val != "" {
		if dry, err := strconv.ParseBool(val); err == nil && dry {
			return ZtunnelVerdict{Reason: ReasonUnsupportedValue, Effect: EffectDryRun,
				Message: fmt.Sprintf("found policy %q using dry-run annotation, but support for ambient dry-run authorizationPolicies isn't enabled",
					obj.GetNamespace()+"/"+obj.GetName())}, true
		}
	}
	action, _ := spec["action"].(string)
	deny := false
	switch action {
	case "", "ALLOW":
	case "DENY":
		deny = true
	default:
		return ZtunnelVerdict{Reason: ReasonUnsupportedValue, Effect: EffectUnsupportedAction,
			Message: fmt.Sprintf("ztunnel does not support the %s action", action)}, true
	}
	var attrs []string
	var groups [][]clause // the rule groups istiod sends
	rules, _ := spec["rules"].([]any)
	for _, r := range rules {
		rule, _ := r.(map[string]any)
		clauses, found := ruleClauses(rule)
		for _, a := range found {
			if !slices.Contains(attrs, a) {
				attrs = append(attrs, a)
			}
		}
		if !deny && len(found) > 0 {
			continue // an ALLOW rule with HTTP attributes is dropped whole
		}
		groups = append(groups, clauses)
	}
	if len(attrs) == 0 {
		return ZtunnelVerdict{Sent: true, Reason: ReasonAccepted, Message: acceptedMessage, Effect: EffectEnforced}, true
	}
	slices.Sort(attrs)
	v = ZtunnelVerdict{Sent: true, Reason: ReasonUnsupportedValue, HTTPAttributes: attrs}
	words := allowHTTPWords
	v.Effect = EffectAllowHTTPOmitted
	if deny {
		// istiod 1.31 says "more restrictive" of every DENY with HTTP
		// attributes, but ztunnel skips a match with no field set, so a
		// DENY left with no group whose every clause can match denies
		// nothing (istiod's later versions say so in the message).
		words, v.Effect = denyMixedWords, EffectDenyWithoutHTTP
		if !anyEffective(groups) {
			v.Effect = EffectDenyNoEffect
		}
	}
	v.Message = fmt.Sprintf(httpRuleFormat, strings.Join(attrs, ", "), words)
	return v, true
}

// clause is one list of matches of a rule (its to, its from, or one when),
// reduced to whether each match can match anything at ztunnel.
type clause []bool

// ruleClauses turns a rule into the clauses istiod sends for it and the
// HTTP attributes it found.
func ruleClauses(rule map[string]any) (clauses []clause, attrs []string) {
	var to, from clause
	for _, t := range sliceOf(rule["to"]) {
		op, _ := t["operation"].(map[string]any)
		for _, f := range httpOperationFields {
			if len(stringList(op, f)) > 0 {
				attrs = append(attrs, f)
			}
		}
		to = append(to, len(ports(stringList(op, "ports")))+len(ports(stringList(op, "notPorts"))) > 0)
	}
	for _, f := range sliceOf(rule["from"]) {
		src, _ := f["source"].(map[string]any)
		for _, name := range httpSourceFields {
			if len(stringList(src, name)) > 0 {
				attrs = append(attrs, name)
			}
		}
		set := len(addresses(stringList(src, "ipBlocks")))+len(addresses(stringList(src, "notIpBlocks"))) > 0
		for _, name := range l4SourceStrings {
			set = set || len(stringList(src, name)) > 0
		}
		from = append(from, set)
	}
	if len(to) > 0 {
		clauses = append(clauses, to)
	}
	if len(from) > 0 {
		clauses = append(clauses, from)
	}
	for _, w := range sliceOf(rule["when"]) {
		key, _ := w["key"].(string)
		if !slices.Contains(l4When, key) {
			attrs = append(attrs, key)
			clauses = append(clauses, clause{false})
			continue
		}
		values, notValues := stringList(w, "values"), stringList(w, "notValues")
		var n int
		switch key {
		case "source.ip", "destination.ip":
			n = len(addresses(values)) + len(addresses(notValues))
		case "destination.port":
			n = len(ports(values)) + len(ports(notValues))
		default:
			n = len(values) + len(notValues)
		}
		clauses = append(clauses, clause{n > 0})
	}
	return clauses, attrs
}

// anyEffective says whether a group of clauses can fire at ztunnel: a
// group with no clause matches everything; otherwise every clause needs a
// match that is not empty (ztunnel skips empty matches).
func anyEffective(groups [][]clause) bool {
	for _, g := range groups {
		if len(g) == 0 {
			return true
		}
		effective := true
		for _, c := range g {
			if !slices.Contains(c, true) {
				effective = false
				break
			}
		}
		if effective {
			return true
		}
	}
	return false
}

func hasTargetRefs(spec map[string]any) bool {
	if refs, _ := spec["targetRefs"].([]any); len(refs) > 0 {
		return true
	}
	ref, _ := spec["targetRef"].(map[string]any)
	return len(ref) > 0
}

// sliceOf reads a list of objects.
func sliceOf(v any) []map[string]any {
	items, _ := v.([]any)
	out := make([]map[string]any, 0, len(items))
	for _, it := range items {
		m, _ := it.(map[string]any)
		out = append(out, m)
	}
	return out
}

// stringList reads a list of strings from an object; nil when absent.
func stringList(m map[string]any, key string) []string {
	items, _ := m[key].([]any)
	out := make([]string, 0, len(items))
	for _, it := range items {
		if s, ok := it.(string); ok {
			out = append(out, s)
		}
	}
	return out
}

// ports are the values istiod keeps as ports: numbers up to 65535.
func ports(values []string) []uint32 {
	var out []uint32
	for _, v := range values {
		if p, err := strconv.ParseUint(v, 10, 32); err == nil && p <= 65535 {
			out = append(out, uint32(p))
		}
	}
	return out
}

// addresses are the values istiod keeps as addresses: IPs and prefixes.
func addresses(values []string) []string {
	var out []string
	for _, v := range values {
		var err error
		if strings.Contains(v, "/") {
			_, err = netip.ParsePrefix(v)
		} else {
			_, err = netip.ParseAddr(v)
		}
		if v != "" && err == nil {
			out = append(out, v)
		}
	}
	return out
}
