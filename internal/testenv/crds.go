package testenv

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"time"

	apiextensionsv1 "k8s.io/apiextensions-apiserver/pkg/apis/apiextensions/v1"
	apiextensionsclient "k8s.io/apiextensions-apiserver/pkg/client/clientset/clientset"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/rest"

	"sigs.k8s.io/controller-runtime/pkg/envtest"
)

// readCRDs reads the CRDs of dir, several to a file being fine.
func readCRDs(dir string) ([]*apiextensionsv1.CustomResourceDefinition, error) {
	opts := envtest.CRDInstallOptions{Paths: []string{dir}, ErrorIfPathMissing: true}
	if err := envtest.ReadCRDFiles(&opts); err != nil {
		return nil, fmt.Errorf("reading the CRDs in %s: %w", dir, err)
	}
	if len(opts.CRDs) == 0 {
		return nil, fmt.Errorf("no CRDs in %s; remove that directory and run hack/controlplane.sh crds", dir)
	}
	return opts.CRDs, nil
}

// installCRDs creates the CRDs and waits until discovery serves them. It
// creates them in parallel: one by one, as envtest does, takes twice as long
// for the 25 Gateway API and Istio CRDs.
func installCRDs(cfg *rest.Config, crds []*apiextensionsv1.CustomResourceDefinition) error {
	client, err := apiextensionsclient.NewForConfig(cfg)
	if err != nil {
		return fmt.Errorf("creating the apiextensions client: %w", err)
	}
	c, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	errs := make([]error, len(crds))
	var wg sync.WaitGroup
	for i, crd := range crds {
		wg.Add(1)
		go func() {
			defer wg.Done()
			if _, err := client.ApiextensionsV1().CustomResourceDefinitions().Create(c, crd.DeepCopy(), metav1.CreateOptions{}); err != nil {
				errs[i] = fmt.Errorf("creating CRD %s: %w", crd.Name, err)
			}
		}()
	}
	wg.Wait()
	if err := errors.Join(errs...); err != nil {
		return err
	}
	wait := envtest.CRDInstallOptions{MaxTime: 30 * time.Second, PollInterval: 20 * time.Millisecond}
	if err := envtest.WaitForCRDs(cfg, crds, wait); err != nil {
		return fmt.Errorf("waiting for the CRDs to be served: %w", err)
	}
	return nil
}
