package mesh

import (
	"context"
	"sort"

	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	gatewayv1 "sigs.k8s.io/gateway-api/apis/v1"
	gatewayclient "sigs.k8s.io/gateway-api/pkg/client/clientset/versioned"

	"github.com/kubectl-waypoint/kubectl-waypoint/pkg/kube"
)

// Classes is the one reader of GatewayClasses: each class is read once, on
// demand. A class that does not exist, or cannot be read, is nil, and
// istiod's defaults apply to its Gateways.
type Classes struct {
	client gatewayclient.Interface
	byName map[string]*Class
	unread map[string]error
}

// NewClasses reads GatewayClasses through client.
func NewClasses(client gatewayclient.Interface) *Classes {
	return &Classes{client: client, byName: map[string]*Class{}, unread: map[string]error{}}
}

// StaticClasses answers from the given classes without a cluster.
func StaticClasses(classes ...*Class) *Classes {
	c := &Classes{byName: map[string]*Class{}, unread: map[string]error{}}
	for _, cl := range classes {
		c.byName[cl.Name] = cl
	}
	return c
}

// Get returns the named class; nil when it does not exist or cannot be read.
func (c *Classes) Get(ctx context.Context, name string) *Class {
	if c == nil {
		return nil
	}
	if cl, ok := c.byName[name]; ok || c.client == nil {
		return cl
	}
	var gc *gatewayv1.GatewayClass
	err := kube.Retry(ctx, func() (err error) {
		gc, err = c.client.GatewayV1().GatewayClasses().Get(ctx, name, metav1.GetOptions{})
		return err
	})
	var cl *Class
	if err == nil {
		cl = ClassOf(gc)
	} else if !apierrors.IsNotFound(err) {
		cl = nil // unreadable: istiod's defaults are the best guess
		c.unread[name] = err
	}
	c.byName[name] = cl
	return cl
}

// Parse reads a Gateway with its class.
func (c *Classes) Parse(ctx context.Context, gw *gatewayv1.Gateway) Waypoint {
	return Parse(gw, c.Get(ctx, string(gw.Spec.GatewayClassName)))
}

// UnreadClass is a GatewayClass that exists, or may, but could not be read
// (forbidden, or a fault): its Gateways were parsed as if it set no traffic
// type and no inbound binding.
type UnreadClass struct {
	Name string
	Err  error
}

// Unread lists, sorted by name, the classes Get could not read.
func (c *Classes) Unread() []UnreadClass {
	if c == nil {
		return nil
	}
	out := make([]UnreadClass, 0, len(c.unread))
	for name, err := range c.unread {
		out = append(out, UnreadClass{Name: name, Err: err})
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Name < out[j].Name })
	return out
}
