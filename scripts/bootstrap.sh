#!/usr/bin/env bash
# Brings a machine from nothing to ready for Spawner's tests and local cluster, and does nothing that is
# already done: machine packages, npm packages (which include the pinned Node 24), then the upstream
# Kubernetes, etcd, kwok (and node) binaries built from their Go modules.
#
# usage: scripts/bootstrap.sh [--no-apt] [--no-go]
set -euo pipefail
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$root"

apt=1 go=1
for arg in "$@"; do
  case "$arg" in
    --no-apt) apt=0 ;;
    --no-go) go=0 ;;
    *) echo "bootstrap: unknown argument '$arg' (known: --no-apt, --no-go)" >&2; exit 2 ;;
  esac
done

step() { printf '\n== bootstrap: %s\n' "$*"; }

if [[ $apt -eq 1 ]]; then
  step "machine packages"
  bash scripts/install-deps.sh
fi

step "npm packages (Node 24 comes with them)"
# `npm ci` rejects this lock file: with lock files kept free of registry addresses, npm leaves the
# other platforms' optional packages out of it and then counts them as missing. `npm install` with
# --no-save installs exactly the locked versions without rewriting the lock. A stamp of the lock's
# hash makes the second run free.
stamp=node_modules/.spawner-lock-hash
want="$(sha256sum package-lock.json package.json */package.json | sha256sum | cut -d' ' -f1)"
if [[ -x node_modules/.bin/node && -f "$stamp" && "$(cat "$stamp")" == "$want" ]]; then
  echo "bootstrap: node_modules matches package-lock.json"
else
  npm install --no-save --no-audit --no-fund --loglevel=error
  echo "$want" > "$stamp"
fi
node_version="$(node_modules/.bin/node --version)"
case "$node_version" in
  v24.*) echo "bootstrap: Node $node_version from node_modules" ;;
  *) echo "bootstrap: node_modules/.bin/node is $node_version, expected v24: is the 'node' package installed?" >&2; exit 1 ;;
esac

if [[ $go -eq 1 ]]; then
  step "upstream binaries from Go modules: Kubernetes, etcd, kwok, CoreDNS (cached by version; a cold build takes 15-20 minutes)"
  bash e2e/cluster/build.sh kube-apiserver kube-controller-manager kube-scheduler kubectl etcd kwok kubelet kube-proxy coredns
fi
step "ready"
