// Package gitops writes waypoint provisioning as manifests for GitOps tools
// (Argo CD, Flux, `kubectl apply --server-side -k`): the Gateways that
// pkg/render builds and, for enrollment, a Namespace that carries only the
// enrollment label, so that a server-side apply sets that label and no other
// field of the namespace. It owns the layout of an output directory (one
// file per namespace and a kustomization.yaml listing them) and what
// generate may overwrite there. It never talks to a cluster and does not
// build Gateways.
package gitops

import (
	"bytes"
	"io"

	corev1 "k8s.io/api/core/v1"
	gatewayv1 "sigs.k8s.io/gateway-api/apis/v1"
	"sigs.k8s.io/yaml"

	"github.com/kubectl-waypoint/kubectl-waypoint/pkg/istio"
	"github.com/kubectl-waypoint/kubectl-waypoint/pkg/render"
)

// The annotations that keep GitOps tools from deleting an enrolled
// namespace. The Namespace in the manifests is only a patch of one label,
// but Argo CD and Flux track it as theirs: without these, removing it from
// Git (a namespace that leaves the selector) or deleting the Application or
// Kustomization would delete the whole namespace and everything in it.
const (
	// AnnotationArgoSyncOptions holds Argo CD's per-resource sync options.
	AnnotationArgoSyncOptions = "argocd.argoproj.io/sync-options"
	// ArgoKeep tells Argo CD never to prune or delete the object.
	ArgoKeep = "Prune=false,Delete=false"
	// AnnotationFluxPrune is Flux's per-object garbage-collection switch.
	AnnotationFluxPrune = "kustomize.toolkit.fluxcd.io/prune"
	// FluxKeep tells Flux never to garbage-collect the object.
	FluxKeep = "disabled"
)

// Namespace is the server-side-apply patch that enrolls a namespace into
// its own waypoint: apiVersion, kind, the name, the enrollment label and
// the annotations that keep GitOps tools from deleting the namespace. It is
// a type of its own, not a corev1.Namespace, so that no empty spec, status
// or creationTimestamp is printed: a field applied is a field claimed.
type Namespace struct {
	APIVersion string            `json:"apiVersion"`
	Kind       string            `json:"kind"`
	Metadata   NamespaceMetadata `json:"metadata"`
}

// NamespaceMetadata is the metadata of a Namespace patch.
type NamespaceMetadata struct {
	Name        string            `json:"name"`
	Labels      map[string]string `json:"labels"`
	Annotations map[string]string `json:"annotations,omitempty"`
}

// Enrollment is the Namespace patch that labels namespace ns
// istio.io/use-waypoint=<waypoint>, the waypoint being in ns itself.
func Enrollment(ns, waypoint string) *Namespace {
	return NamespaceLabels(ns, map[string]string{istio.LabelUseWaypoint: waypoint})
}

// NamespaceLabels is the Namespace patch that sets labels on namespace ns
// and nothing else, with the annotations that keep GitOps tools from
// deleting the namespace.
func NamespaceLabels(ns string, labels map[string]string) *Namespace {
	return &Namespace{
		APIVersion: "v1",
		Kind:       "Namespace",
		Metadata: NamespaceMetadata{
			Name:   ns,
			Labels: labels,
			Annotations: map[string]string{
				AnnotationArgoSyncOptions: ArgoKeep,
				AnnotationFluxPrune:       FluxKeep,
			},
		},
	}
}

// ServiceLabels is the Service patch that sets labels on a Service and
// nothing else, with the annotations that keep GitOps tools from deleting
// the Service when the patch leaves Git.
func ServiceLabels(ns, name string, labels map[string]string) map[string]any {
	return map[string]any{
		"apiVersion": "v1",
		"kind":       "Service",
		"metadata": map[string]any{
			"name":      name,
			"namespace": ns,
			"labels":    labels,
			"annotations": map[string]string{
				AnnotationArgoSyncOptions: ArgoKeep,
				AnnotationFluxPrune:       FluxKeep,
			},
		},
	}
}

// Manifest is what one namespace gets: its waypoint and, when the namespace
// is enrolled, the Namespace patch.
type Manifest struct {
	// Namespace is the Gateway's namespace; "" when none was asked for.
	Namespace string
	// Parameters is the ConfigMap of istiod's parameters that the
	// Gateway's spec.infrastructure names; nil when none is rendered.
	Parameters *corev1.ConfigMap
	// Gateway is nil in a manifest of other objects only (a migration
	// phase of a namespace whose waypoint exists).
	Gateway *gatewayv1.Gateway
	// Enrollment is nil when the namespace is not enrolled.
	Enrollment *Namespace
	// Objects are more objects of the namespace, written last (the
	// policies a migration copies to the waypoint).
	Objects []any
}

// objects are the manifest's objects in the order apply writes them: the
// parameters first, so that istiod never sees a Gateway whose ConfigMap
// is missing, then the Gateway, then the namespace's label, then the rest.
func (m Manifest) objects() []any {
	var objs []any
	if m.Parameters != nil {
		objs = append(objs, m.Parameters)
	}
	if m.Gateway != nil {
		objs = append(objs, m.Gateway)
	}
	if m.Enrollment != nil {
		objs = append(objs, m.Enrollment)
	}
	return append(objs, m.Objects...)
}

// WriteStream writes the objects of every manifest, in order, to w. As
// YAML they are one stream of documents separated by "---"; as JSON a
// single object is printed alone and several as a v1 List, which kubectl
// apply reads too. One Gateway alone is printed exactly as render.Object
// prints it.
func WriteStream(w io.Writer, format string, ms []Manifest) error {
	var objs []any
	for _, m := range ms {
		objs = append(objs, m.objects()...)
	}
	if len(objs) == 1 {
		return render.Object(w, format, objs[0])
	}
	if format == render.FormatJSON {
		return render.Object(w, format, list{APIVersion: "v1", Kind: "List", Items: objs})
	}
	b, err := yamlDocuments(objs)
	if err != nil {
		return err
	}
	_, err = w.Write(b)
	return err
}

// list is a v1 List of objects, as kubectl prints several objects in JSON.
type list struct {
	APIVersion string `json:"apiVersion"`
	Kind       string `json:"kind"`
	Items      []any  `json:"items"`
}

// yamlDocuments marshals objects as YAML documents separated by "---".
func yamlDocuments(objs []any) ([]byte, error) {
	var buf bytes.Buffer
	for i, obj := range objs {
		if i > 0 {
			buf.WriteString("---\n")
		}
		if err := render.Object(&buf, render.FormatYAML, obj); err != nil {
			return nil, err
		}
	}
	return buf.Bytes(), nil
}

// kustomization is the kustomization.yaml of an output directory.
type kustomization struct {
	APIVersion string   `json:"apiVersion"`
	Kind       string   `json:"kind"`
	Resources  []string `json:"resources"`
}

func marshalKustomization(files []string) ([]byte, error) {
	if files == nil {
		files = []string{} // "resources: []", which kustomize reads; not null
	}
	return yaml.Marshal(kustomization{
		APIVersion: "kustomize.config.k8s.io/v1beta1",
		Kind:       "Kustomization",
		Resources:  files,
	})
}
