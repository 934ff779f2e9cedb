#!/usr/bin/env bash
# release-check: validates .goreleaser.yaml with the goreleaser pinned in
# hack/release (built from the module proxy), builds a snapshot release of
# one target (linux/amd64), unpacks its archive and runs what it holds, and
# validates the krew manifest by krew's rules.
set -euo pipefail
cd "$(dirname "$0")/.."

out=${RELEASE_CHECK_DIR:-bin}
mkdir -p "$out"
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
for f in kubectl-waypoint kubectl_complete-waypoint LICENSE README.md; do
  [ -e "$work/unpacked/$f" ] || { echo "release-check: $f is missing from $(basename "$archive")" >&2; exit 1; }
done
"$work/unpacked/kubectl-waypoint" version
# The shim answers completion through the binary beside it on PATH.
# (Captured first: grep -q would stop reading early, and pipefail would
# count the writer's SIGPIPE as a failure.)
completions=$(PATH="$work/unpacked:$PATH" "$work/unpacked/kubectl_complete-waypoint" "")
grep -qx 'apply.*' <<<"$completions" ||
  { echo "release-check: kubectl_complete-waypoint does not complete the subcommands" >&2; exit 1; }
(cd "$dist" && sha256sum -c checksums.txt)

[ -f "$dist/homebrew/Casks/kubectl-waypoint.rb" ] || { echo "release-check: no Homebrew cask was written" >&2; exit 1; }
go run ./hack/krewcheck "$dist/krew/waypoint.yaml"
echo "release-check: ok ($(basename "$archive"), krew manifest, Homebrew cask, checksums)"
