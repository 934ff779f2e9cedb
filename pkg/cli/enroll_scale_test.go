package cli

import (
	"context"
	"fmt"
	"os"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/kubectl-waypoint/kubectl-waypoint/internal/testenv"
)

// TestEnrollManyPods enrolls the pods a selector matches, again, and
// unenrolls them, reading every pod back from the API server after each
// step; and checks that enrolling costs one request per pod plus a
// constant: one read of the namespace, one list, one read of the waypoint.
// ENROLL_SCALE_PODS sets the number of pods (50 by default) and
// ENROLL_SCALE_ARGS extra flags (e.g. "--qps 5 --burst 10"), to measure for
// docs/performance.md:
//
//	ENROLL_SCALE_PODS=500 go test ./pkg/cli -run TestEnrollManyPods -v
func TestEnrollManyPods(t *testing.T) {
	n := 50
	if s := os.Getenv("ENROLL_SCALE_PODS"); s != "" {
		var err error
		if n, err = strconv.Atoi(s); err != nil || n <= 0 {
			t.Fatalf("ENROLL_SCALE_PODS=%q: want a positive number", s)
		}
	}
	extra := strings.Fields(os.Getenv("ENROLL_SCALE_ARGS"))
	ns := env.Namespace(t, testenv.AmbientLabels())
	env.Waypoint(t, ns, "pods", map[string]string{"istio.io/waypoint-for": "workload"})
	createPods(t, ns, n, map[string]string{"app": "scale"})

	args := append([]string{"enroll", "pod", "-l", "app=scale", "--waypoint", "pods", "-n", ns}, extra...)
	start := time.Now()
	stdout, reqs := runCounted(t, args...)
	elapsed := time.Since(start)
	podsEnrolled(t, ns, n, "enroll", "pods")
	if got := strings.Count(stdout, " enrolled in waypoint "+ns+"/pods\n"); got != n {
		t.Errorf("%d pods said enrolled, want %d", got, n)
	}
	if want := n + 4; len(reqs) != want {
		t.Errorf("%d requests for %d pods, want %d: %s", len(reqs), n, want, summarize(reqs))
	}
	t.Logf("enroll pod -l over %d pods %v: %s, %d requests (%s)", n, extra, elapsed.Round(time.Millisecond), len(reqs), summarize(reqs))

	start = time.Now()
	_, reqs = runCounted(t, args...)
	podsEnrolled(t, ns, n, "enroll again", "pods")
	t.Logf("again, nothing to change: %s, %d requests (%s)", time.Since(start).Round(time.Millisecond), len(reqs), summarize(reqs))
	if len(reqs) != 2 {
		t.Errorf("a re-run made %d requests, want 2 (namespace, list)", len(reqs))
	}

	start = time.Now()
	_, reqs = runCounted(t, append([]string{"unenroll", "pod", "-l", "app=scale", "-n", ns}, extra...)...)
	t.Logf("unenroll: %s, %d requests", time.Since(start).Round(time.Millisecond), len(reqs))
	podsEnrolled(t, ns, n, "unenroll", "")
}

// podsEnrolled reads the pods of namespace ns from the API server, in one
// list, and checks that n have the label app=scale, each with
// istio.io/use-waypoint=waypoint (unset when waypoint is empty) and no
// istio.io/use-waypoint-namespace, and that the others (the waypoint's own
// pod) have no enrollment label.
func podsEnrolled(t *testing.T, ns string, n int, step, waypoint string) {
	t.Helper()
	pods, err := env.Kube.CoreV1().Pods(ns).List(context.Background(), metav1.ListOptions{})
	if err != nil {
		t.Fatal(err)
	}
	matched, wrong := 0, 0
	for _, p := range pods.Items {
		want := ""
		if p.Labels["app"] == "scale" {
			matched++
			want = waypoint
		}
		got, has := p.Labels[useWaypoint]
		_, hasNS := p.Labels[useWaypointNS]
		if got != want || has != (want != "") || hasNS {
			if wrong++; wrong <= 5 {
				t.Errorf("%s: pod %s/%s has labels %v in the cluster, want %s=%q", step, ns, p.Name, p.Labels, useWaypoint, want)
			}
		}
	}
	if wrong > 5 {
		t.Errorf("%s: %d pods in all are wrong", step, wrong)
	}
	if matched != n {
		t.Errorf("%s: %d pods labelled app=scale in %s, want %d", step, matched, ns, n)
	}
}

// createPods creates n pods named p-0000... in parallel.
func createPods(t *testing.T, ns string, n int, labels map[string]string) {
	t.Helper()
	var wg sync.WaitGroup
	errs := make(chan error, n)
	sem := make(chan struct{}, 32)
	for i := range n {
		wg.Add(1)
		sem <- struct{}{}
		go func() {
			defer wg.Done()
			defer func() { <-sem }()
			pod := &corev1.Pod{
				ObjectMeta: metav1.ObjectMeta{Name: fmt.Sprintf("p-%04d", i), Namespace: ns, Labels: labels},
				Spec:       corev1.PodSpec{Containers: []corev1.Container{{Name: "app", Image: "registry.k8s.io/pause:3.10"}}},
			}
			if _, err := env.Kube.CoreV1().Pods(ns).Create(context.Background(), pod, metav1.CreateOptions{}); err != nil {
				errs <- err
			}
		}()
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Fatalf("creating pods: %v", err)
	}
}

// summarize counts requests by verb: "GET×3 PATCH×500".
func summarize(reqs []string) string {
	counts := map[string]int{}
	var verbs []string
	for _, r := range reqs {
		verb, _, _ := strings.Cut(r, " ")
		if counts[verb] == 0 {
			verbs = append(verbs, verb)
		}
		counts[verb]++
	}
	var parts []string
	for _, v := range verbs {
		parts = append(parts, fmt.Sprintf("%s×%d", v, counts[v]))
	}
	return strings.Join(parts, " ")
}
