#!/usr/bin/env bash
# Builds the upstream binaries the test cluster runs, from Go modules, into a git-ignored cache:
#   .cache/bin/k8s-<version>/{kube-apiserver,kube-controller-manager,kube-scheduler,kubectl,kubelet,kube-proxy}
#   .cache/bin/etcd-<version>/etcd
#   .cache/bin/kwok-<version>/kwok
#   .cache/bin/coredns-<version>/coredns (cluster DNS of the real-node tier, on request)
# Versions come from the go.mod files beside this script, so bumping a release is a go.mod change.
# A binary already present is skipped; the module and build caches live under .cache/go/ so a warm
# machine rebuilds nothing and a cold one needs only the Go toolchain and the module proxy.
#
# usage: e2e/cluster/build.sh [--print-dir NAME] [NAME…]
#   NAME: kube-apiserver kube-controller-manager kube-scheduler kubectl kubelet kube-proxy etcd kwok coredns
#   default: the control plane (kube-apiserver kube-controller-manager kube-scheduler kubectl etcd kwok)
set -euo pipefail

here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
root="$(cd "$here/../.." && pwd)"
cache="$root/.cache"

default_names=(kube-apiserver kube-controller-manager kube-scheduler kubectl etcd kwok)
known_names=(kube-apiserver kube-controller-manager kube-scheduler kubectl kubelet kube-proxy etcd kwok coredns)

die() { echo "build.sh: $*" >&2; exit 2; }

# The version a module pins, read from its go.mod so there is a single place to change it.
required_version() { # <go.mod> <module path>
  awk -v m="$2" '($1 == "require" && $2 == m) || ($1 == m && $2 ~ /^v/) { print ($1 == "require" ? $3 : $2); exit }' "$1"
}

k8s_version="$(required_version "$here/k8s/go.mod" k8s.io/kubernetes)"
etcd_version="$(required_version "$here/etcd/go.mod" go.etcd.io/etcd/server/v3)"
kwok_version="$(required_version "$here/kwok/go.mod" sigs.k8s.io/kwok)"
coredns_version="$(required_version "$here/coredns/go.mod" github.com/coredns/coredns)"
[[ -n "$k8s_version" && -n "$etcd_version" && -n "$kwok_version" && -n "$coredns_version" ]] || die "cannot read pinned versions from $here/*/go.mod"

# Where a binary lands; the harness uses the same layout (e2e/harness/binaries.ts).
bin_dir() { # <name>
  case "$1" in
    etcd) echo "$cache/bin/etcd-$etcd_version" ;;
    kwok) echo "$cache/bin/kwok-$kwok_version" ;;
    coredns) echo "$cache/bin/coredns-$coredns_version" ;;
    kube-apiserver|kube-controller-manager|kube-scheduler|kubectl|kubelet|kube-proxy) echo "$cache/bin/k8s-$k8s_version" ;;
    *) die "unknown binary '$1' (known: ${known_names[*]})" ;;
  esac
}

