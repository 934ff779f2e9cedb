package kube

import (
	"context"
	"encoding/json"
	"net/http"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/client-go/rest"
)

// Apply is one server-side apply: obj sent as an apply patch to the named
// object of resource through client, with retries.
type Apply struct {
	Client    rest.Interface
	Codec     runtime.ParameterCodec
	Resource  string
	Namespace string
	Name      string
	Options   *metav1.PatchOptions
}

// Do sends obj, decodes the server's answer into out, and says whether the
// object was created (HTTP 201) rather than updated.
func (a Apply) Do(ctx context.Context, obj any, out runtime.Object) (created bool, err error) {
	body, err := json.Marshal(obj)
	if err != nil {
		return false, err
	}
	var code int
	err = Retry(ctx, func() error {
		return a.Client.Patch(types.ApplyPatchType).
			Namespace(a.Namespace).Resource(a.Resource).Name(a.Name).
			VersionedParams(a.Options, a.Codec).
			Body(body).Do(ctx).StatusCode(&code).Into(out)
	})
	return code == http.StatusCreated, err
}
