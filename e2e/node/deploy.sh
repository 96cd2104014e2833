#!/usr/bin/env bash
# `make deploy`: creates the cluster's access key once, applies the Kustomize overlay that fits the
# current kubectl context and waits, with progress, until every Deployment and DaemonSet of Spawner
# (operator, sweeper, router) is rolled out.
#   local  a cluster with the harness's real node (label spawner.dev/real-node=true)
#   kind   a context named kind-*
#   base   anything else
# env: SPAWNER_OVERLAY=local|kind|base to choose; KUBECTL (default: kubectl on PATH, else the harness's);
#      SPAWNER_DEPLOY_TIMEOUT seconds per workload (default 300)
set -euo pipefail

here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
root="$(cd "$here/../.." && pwd)"
namespace=spawner-system
timeout="${SPAWNER_DEPLOY_TIMEOUT:-300}"

say() { echo "deploy: $*" >&2; }
die() { say "$*"; exit 1; }

kubectl="${KUBECTL:-${SPAWNER_TEST_KUBECTL:-}}"
if [[ -z "$kubectl" ]]; then
  if command -v kubectl >/dev/null; then kubectl=kubectl; else kubectl="$(bash "$root/e2e/cluster/build.sh" --print-dir kubectl)/kubectl"; fi
fi
[[ -x "$kubectl" ]] || command -v "$kubectl" >/dev/null || die "no kubectl (set KUBECTL, or run e2e/cluster/build.sh kubectl)"
k() { "$kubectl" "$@"; }

context="$(k config current-context 2>/dev/null || true)"
[[ -n "$context" ]] || die "no current kubectl context: set KUBECONFIG (e.g. eval \"\$(node e2e/harness/cli.ts env)\")"

overlay="${SPAWNER_OVERLAY:-}"
if [[ -z "$overlay" ]]; then
  if [[ -n "$(k get nodes -l spawner.dev/real-node=true -o name 2>/dev/null)" ]]; then
    overlay=local
  elif [[ "$context" == kind-* ]]; then
    overlay=kind
  else
    overlay=base
  fi
fi
case "$overlay" in
  local|kind) dir="$root/manifests/overlays/$overlay" ;;
  base) dir="$root/manifests/base" ;;
  *) die "SPAWNER_OVERLAY must be local, kind or base, got '$overlay'" ;;
esac
say "context $context: applying ${dir#"$root"/}"

# The cluster's access key (common/spawner/access.ts): 32 random bytes in a Secret that the operator
# (which mints session tokens) and the route service (which checks them) mount. Made once and never
# replaced here: a new key would invalidate every URL handed out. Kept out of the Kustomize tree so that
# re-applying or deleting the manifests leaves it alone, and so that no key ever sits in a file.
if ! k -n "$namespace" get secret spawner-access-key -o name >/dev/null 2>&1; then
  k get namespace "$namespace" -o name >/dev/null 2>&1 || k create namespace "$namespace" >/dev/null
  k -n "$namespace" create secret generic spawner-access-key --from-file=key=<(head -c 32 /dev/urandom) >/dev/null
  say "created the access key (Secret $namespace/spawner-access-key)"
fi

# Server-side: the CRD's schema is too large for client-side apply's last-applied annotation.
k apply --server-side --force-conflicts --field-manager=spawner-deploy -k "$dir" | sed 's/^/deploy:   /' >&2
k wait --for=condition=Established --timeout=120s crd/sessionlivedbackends.spawner.dev crd/warmpools.spawner.dev >/dev/null

start=$SECONDS
for kind in deployment daemonset; do
  for w in $(k -n "$namespace" get "$kind" -o name); do
    say "waiting for $w ($((SECONDS - start))s)"
    if ! k -n "$namespace" rollout status "$w" --timeout="${timeout}s" 2>&1 | sed 's/^/deploy:   /' >&2; then
      k -n "$namespace" get pods -o wide >&2 || true
      die "$w did not become ready within ${timeout}s"
    fi
  done
done
say "Spawner is ready in $namespace after $((SECONDS - start))s:"
k -n "$namespace" get deployments,daemonsets,services 2>&1 | sed 's/^/deploy:   /' >&2