if [[ "${1:-}" == "--print-dir" ]]; then
  [[ $# -eq 2 ]] || die "usage: build.sh --print-dir NAME"
  bin_dir "$2"
  exit 0
fi

names=("$@")
[[ ${#names[@]} -gt 0 ]] || names=("${default_names[@]}")
for n in "${names[@]}"; do bin_dir "$n" >/dev/null; done

go_bin="$(command -v go || true)"
[[ -n "$go_bin" ]] || go_bin=/usr/local/go/bin/go
[[ -x "$go_bin" ]] || die "no Go toolchain: put go on PATH or install it at /usr/local/go"

export GOMODCACHE="$cache/go/mod"
export GOCACHE="$cache/go/build"
export GOFLAGS="-mod=readonly -buildvcs=false"
# A go.mod may name an older toolchain if the machine's Go cannot compile a release; allow fetching it.
export GOTOOLCHAIN="${GOTOOLCHAIN:-auto}"
mkdir -p "$GOMODCACHE" "$GOCACHE" "$cache/bin"

fmt_secs() { printf '%dm%02ds' $(($1 / 60)) $(($1 % 60)); }

# Two builds at once would only fight for the 2 cores and the build cache; the second waits.
exec 9>"$cache/bin/.build.lock"
if ! flock -n 9; then
  echo "build.sh: another build is running; waiting for it…" >&2
  flock 9
fi

# The kwok binary has no built-in behaviour: what happens to Nodes and Pods is described by Stage
# objects given as config. Its release ships the usual ones as YAML inside the module; keep copies
# next to the binary so the harness needs nothing but the bin folder.
kwok_stages() { # <dir>
  local dir="$1/stages" src
  [[ -f "$dir/pod-delete.yaml" ]] && return 0
  src="$(cd "$here/kwok" && "$go_bin" list -m -f '{{.Dir}}' sigs.k8s.io/kwok)/kustomize/stage"
  mkdir -p "$dir.tmp.$$"
  cp "$src/node/fast/node-initialize.yaml" "$src/node/heartbeat-with-lease/node-heartbeat-with-lease.yaml" \
    "$src/pod/fast/pod-ready.yaml" "$src/pod/fast/pod-complete.yaml" "$src/pod/fast/pod-delete.yaml" "$dir.tmp.$$/"
  chmod u+w "$dir.tmp.$$"/*
  rm -rf "$dir" && mv "$dir.tmp.$$" "$dir"
}

build_one() { # <name>
  local name="$1" dir module pkg version cgo ldflags
  dir="$(bin_dir "$name")"
  if [[ -x "$dir/$name" ]]; then
    [[ "$name" != kwok ]] || kwok_stages "$dir"
    echo "build.sh: $name present in ${dir#"$root"/}, skipped"
    return 0
  fi
  case "$name" in
    etcd)
      module="$here/etcd"; pkg=go.etcd.io/etcd/server/v3; version="$etcd_version"; cgo=0; ldflags="-s -w" ;;
    kwok)
      module="$here/kwok"; pkg=sigs.k8s.io/kwok/cmd/kwok; version="$kwok_version"; cgo=0; ldflags="-s -w" ;;
    coredns)
      # CoreDNS's main package is its module's root; its plugins are compiled in (plugin.cfg).
      module="$here/coredns"; pkg=github.com/coredns/coredns; version="$coredns_version"; cgo=0; ldflags="-s -w" ;;
    *)
      module="$here/k8s"; pkg="k8s.io/kubernetes/cmd/$name"; version="$k8s_version"
      # Upstream links everything statically except the kubelet.
      if [[ "$name" == kubelet ]]; then cgo=1; else cgo=0; fi
      local minor="${k8s_version#v1.}"; minor="${minor%%.*}"
      ldflags="-s -w"
      for p in k8s.io/component-base/version k8s.io/client-go/pkg/version; do
        ldflags+=" -X $p.gitVersion=$k8s_version -X $p.gitMajor=1 -X $p.gitMinor=$minor -X $p.gitTreeState=clean"
      done ;;
  esac
  mkdir -p "$dir"
  echo "build.sh: building $name ${version#v} (cold builds take several minutes on 2 cores)…"
  local start=$SECONDS ticker
  # A heartbeat so a long cold build does not look hung in CI logs.
  ( while sleep 60; do echo "build.sh:   …still building $name ($(fmt_secs $((SECONDS - start))))"; done ) &
  ticker=$!
  local tmp="$dir/.$name.tmp.$$" rc=0
  (cd "$module" && CGO_ENABLED="$cgo" "$go_bin" build -trimpath -tags selinux,notest -ldflags "$ldflags" -o "$tmp" "$pkg") || rc=$?
  kill "$ticker" 2>/dev/null || true
  wait "$ticker" 2>/dev/null || true
  if [[ $rc -ne 0 ]]; then
    rm -f "$tmp"
    echo "build.sh: building $name failed after $(fmt_secs $((SECONDS - start)))" >&2
    return $rc
  fi
  mv -f "$tmp" "$dir/$name"
  [[ "$name" != kwok ]] || kwok_stages "$dir"
  echo "build.sh: built $name in $(fmt_secs $((SECONDS - start))) -> ${dir#"$root"/}/$name"
}

main() {
  local total_start=$SECONDS n
  for n in "${names[@]}"; do build_one "$n"; done
  echo "build.sh: done in $(fmt_secs $((SECONDS - total_start)))"
}

# Parsed whole before it runs, so editing this file during a long build cannot derail the build.
main
exit
