package kube

import (
	"context"
	"errors"
	"slices"
	"strconv"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/client-go/kubernetes/fake"
	k8stesting "k8s.io/client-go/testing"
)

// pages serves items 0..n-1 in pages of the asked limit, with the index of
// the next item as the continue token, and fails the asks listed in fail
// (counted from 1) with a 503.
type pages struct {
	n     int
	fail  []int
	asked []metav1.ListOptions
}

func (p *pages) page(_ context.Context, opts metav1.ListOptions) ([]int, string, error) {
	p.asked = append(p.asked, opts)
	if slices.Contains(p.fail, len(p.asked)) {
		return nil, "", apierrors.NewServiceUnavailable("etcd is busy")
	}
	from := 0
	if opts.Continue != "" {
		from, _ = strconv.Atoi(opts.Continue)
	}
	to := min(from+int(opts.Limit), p.n)
	var items []int
	for i := from; i < to; i++ {
		items = append(items, i)
	}
	next := ""
	if to < p.n {
		next = strconv.Itoa(to)
	}
	return items, next, nil
}

func TestEachPage(t *testing.T) {
	Backoff.Duration = time.Millisecond
	t.Run("pages of kubectl's size, each handed over before the next is asked", func(t *testing.T) {
		p := &pages{n: 1203}
		var sizes []int
		err := EachPage(context.Background(), metav1.ListOptions{LabelSelector: "a=b"}, p.page, func(items []int) error {
			sizes = append(sizes, len(items))
			if len(p.asked) != len(sizes) {
				t.Errorf("page %d handed over after %d asks", len(sizes), len(p.asked))
			}
			return nil
		})
		if err != nil {
			t.Fatal(err)
		}
		if !slices.Equal(sizes, []int{500, 500, 203}) {
			t.Errorf("pages of %v, want 500, 500, 203", sizes)
		}
		for i, o := range p.asked {
			if o.Limit != PageSize || o.LabelSelector != "a=b" {
				t.Errorf("ask %d: %+v, want limit %d and the selector kept", i+1, o, PageSize)
			}
		}
		if p.asked[0].Continue != "" || p.asked[1].Continue != "500" || p.asked[2].Continue != "1000" {
			t.Errorf("continue tokens %q %q %q", p.asked[0].Continue, p.asked[1].Continue, p.asked[2].Continue)
		}
	})
	t.Run("the caller's limit is kept", func(t *testing.T) {
		p := &pages{n: 5}
		got, err := ListAll(context.Background(), metav1.ListOptions{Limit: 2}, p.page)
		if err != nil || !slices.Equal(got, []int{0, 1, 2, 3, 4}) || len(p.asked) != 3 {
			t.Errorf("got %v, %v after %d asks; want 0..4 after 3", got, err, len(p.asked))
		}
	})
	t.Run("a failed page is asked again, from where it was", func(t *testing.T) {
		p := &pages{n: 1100, fail: []int{2, 3}}
		got, err := ListAll(context.Background(), metav1.ListOptions{}, p.page)
		if err != nil || len(got) != 1100 || got[1099] != 1099 {
			t.Fatalf("got %d items, %v", len(got), err)
		}
		if len(p.asked) != 5 || p.asked[1].Continue != "500" || p.asked[3].Continue != "500" {
			t.Errorf("asks %+v, want the second page asked three times", p.asked)
		}
	})
	t.Run("a final error ends the list with what was read", func(t *testing.T) {
		p := &pages{n: 1100}
		forbidden := apierrors.NewForbidden(schema.GroupResource{Resource: "namespaces"}, "", errors.New("no"))
		calls := 0
		page := func(ctx context.Context, opts metav1.ListOptions) ([]int, string, error) {
			if calls++; calls == 2 {
				return nil, "", forbidden
			}
			return p.page(ctx, opts)
		}
		got, err := ListAll(context.Background(), metav1.ListOptions{}, page)
		if !apierrors.IsForbidden(err) || len(got) != 500 || calls != 2 {
			t.Errorf("got %d items, %v after %d calls; want the first page and the forbidden error, asked once", len(got), err, calls)
		}
	})
	t.Run("an error of fn stops the list", func(t *testing.T) {
		p := &pages{n: 1100}
		stop := errors.New("stop")
		err := EachPage(context.Background(), metav1.ListOptions{}, p.page, func([]int) error { return stop })
		if !errors.Is(err, stop) || len(p.asked) != 1 {
			t.Errorf("%v after %d asks", err, len(p.asked))
		}
	})
}

func TestNamespaceAndServicePages(t *testing.T) {
	client := fake.NewClientset(
		&corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: "a"}},
		&corev1.Service{ObjectMeta: metav1.ObjectMeta{Name: "s", Namespace: "a"}},
	)
	var asked []metav1.ListOptions
	client.PrependReactor("list", "*", func(action k8stesting.Action) (bool, runtime.Object, error) {
		asked = append(asked, action.(k8stesting.ListActionImpl).ListOptions)
		return false, nil, nil
	})
	ns, err := ListAll(context.Background(), metav1.ListOptions{LabelSelector: "x"}, NamespacePage(client))
	if err != nil || len(ns) != 0 {
		// the fake applies the label selector: no namespace has x
		t.Errorf("namespaces %v, %v", ns, err)
	}
	svc, err := ListAll(context.Background(), metav1.ListOptions{}, ServicePage(client, "a"))
	if err != nil || len(svc) != 1 || svc[0].Name != "s" {
		t.Errorf("services %v, %v", svc, err)
	}
	if len(asked) != 2 || asked[0].LabelSelector != "x" || asked[0].Limit != PageSize || asked[1].Limit != PageSize {
		t.Errorf("asked %+v", asked)
	}
}
