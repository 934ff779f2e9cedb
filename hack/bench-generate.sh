#!/usr/bin/env bash
# bench-generate.sh measures `kubectl-waypoint generate --for service -n default`
# against the figures of istioctl in docs/performance.md: median wall time,
# median peak memory (max RSS) and binary size, and checks each target.
#
# Usage:
#   make bench                   build bin/kubectl-waypoint, then run this
#   hack/bench-generate.sh       the same; builds bin/kubectl-waypoint when missing
#
# Environment:
#   BENCH_RUNS      timed runs for the wall time (default 300)
#   BENCH_RSS_RUNS  runs under /usr/bin/time -v for the peak memory (default 15)
#   BENCH_TIMER     hyperfine or loop (default: hyperfine when it can be had)
#
# The wall time comes from hyperfine (installed with apt-get when missing and
# possible), else from a bash loop that reads the clock around each run.
# Exit code 1 when a target is missed. On a busy machine the wall time varies
# from run to run: compare the fastest run too, and rerun when it is quiet.
set -euo pipefail

repo_root=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
cd "$repo_root"

runs=${BENCH_RUNS:-300}
rss_runs=${BENCH_RSS_RUNS:-15}
timer_kind=${BENCH_TIMER:-hyperfine}
bin=bin/kubectl-waypoint
args=(generate --for service -n default)

# istioctl's figures for the same command (docs/performance.md), and our targets.
istioctl_ms=57
istioctl_rss_mib=80
istioctl_size_mb=199
target_ms=11.4      # a fifth of istioctl's wall time
target_rss_mib=40   # half of istioctl's peak memory
target_size_mb=99.5 # half of istioctl's binary

log() { echo "bench-generate: $*" >&2; }

[[ -x $bin ]] || { log "building $bin"; make -s build; }
"$bin" "${args[@]}" >/dev/null || { log "$bin ${args[*]} fails"; exit 1; }

tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT

# median reads numbers, one a line, and prints their median.
median() {
	sort -g | awk '{ v[NR] = $1 } END {
		if (NR == 0) { print "nan"; exit }
		if (NR % 2) print v[(NR + 1) / 2]; else print (v[NR / 2] + v[NR / 2 + 1]) / 2
	}'
}

# --- wall time -------------------------------------------------------------
if [[ $timer_kind == hyperfine ]] && ! command -v hyperfine >/dev/null && command -v apt-get >/dev/null && [[ $(id -u) == 0 ]]; then
	log "hyperfine is missing; installing it with apt-get"
	apt-get install -y -qq hyperfine >/dev/null 2>&1 ||
		{ apt-get update -qq >/dev/null 2>&1 && apt-get install -y -qq hyperfine >/dev/null 2>&1; } ||
		log "could not install hyperfine; timing with a bash loop"
fi
if [[ $timer_kind == hyperfine ]] && command -v hyperfine >/dev/null; then
	timer="hyperfine (-N, $runs runs, 20 warm-up)"
	# -N: no intermediate shell, so its start-up is not counted.
	hyperfine -N --style none --warmup 20 --runs "$runs" \
		--export-json "$tmp/hyperfine.json" "$bin ${args[*]}" >/dev/null 2>"$tmp/hyperfine.err" ||
		{ cat "$tmp/hyperfine.err" >&2; exit 1; }
	# The times of every run are in the JSON, one "times" array of seconds.
	tr -d ' \n' <"$tmp/hyperfine.json" | sed 's/.*"times":\[\([^]]*\)\].*/\1/' |
		tr ',' '\n' | awk '{ printf "%.3f\n", $1 * 1000 }' >"$tmp/wall"
