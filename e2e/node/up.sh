#!/usr/bin/env bash
# `make up`: from a fresh machine to a playable drop-four URL, and fast when run again.
#   1. machine packages, npm packages, upstream binaries (scripts/bootstrap.sh; skips what is there),
#      plus CoreDNS for the real node
#   2. the cluster: control plane + real node (reused when the recorded one is up and its node Ready)
#   3. images built from local files and imported (images/build.sh; unchanged ones are skipped)
#   4. Spawner deployed and Ready (e2e/node/deploy.sh)
#   5. a WarmPool of 2 drop-four backends (manifests/demo/drop-four-pool.yaml) and a session claimed from
#      it, reused while it lives; prints its URL
# usage: e2e/node/up.sh [--no-bootstrap]     env: SPAWNER_CLUSTER_STATE as for e2e/harness/cli.ts
set -euo pipefail

root="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"
cd "$root"
bootstrap=1
for arg in "$@"; do
  case "$arg" in
    --no-bootstrap) bootstrap=0 ;;
    *) echo "up: unknown argument '$arg' (known: --no-bootstrap)" >&2; exit 2 ;;
  esac
done
[[ $(id -u) -eq 0 ]] || { echo "up: the real node needs root (containerd, kubelet, iptables, mounts)" >&2; exit 1; }

start=$SECONDS
step() { printf '\n== up: %s (%ds)\n' "$*" $((SECONDS - start)) >&2; }
node=node_modules/node/bin/node

if [[ $bootstrap -eq 1 ]]; then
  step "machine packages, npm packages, upstream binaries"
  bash scripts/bootstrap.sh
fi
[[ -x "$node" ]] || { echo "up: no Node 24 in node_modules: run scripts/bootstrap.sh" >&2; exit 1; }
bash e2e/cluster/build.sh kubelet kube-proxy coredns >&2

step "cluster with a real node"
kubectl="$(bash e2e/cluster/build.sh --print-dir kubectl)/kubectl"
reuse=0
if env_lines="$("$node" e2e/harness/cli.ts env 2>/dev/null)"; then
  eval "$env_lines"
  ready="$("$kubectl" get node spawner-node -o jsonpath='{.status.conditions[?(@.type=="Ready")].status}' 2>/dev/null || true)"
  [[ "$ready" == True ]] && reuse=1
fi
if [[ $reuse -eq 1 ]]; then
  echo "up: reusing the running cluster ($KUBECONFIG)" >&2
else
  # Not `eval "$(…)"`: eval of a failed substitution's empty output succeeds, and up went on to build
  # and deploy into no cluster.
  env_lines="$("$node" e2e/harness/cli.ts up --real-node)" || { echo "up: the cluster did not start (its reason is above); nothing was deployed" >&2; exit 1; }
  eval "$env_lines"
fi
export KUBECONFIG KUBECTL="$kubectl"

step "images"
bash images/build.sh >&2

step "deploy"
bash e2e/node/deploy.sh

step "drop-four demo: a pool of 2 started games, and a session claimed from it"
demo_ns=spawner-backends
demo_label=spawner.dev/demo=drop-four
"$kubectl" apply -n "$demo_ns" -f manifests/demo/drop-four-pool.yaml >&2
"$kubectl" wait -n "$demo_ns" --for=jsonpath='{.status.readyReplicas}'=2 --timeout=300s wp/drop-four >/dev/null
name="$("$kubectl" get slbs -n "$demo_ns" -l "$demo_label" \
  -o jsonpath='{range .items[?(@.status.phase!="Failed")]}{.metadata.name}{"\n"}{end}' 2>/dev/null | head -1)"
if [[ -z "$name" ]]; then
  name="$("$kubectl" create -n "$demo_ns" -o jsonpath='{.metadata.name}' -f - <<'YAML'
apiVersion: spawner.dev/v1
kind: SessionLivedBackend
metadata: { generateName: drop-four-, labels: { spawner.dev/demo: drop-four } }
spec: { poolRef: { name: drop-four }, gracePeriodSeconds: 300 }
YAML
)"
  echo "up: claimed $name from the pool drop-four" >&2
else
  echo "up: reusing $name" >&2
fi
"$kubectl" wait -n "$demo_ns" --for=jsonpath='{.status.phase}'=Ready --timeout=300s "slb/$name" >/dev/null
url="$("$kubectl" get slb -n "$demo_ns" "$name" -o jsonpath='{.status.url}')"
claim="$("$kubectl" get slb -n "$demo_ns" "$name" -o jsonpath='{.status.conditions[?(@.type=="PoolClaim")].message}')"
echo "up: $name: $claim" >&2
step "ready"
cat >&2 <<EOF
up: Spawner runs on a local Kubernetes $("$kubectl" version -o json | "$node" -e 'let s="";process.stdin.on("data",d=>s+=d).on("end",()=>console.log(JSON.parse(s).serverVersion.gitVersion))') with a real node.
up: open the demo in two browser windows on this machine (it is swept 300 s after the last player leaves):
EOF
echo "$url"
echo "up: kubectl: eval \"\$(node e2e/harness/cli.ts env)\"; \$SPAWNER_TEST_KUBECTL get slbs" >&2
