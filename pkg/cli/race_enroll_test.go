package cli

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"strconv"
	"strings"
	"sync"
	"testing"

	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/runtime/serializer"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/client-go/kubernetes/scheme"
	"k8s.io/client-go/rest"

	"github.com/kubectl-waypoint/kubectl-waypoint/internal/testenv"
	"github.com/kubectl-waypoint/kubectl-waypoint/pkg/kube"
)

// serviceReads sits in the tool's transport and notes the API server's
// answers about the Service "app" of each namespace: the resourceVersion of
// the first read it answered and of the last write it accepted. As soon as
// the server has answered the first read of a namespace's service, before
// the tool sees that answer, it calls onRead: another writer acts right
// after the read that the tool's write is based on, which is the race that
// matters.
type serviceReads struct {
	onRead func(ns string)

	mu       sync.Mutex
	read     map[string]int64 // namespace → resourceVersion of the first read
	wrote    map[string]int64 // namespace → resourceVersion of the last write accepted
	problems []string
}

func newServiceReads(onRead func(ns string)) *serviceReads {
	return &serviceReads{onRead: onRead, read: map[string]int64{}, wrote: map[string]int64{}}
}

func (s *serviceReads) RoundTrip(next http.RoundTripper) http.RoundTripper {
	return roundTripFunc(func(r *http.Request) (*http.Response, error) {
		resp, err := next.RoundTrip(r)
		parts := strings.Split(strings.Trim(r.URL.Path, "/"), "/")
		// api/v1/namespaces/NS/services/app
		if err != nil || resp.StatusCode/100 != 2 || r.URL.Query().Get("watch") != "" ||
			len(parts) != 6 || parts[4] != "services" || parts[5] != "app" ||
			(r.Method != http.MethodGet && r.Method != http.MethodPatch) {
			return resp, err
		}
		ns := parts[3]
		body, rerr := io.ReadAll(resp.Body)
		resp.Body.Close()
		resp.Body = io.NopCloser(bytes.NewReader(body))
		rv, perr := int64(0), rerr
		if perr == nil {
			// JSON or protobuf, as the client asked.
			var obj runtime.Object
			if obj, _, perr = answers.Decode(body, nil, nil); perr == nil {
				var m metav1.Object
				if m, perr = meta.Accessor(obj); perr == nil {
					rv, perr = strconv.ParseInt(m.GetResourceVersion(), 10, 64)
				}
			}
		}
		s.mu.Lock()
		if perr != nil {
			s.problems = append(s.problems, fmt.Sprintf("%s %s: %v", r.Method, r.URL.Path, perr))
			s.mu.Unlock()
			return resp, err
		}
		_, seen := s.read[ns]
		first := r.Method == http.MethodGet && !seen
		switch {
		case first:
			s.read[ns] = rv
		case r.Method == http.MethodPatch:
			s.wrote[ns] = rv
		}
		s.mu.Unlock()
		if first {
			s.onRead(ns)
		}
		return resp, err
	})
}

// answers decodes the API server's answers to the tool's clients: typed
// objects, and the metadata client's PartialObjectMetadata.
var answers = func() runtime.Decoder {
	s := runtime.NewScheme()
	_ = scheme.AddToScheme(s)
	_ = metav1.AddMetaToScheme(s)
	return serializer.NewCodecFactory(s).UniversalDeserializer()
}()

// runWith runs the tool in-process against the test API server with wrap
// around its transport.
func runWith(t *testing.T, wrap func(http.RoundTripper) http.RoundTripper, args ...string) (stdout, stderr string, code int) {
	t.Helper()
	streams, out, errOut := TestStreams(false)
	f := NewFactory(streams, "kubectl-waypoint")
	f.NewClients = func(cfg *rest.Config) (*kube.Clients, error) {
		cfg = rest.CopyConfig(cfg)
		cfg.Wrap(wrap)
		return kube.NewClients(cfg)
	}
	code = Execute(f, append(args, "--kubeconfig", env.Kubeconfig))
	return out.String(), errOut.String(), code
}

// labelWrite is a write of a service's labels by someone other than the
// tool, with the resourceVersion the API server gave it.
type labelWrite struct {
	labels map[string]string // a nil value removes the label
	rv     int64
}

// patchServiceLabels writes labels on the service app of ns, as another
// writer would (a merge patch, no precondition), and returns the write.
func patchServiceLabels(ns string, labels map[string]any) (labelWrite, error) {
	body, _ := json.Marshal(map[string]any{"metadata": map[string]any{"labels": labels}})
	svc, err := env.Kube.CoreV1().Services(ns).Patch(context.Background(), "app", types.MergePatchType, body, metav1.PatchOptions{})
	if err != nil {
		return labelWrite{}, err
	}
	rv, err := strconv.ParseInt(svc.ResourceVersion, 10, 64)
	w := labelWrite{labels: map[string]string{}, rv: rv}
	for k, v := range labels {
		if s, ok := v.(string); ok {
			w.labels[k] = s
		}
	}
	return w, err
}

