package cli

import (
	"context"
	"encoding/json"
	"strings"
	"testing"
	"time"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"

	"github.com/kubectl-waypoint/kubectl-waypoint/pkg/bulk"
)

// labelNamespace sets labels on a namespace as another writer would.
func labelNamespace(t *testing.T, ns string, labels map[string]string) {
	t.Helper()
	body, _ := json.Marshal(map[string]any{"metadata": map[string]any{"labels": labels}})
	if _, err := env.Kube.CoreV1().Namespaces().Patch(context.Background(), ns, types.MergePatchType, body, metav1.PatchOptions{}); err != nil {
		t.Fatal(err)
	}
}

// whenGatewayExists runs fn once the Gateway ns/name exists.
func whenGatewayExists(t *testing.T, ns, name string, fn func()) <-chan struct{} {
	done := make(chan struct{})
	go func() {
		defer close(done)
		for range 200 {
			if _, err := getGateway(t, ns, name); err == nil {
				fn()
				return
			}
			time.Sleep(25 * time.Millisecond)
		}
	}()
	return done
}

// TestApplyEnrollWaitKeepsAnotherWritersEnrollment is defect 1 of issue 10:
// apply --enroll-namespace --wait read the namespace, waited, then replaced
// an enrollment someone set during the wait, said "enrolled" and exited 0.
func TestApplyEnrollWaitKeepsAnotherWritersEnrollment(t *testing.T) {
	for _, tc := range []struct {
		name      string
		overwrite bool
	}{{"refused", false}, {"overwrite", true}} {
		t.Run(tc.name, func(t *testing.T) {
			ns := env.Namespace(t, nil)
			release := env.HoldWaypoint(t, ns, "waypoint")
			done := whenGatewayExists(t, ns, "waypoint", func() {
				// During the wait, someone else enrolls the namespace;
				// then istiod makes the waypoint ready.
				labelNamespace(t, ns, map[string]string{"istio.io/use-waypoint": "other", "team": "a"})
				release()
			})
			args := []string{"apply", "-n", ns, "--enroll-namespace", "--wait", "--timeout", "20s", "-o", "json"}
			if tc.overwrite {
				args = append(args, "--overwrite")
			}
			stdout, stderr, code := runKube(t, args...)
			<-done
			var report bulk.Report
			if err := json.Unmarshal([]byte(stdout), &report); err != nil {
				t.Fatalf("exit %d, stdout %q, stderr %q: %v", code, stdout, stderr, err)
			}
			got := nsLabels(t, ns)
			if got["team"] != "a" {
				t.Errorf("the other writer's label was lost: %v", got)
			}
			var nsRecord bulk.Record
			for _, r := range report.Records {
				if r.Kind == "Namespace" {
					nsRecord = r
				}
			}
			if tc.overwrite {
				if code != 0 || got["istio.io/use-waypoint"] != "waypoint" || nsRecord.Action != bulk.Enrolled {
					t.Errorf("with --overwrite: exit %d, labels %v, record %+v", code, got, nsRecord)
				}
				return
			}
			if got["istio.io/use-waypoint"] != "other" {
				t.Errorf("the enrollment set during the wait was overwritten: %v", got)
			}
			if code != ExitFailed || nsRecord.Action != bulk.Failed || !strings.Contains(nsRecord.Error, "already uses waypoint "+ns+"/other") {
				t.Errorf("exit %d, record %+v, stderr %q", code, nsRecord, stderr)
			}
		})
	}
}
