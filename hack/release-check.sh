#!/usr/bin/env bash
# release-check: validates .goreleaser.yaml with the goreleaser pinned in
# hack/release (built from the module proxy), builds a snapshot release of
# one target (linux/amd64), unpacks its archive and runs what it holds, and
# validates the krew manifest by krew's rules.
#
# Building goreleaser costs a cold machine about 8 CPU-minutes, so that full
# check runs only when what it depends on differs from what it last passed
# on: the fingerprint of its inputs (below) is recorded in
# hack/release/checked when it passes; commit that file. Otherwise a smaller
# check builds the binary as .goreleaser.yaml does, puts it beside the files
# of the archive, and runs it and the completion shim: the part of a release
# that changes with the code. RELEASE_CHECK=full always runs the full check.
set -euo pipefail
cd "$(dirname "$0")/.."

out=${RELEASE_CHECK_DIR:-bin}
mkdir -p "$out"

# What goreleaser's result depends on, besides the Go code: its
# configuration and pin, the archive's files, this script and the krew
# check. README.md is only copied into the archive: not part of it.
inputs=(.goreleaser.yaml hack/release/go.mod hack/release/go.sum hack/release/shim/* LICENSE hack/release-check.sh hack/krewcheck/*.go internal/krew/*.go)
fingerprint=$(cat "${inputs[@]}" | sha256sum | cut -d' ' -f1)
record=hack/release/checked

# check_archive_files DIR runs the binary and the completion shim in DIR.
check_archive_files() {
  local dir=$1 f completions
  for f in kubectl-waypoint kubectl_complete-waypoint LICENSE README.md; do
    [ -e "$dir/$f" ] || { echo "release-check: $f is missing from the archive" >&2; exit 1; }
  done
  "$dir/kubectl-waypoint" version
  # The shim answers completion through the binary beside it on PATH.
  # (Captured first: grep -q would stop reading early, and pipefail would
  # count the writer's SIGPIPE as a failure.)
  completions=$(PATH="$dir:$PATH" "$dir/kubectl_complete-waypoint" "")
  grep -qx 'apply.*' <<<"$completions" ||
    { echo "release-check: kubectl_complete-waypoint does not complete the subcommands" >&2; exit 1; }
}

if [[ ${RELEASE_CHECK:-} != full && -f $record && $(cat "$record") == "$fingerprint" ]]; then
  work=$(mktemp -d)
  trap 'rm -rf "$work"' EXIT
  mkdir "$work/unpacked"
  # The build of .goreleaser.yaml: its env, flags and ldflags.
  pkg=github.com/kubectl-waypoint/kubectl-waypoint/pkg/version
  CGO_ENABLED=0 go build -trimpath \
    -ldflags "-s -w -X $pkg.Version=0.0.0-SNAPSHOT -X $pkg.Commit=$(git rev-parse HEAD) -X $pkg.Date=$(date -u +%Y-%m-%dT%H:%M:%SZ)" \
    -o "$work/unpacked/kubectl-waypoint" ./cmd/kubectl-waypoint
  cp LICENSE README.md hack/release/shim/kubectl_complete-waypoint* "$work/unpacked/"
  check_archive_files "$work/unpacked"
  echo "release-check: ok (goreleaser's inputs are those of the full check recorded in $record; the binary and the completion shim built and run; RELEASE_CHECK=full runs goreleaser)"
  exit 0
fi
goreleaser=$PWD/$out/goreleaser
(cd hack/release && go build -o "$goreleaser" github.com/goreleaser/goreleaser/v2)
"$goreleaser" --version | grep -m1 GitVersion || true

"$goreleaser" check

# The same configuration, narrowed to one target: a full snapshot builds six.
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
sed -e 's/^    goos: \[linux, darwin, windows\]$/    goos: [linux]/' \
    -e 's/^    goarch: \[amd64, arm64\]$/    goarch: [amd64]/' .goreleaser.yaml >"$work/goreleaser.yaml"
if cmp -s .goreleaser.yaml "$work/goreleaser.yaml"; then
  echo "release-check: could not narrow the targets of .goreleaser.yaml (goos/goarch lines changed?)" >&2
  exit 1
fi
dist=$work/dist
echo "dist: $dist" >>"$work/goreleaser.yaml"
# A snapshot needs no tag; the work tree may be dirty in a developer's clone.
"$goreleaser" release --snapshot --clean --skip=publish,announce,validate \
  --parallelism 2 --config "$work/goreleaser.yaml" \
  2>&1 | sed -e "s|$work|<work>|g" >"$work/log" || { cat "$work/log"; exit 1; }

archive=$dist/kubectl-waypoint_linux_amd64.tar.gz
if [ ! -f "$archive" ]; then
  cat "$work/log"
  echo "release-check: no kubectl-waypoint_linux_amd64.tar.gz was built" >&2
  exit 1
fi
mkdir "$work/unpacked"
tar -xzf "$archive" -C "$work/unpacked"
check_archive_files "$work/unpacked"
(cd "$dist" && sha256sum -c checksums.txt)

[ -f "$dist/homebrew/Casks/kubectl-waypoint.rb" ] || { echo "release-check: no Homebrew cask was written" >&2; exit 1; }
go run ./hack/krewcheck "$dist/krew/waypoint.yaml"
echo "$fingerprint" >"$record"
echo "release-check: ok ($(basename "$archive"), krew manifest, Homebrew cask, checksums); fingerprint recorded in $record"