// TestBulkEnrollConcurrentWriter runs bulk enroll and then bulk unenroll over
// 20 namespaces while another writer changes each service right after the
// API server answered the tool's read of it, before the tool's write: in
// every other namespace it sets istio.io/use-waypoint (and team), in the
// rest only team. It judges by the cluster after the run and by what the
// API server answered, never by the tool's report:
//   - the other writer's team label is always there;
//   - a use-waypoint value someone set after the tool's read (its
//     resourceVersion is newer than the one the server answered that read
//     with) is still there: never lost;
//   - a use-waypoint value the tool read (the one the test set before the
//     run) is replaced as asked where only team changed since the read;
//   - the exit code is 1 exactly when a service is not as asked;
//   - every namespace saw the race: the other writer's write is newer than
//     the tool's read and older than any write of the tool's.
func TestBulkEnrollConcurrentWriter(t *testing.T) {
	const n = 20
	var namespaces []string
	index := map[string]int{}
	for i := range n {
		ns := env.Namespace(t, testenv.AmbientLabels())
		env.Waypoint(t, ns, "waypoint", nil)
		env.Service(t, ns, "app", map[string]string{"team": "payments"})
		namespaces = append(namespaces, ns)
		index[ns] = i
	}
	outsider := env.Namespace(t, nil)
	env.Service(t, outsider, "app", map[string]string{useWaypoint: "theirs"})

	for _, phase := range []struct {
		name   string
		args   []string
		before string // use-waypoint the test sets before the run
		want   string // what the tool is asked for; "-" is unset
	}{
		{"enroll", []string{"enroll", "service", "app", "--waypoint", "waypoint"}, "before", "waypoint"},
		{"unenroll", []string{"unenroll", "service", "app"}, "waypoint", "-"},
	} {
		t.Run(phase.name, func(t *testing.T) {
			// The value the tool will read and is asked to replace or
			// remove: set by the test before the run, so older than any
			// read of the tool's.
			set := map[string]labelWrite{}
			for _, ns := range namespaces {
				w, err := patchServiceLabels(ns, map[string]any{"team": "payments", useWaypoint: phase.before})
				if err != nil {
					t.Fatal(err)
				}
				set[ns] = w
			}
			var mu sync.Mutex
			other := map[string]labelWrite{}
			var otherErrs []error
			reads := newServiceReads(func(ns string) {
				v := fmt.Sprintf("other-%s-%d", phase.name, index[ns])
				labels := map[string]any{"team": v}
				if index[ns]%2 == 0 {
					labels[useWaypoint] = v
				}
				w, err := patchServiceLabels(ns, labels)
				mu.Lock()
				defer mu.Unlock()
				if err != nil {
					otherErrs = append(otherErrs, err)
					return
				}
				other[ns] = w
			})
			stdout, stderr, code := runWith(t, reads.RoundTrip, append(phase.args, "-n", strings.Join(namespaces, ","))...)
			if len(otherErrs) > 0 || len(reads.problems) > 0 {
				t.Fatalf("the other writer failed %v; answers not understood %v", otherErrs, reads.problems)
			}

			svcs, err := env.Kube.CoreV1().Services("").List(context.Background(), metav1.ListOptions{FieldSelector: "metadata.name=app"})
			if err != nil {
				t.Fatal(err)
			}
			labels := map[string]map[string]string{}
			for _, svc := range svcs.Items {
				labels[svc.Namespace] = svc.Labels
			}
			if got := labels[outsider][useWaypoint]; got != "theirs" {
				t.Errorf("the service of %s, not named, has use-waypoint %q", outsider, got)
			}
			notDone, raced := 0, map[bool]int{}
			for _, ns := range namespaces {
				read, ok := reads.read[ns]
				o, wrote := other[ns]
				if !ok || !wrote {
					t.Errorf("%s: the tool never read the service (%v), or the other writer never wrote it (%v)", ns, ok, wrote)
					continue
				}
				// The race: the other write lands after the read the
				// tool's write is based on, and before that write.
				toolRV, toolWrote := reads.wrote[ns]
				if o.rv <= read || (toolWrote && toolRV <= o.rv) {
					t.Errorf("%s: no race: the tool read version %d, the other writer wrote %d, the tool wrote %d (%v)", ns, read, o.rv, toolRV, toolWrote)
				}
				_, setsWaypoint := o.labels[useWaypoint]
				raced[setsWaypoint]++

				got := labels[ns]
				if got["team"] != o.labels["team"] {
					t.Errorf("%s: team %q in the cluster, the other writer wrote %q: lost", ns, got["team"], o.labels["team"])
				}
				// The newest use-waypoint someone else wrote, and when.
				last := set[ns]
				if setsWaypoint {
					last = o
				}
				value, has := got[useWaypoint]
				if !has {
					value = "-"
				}
				switch {
				case last.rv > read:
					// Written after the tool's read: it must stay.
					if value != last.labels[useWaypoint] {
						t.Errorf("%s: use-waypoint %q in the cluster; %q was written (version %d) after the tool read version %d: lost", ns, value, last.labels[useWaypoint], last.rv, read)
					}
				case value == last.labels[useWaypoint] && setsWaypoint:
					// Read by the tool, then left alone: a failure to report.
				case value == last.labels[useWaypoint]:
					// Only team changed since the read: the enrollment the
					// tool read still holds, so it must have done its work.
					t.Errorf("%s: use-waypoint %q left alone, want %q: only another label changed after the tool's read", ns, value, phase.want)
				case value != phase.want:
					t.Errorf("%s: use-waypoint %q in the cluster, want %q (replacing %q, which the tool read) or %q left alone", ns, value, phase.want, last.labels[useWaypoint], last.labels[useWaypoint])
				}
				if value != phase.want {
					notDone++
				}
			}
			if raced[true] == 0 || raced[false] == 0 {
				t.Errorf("races that set use-waypoint: %d, that only set team: %d; want both", raced[true], raced[false])
			}
			wantCode := 0
			if notDone > 0 {
				wantCode = ExitFailed
			}
			if code != wantCode {
				t.Errorf("exit %d, want %d: %d of %d services are not as asked in the cluster\nstdout:\n%s\nstderr:\n%s", code, wantCode, notDone, n, stdout, stderr)
			}
			t.Logf("%d namespaces raced (%d on use-waypoint); %d services not as asked, exit %d", raced[true]+raced[false], raced[true], notDone, code)
		})
	}
}
