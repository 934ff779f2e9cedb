package kube

import (
	"context"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/kubernetes"
)

// PageSize is how many objects one list request asks for, unless the caller
// sets a limit: kubectl's own --chunk-size.
const PageSize = 500

// Page reads one page of a list: its items and the continue token of the
// next page ("" after the last).
type Page[T any] func(ctx context.Context, opts metav1.ListOptions) (items []T, next string, err error)

// EachPage lists page by page, each page retried as Retry retries any read,
// and hands each page's items to fn before it asks for the next: a list of
// thousands of objects is never decoded at once. It returns the first error
// of a page (after its retries) or of fn.
func EachPage[T any](ctx context.Context, opts metav1.ListOptions, page Page[T], fn func(items []T) error) error {
	if opts.Limit == 0 {
		opts.Limit = PageSize
	}
	for {
		var items []T
		var next string
		err := Retry(ctx, func() (err error) {
			items, next, err = page(ctx, opts)
			return err
		})
		if err != nil {
			return err
		}
		if err := fn(items); err != nil {
			return err
		}
		if next == "" {
			return nil
		}
		opts.Continue = next
	}
}

// ListAll is EachPage keeping every item.
func ListAll[T any](ctx context.Context, opts metav1.ListOptions, page Page[T]) ([]T, error) {
	var all []T
	err := EachPage(ctx, opts, page, func(items []T) error {
		all = append(all, items...)
		return nil
	})
	return all, err
}

// NamespacePage reads one page of namespaces, for EachPage.
func NamespacePage(client kubernetes.Interface) Page[corev1.Namespace] {
	return func(ctx context.Context, opts metav1.ListOptions) ([]corev1.Namespace, string, error) {
		list, err := client.CoreV1().Namespaces().List(ctx, opts)
		if err != nil {
			return nil, "", err
		}
		return list.Items, list.Continue, nil
	}
}

// ServicePage reads one page of the Services of namespace ns ("" for every
// namespace), for EachPage.
func ServicePage(client kubernetes.Interface, ns string) Page[corev1.Service] {
	return func(ctx context.Context, opts metav1.ListOptions) ([]corev1.Service, string, error) {
		list, err := client.CoreV1().Services(ns).List(ctx, opts)
		if err != nil {
			return nil, "", err
		}
		return list.Items, list.Continue, nil
	}
}