else
	# now_us prints the time in microseconds: bash 5's $EPOCHREALTIME costs
	# no fork; date +%s%N does, and that fork is counted in each run.
	if [[ -n ${EPOCHREALTIME:-} ]]; then
		clock=\$EPOCHREALTIME
		now_us() { echo "${EPOCHREALTIME/[.,]/}"; }
	else
		clock='date +%s%N'
		now_us() { echo $(($(date +%s%N) / 1000)); }
	fi
	timer="bash loop over $clock ($runs runs, 20 warm-up)"
	for _ in $(seq 20); do "$bin" "${args[@]}" >/dev/null; done
	for _ in $(seq "$runs"); do
		start=$(now_us)
		"$bin" "${args[@]}" >/dev/null
		end=$(now_us)
		echo $((end - start))
	done | awk '{ printf "%.3f\n", $1 / 1000 }' >"$tmp/wall"
fi
wall_ms=$(median <"$tmp/wall" | awk '{ printf "%.1f", $1 }')
wall_min_ms=$(sort -g "$tmp/wall" | awk 'NR == 1 { printf "%.1f", $1 }')

# --- peak memory -------------------------------------------------------------
if [[ -x /usr/bin/time ]]; then
	for _ in $(seq "$rss_runs"); do
		/usr/bin/time -v "$bin" "${args[@]}" 2>&1 >/dev/null |
			awk -F: '/Maximum resident set size/ { print $2 + 0 }'
	done | median >"$tmp/rss_kib"
	rss_mib=$(awk '{ printf "%.1f", $1 / 1024 }' "$tmp/rss_kib")
else
	log "no /usr/bin/time (GNU time): peak memory not measured"
	rss_mib=nan
fi

# --- binary size -------------------------------------------------------------
size_of() { stat -c %s "$1"; }
stripped=$(size_of "$bin")
log "building an unstripped binary with a plain go build"
go build -o "$tmp/kubectl-waypoint" ./cmd/kubectl-waypoint
unstripped=$(size_of "$tmp/kubectl-waypoint")
mb() { awk -v b="$1" 'BEGIN { printf "%.1f", b / 1e6 }'; }
mib() { awk -v b="$1" 'BEGIN { printf "%.1f", b / 1048576 }'; }

# --- report ------------------------------------------------------------------
# verdict VALUE TARGET prints "ok" when VALUE <= TARGET, else "MISSED".
verdict() {
	if awk -v v="$1" -v t="$2" 'BEGIN { exit !(v != "nan" && v + 0 <= t + 0) }'; then
		echo ok
	else
		echo MISSED
	fi
}
wall_verdict=$(verdict "$wall_ms" "$target_ms")
rss_verdict=$(verdict "$rss_mib" "$target_rss_mib")
size_verdict=$(verdict "$(mb "$stripped")" "$target_size_mb")
missed=0
for v in "$wall_verdict" "$rss_verdict" "$size_verdict"; do
	[[ $v == ok ]] || missed=$((missed + 1))
done

cat <<EOF
kubectl-waypoint ${args[*]}
  $(uname -m), $(nproc) CPUs, $(go version | cut -d' ' -f3), $(date -u +%Y-%m-%d), load average $(cut -d' ' -f1-3 /proc/loadavg 2>/dev/null || echo unknown)
  wall time: $timer; fastest run $wall_min_ms ms

figure                    kubectl-waypoint      istioctl   target        result
median wall time          $(printf '%-20s' "$wall_ms ms")  ${istioctl_ms} ms      <= ${target_ms} ms    $wall_verdict
median peak RSS           $(printf '%-20s' "$rss_mib MiB")  ${istioctl_rss_mib} MiB     <= ${target_rss_mib} MiB     $rss_verdict
binary (make build)       $(printf '%-20s' "$(mb "$stripped") MB")  ${istioctl_size_mb} MB     <= ${target_size_mb} MB    $size_verdict
binary (go build)         $(printf '%-20s' "$(mb "$unstripped") MB")  (unstripped; $(mib "$unstripped") MiB, stripped $(mib "$stripped") MiB)
EOF
if ((missed > 0)); then
	log "$missed target(s) missed"
	exit 1
fi
