// Command bench-fleet measures one call over three clusters against three
// calls one after another (docs/performance.md, "Fleets"). It starts three
// API servers (no istiod), creates the namespaces in each, and runs the
// built binary bin/kubectl-waypoint, timing it with /usr/bin/time. Requests
// are counted by the API servers themselves (apiserver_request_total for
// gateways, gatewayclasses and namespaces, which nothing else touches).
//
//	go run ./hack/bench-fleet [-namespaces 100] [-rounds 3] [-latency 20ms]
package main

import (
	"bufio"
	"context"
	"flag"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"sync"
	"time"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/tools/clientcmd"
	clientcmdapi "k8s.io/client-go/tools/clientcmd/api"

	"github.com/kubectl-waypoint/kubectl-waypoint/internal/faultproxy"
	"github.com/kubectl-waypoint/kubectl-waypoint/internal/testenv"
)

var contexts = []string{"c1", "c2", "c3"}

func main() {
	n := flag.Int("namespaces", 100, "namespaces per cluster")
	rounds := flag.Int("rounds", 3, "rounds of each measurement (the median is printed)")
	latency := flag.Duration("latency", 0, "delay every request by this much, as a remote cluster would (through internal/faultproxy)")
	flag.Parse()
	if err := run(*n, *rounds, *latency); err != nil {
		fmt.Fprintln(os.Stderr, "bench-fleet:", err)
		os.Exit(1)
	}
}

func run(n, rounds int, latency time.Duration) error {
	bin, err := filepath.Abs("bin/kubectl-waypoint")
	if err != nil {
		return err
	}
	if _, err := os.Stat(bin); err != nil {
		return fmt.Errorf("%w: run make build first", err)
	}
	envs := make([]*testenv.Env, len(contexts))
	var wg sync.WaitGroup
	errs := make([]error, len(contexts))
	for i := range contexts {
		wg.Go(func() { envs[i], errs[i] = testenv.StartWithOptions(testenv.Options{WithoutIstiod: true}) })
	}
	wg.Wait()
	defer func() {
		for _, e := range envs {
			if e != nil {
				_ = e.Stop()
			}
		}
	}()
	for _, err := range errs {
		if err != nil {
			return err
		}
	}
	dir, err := os.MkdirTemp("", "bench-fleet-")
	if err != nil {
		return err
	}
	defer os.RemoveAll(dir)
	kc := clientcmdapi.NewConfig()
	for i, name := range contexts {
		cfg := envs[i].Config
		kc.Clusters[name] = &clientcmdapi.Cluster{Server: cfg.Host, CertificateAuthorityData: cfg.CAData}
		kc.AuthInfos[name] = &clientcmdapi.AuthInfo{ClientCertificateData: cfg.CertData, ClientKeyData: cfg.KeyData}
		kc.Contexts[name] = &clientcmdapi.Context{Cluster: name, AuthInfo: name}
		if latency > 0 {
			// The proxy speaks plain HTTP on loopback and authenticates
			// to the API server itself.
			p, err := faultproxy.Start(cfg, faultproxy.Profile{Latency: latency}, 1)
			if err != nil {
				return err
			}
			defer p.Close()
			kc.Clusters[name] = &clientcmdapi.Cluster{Server: p.URL}
			kc.AuthInfos[name] = &clientcmdapi.AuthInfo{}
		}
	}
	kc.CurrentContext = contexts[0]
	kubeconfig := filepath.Join(dir, "kubeconfig")
	if err := clientcmd.WriteToFile(*kc, kubeconfig); err != nil {
		return err
	}
	// 3n namespaces per cluster: the first n are "small", all are "large".
	for _, e := range envs {
		for i := range 3 * n {
			labels := map[string]string{"bench": "fleet", "istio.io/dataplane-mode": "ambient"}
			if i < n {
				labels["size"] = "small"
			}
			ns := &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: fmt.Sprintf("fleet-%03d", i), Labels: labels}}
			if _, err := e.Kube.CoreV1().Namespaces().Create(context.Background(), ns, metav1.CreateOptions{}); err != nil {
				return err
			}
		}
	}
	// lastCPU is the CPU time (user and system) of the calls of the last
	// round of a measurement: the client's share of the work; serverCPU is
	// that of the API servers and etcds in the same round.
	var lastCPU, serverCPU float64
	tool := func(args ...string) (secs float64, rssKiB int, err error) {
		cmd := exec.Command("/usr/bin/time", append([]string{"-f", "%e %M %U %S", bin, "--kubeconfig", kubeconfig}, args...)...)
		var stderr strings.Builder
		cmd.Stderr = &stderr
		if err := cmd.Run(); err != nil {
			return 0, 0, fmt.Errorf("%v: %w\n%s", args, err, stderr.String())
		}
		lines := strings.Split(strings.TrimSpace(stderr.String()), "\n")
		f := strings.Fields(lines[len(lines)-1])
		secs, _ = strconv.ParseFloat(f[0], 64)
		rssKiB, _ = strconv.Atoi(f[1])
		user, _ := strconv.ParseFloat(f[2], 64)
		sys, _ := strconv.ParseFloat(f[3], 64)
		lastCPU += user + sys
		return secs, rssKiB, nil
	}
	reset := func() error {
		_, _, err := tool("delete", "--all", "--unenroll", "--namespace-selector", "bench=fleet", "--all-contexts")
		return err
	}
	requests := func() ([]float64, error) {
		out := make([]float64, len(envs))
		for i, e := range envs {
			raw, err := e.Kube.CoreV1().RESTClient().Get().AbsPath("/metrics").DoRaw(context.Background())
			if err != nil {
				return nil, err
			}
			sc := bufio.NewScanner(strings.NewReader(string(raw)))
			sc.Buffer(make([]byte, 1<<20), 1<<20)
			for sc.Scan() {
				l := sc.Text()
				if !strings.HasPrefix(l, "apiserver_request_total{") {
					continue
				}
				if !strings.Contains(l, `resource="gateways"`) && !strings.Contains(l, `resource="gatewayclasses"`) && !strings.Contains(l, `resource="namespaces"`) {
					continue
				}
				v, _ := strconv.ParseFloat(l[strings.LastIndex(l, " ")+1:], 64)
				out[i] += v
			}
		}
		return out, nil
	}
	apply := func(selector string, ctxArgs ...string) []string {
		return append([]string{"apply", "--namespace-selector", selector, "--enroll-namespace"}, ctxArgs...)
	}
	// measure runs each call from a reset state and returns the median
	// total time, the median peak RSS of the calls, and the requests each
	// cluster got in the last round.
	measure := func(calls ...[]string) (secs float64, rss int, reqs []float64, err error) {
		var times []float64
		var rsss []int
		for range rounds {
			if err := reset(); err != nil {
				return 0, 0, nil, err
			}
			lastCPU = 0
			before, err := requests()
			if err != nil {
				return 0, 0, nil, err
			}
			serverBefore := controlPlaneCPU(envs[0].BinDir)
			total, peak := 0.0, 0
			for _, c := range calls {
				s, r, err := tool(c...)
				if err != nil {
					return 0, 0, nil, err
				}
				total += s
				peak = max(peak, r)
			}
			serverCPU = controlPlaneCPU(envs[0].BinDir) - serverBefore
			after, err := requests()
			if err != nil {
				return 0, 0, nil, err
			}
			reqs = make([]float64, len(after))
			for i := range after {
				reqs[i] = after[i] - before[i]
			}
			times = append(times, total)
			rsss = append(rsss, peak)
		}
		sort.Float64s(times)
		sort.Ints(rsss)
		return times[len(times)/2], rsss[len(rsss)/2], reqs, nil
	}
	load, _ := os.ReadFile("/proc/loadavg")
	fmt.Printf("clusters: %d, namespaces per cluster: %d, rounds: %d, latency per request: %s, started %s, load average %s\n",
		len(contexts), n, rounds, latency, time.Now().UTC().Format(time.RFC3339), strings.Join(strings.Fields(string(load))[:3], " "))
	idle := controlPlaneCPU(envs[0].BinDir)
	time.Sleep(5 * time.Second)
	fmt.Printf("the API servers and etcds at rest: %.2f CPU-seconds per second\n", (controlPlaneCPU(envs[0].BinDir)-idle)/5)
	var seq [][]string
	for _, c := range contexts {
		seq = append(seq, apply("size=small", "--context", c))
	}
	seqSecs, seqRSS, seqReqs, err := measure(seq...)
	if err != nil {
		return err
	}
	fmt.Printf("three calls one after another: %.2f s, peak RSS %d KiB, client CPU %.2f s, servers' CPU %.2f s, requests per cluster %v\n", seqSecs, seqRSS, lastCPU, serverCPU, seqReqs)
	oneSecs, oneRSS, oneReqs, err := measure(apply("size=small", "--all-contexts"))
	if err != nil {
		return err
	}
	fmt.Printf("one call over 3 clusters: %.2f s (%.2fx), peak RSS %d KiB, client CPU %.2f s, servers' CPU %.2f s, requests per cluster %v\n", oneSecs, oneSecs/seqSecs, oneRSS, lastCPU, serverCPU, oneReqs)
	aloneSecs, aloneRSS, aloneReqs, err := measure(apply("size=small", "--context", contexts[0]))
	if err != nil {
		return err
	}
	fmt.Printf("one cluster alone: %.2f s, peak RSS %d KiB, client CPU %.2f s, servers' CPU %.2f s, requests %v\n", aloneSecs, aloneRSS, lastCPU, serverCPU, aloneReqs[:1])
	bigAloneSecs, bigAloneRSS, _, err := measure(apply("bench=fleet", "--context", contexts[0]))
	if err != nil {
		return err
	}
	fmt.Printf("one cluster, %d namespaces: %.2f s, peak RSS %d KiB\n", 3*n, bigAloneSecs, bigAloneRSS)
	bigSecs, bigRSS, _, err := measure(apply("bench=fleet", "--all-contexts"))
	if err != nil {
		return err
	}
	fmt.Printf("3 clusters, %d namespaces each: %.2f s, peak RSS %d KiB\n", 3*n, bigSecs, bigRSS)
	return nil
}

// controlPlaneCPU is the CPU time (user and system, in seconds) used so far
// by the running processes whose executable lives in binDir: the API servers
// and etcds of every cluster, which all run the same binaries. Linux only.
func controlPlaneCPU(binDir string) float64 {
	dirs, _ := os.ReadDir("/proc")
	var ticks float64
	for _, d := range dirs {
		if _, err := strconv.Atoi(d.Name()); err != nil {
			continue
		}
		exe, err := os.Readlink(filepath.Join("/proc", d.Name(), "exe"))
		if err != nil || filepath.Dir(exe) != filepath.Clean(binDir) {
			continue
		}
		stat, err := os.ReadFile(filepath.Join("/proc", d.Name(), "stat"))
		if err != nil {
			continue
		}
		// The fields after the command's closing parenthesis: utime and
		// stime are the 12th and 13th of them.
		f := strings.Fields(string(stat[strings.LastIndexByte(string(stat), ')')+1:]))
		if len(f) < 13 {
			continue
		}
		u, _ := strconv.ParseFloat(f[11], 64)
		s, _ := strconv.ParseFloat(f[12], 64)
		ticks += u + s
	}
	return ticks / 100 // USER_HZ, 100 on Linux
}
