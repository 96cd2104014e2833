#!/usr/bin/env bash
# `make up`: from a fresh machine to a playable drop-four URL, and fast when run again.
#   1. machine packages, npm packages, upstream binaries (scripts/bootstrap.sh; skips what is there),
#      plus CoreDNS for the real node
#   2. the cluster: control plane + real node (reused when the recorded one is up and its node Ready)
#   3. images built from local files and imported (images/build.sh; unchanged ones are skipped)
#   4. Spawner deployed and Ready (e2e/node/deploy.sh)
#   5. a drop-four backend (manifests/demo/drop-four.yaml), reused while it lives; prints its URL
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
  eval "$("$node" e2e/harness/cli.ts up --real-node)"
fi
export KUBECONFIG KUBECTL="$kubectl"

step "images"
bash images/build.sh >&2

step "deploy"
bash e2e/node/deploy.sh

step "drop-four demo"
demo_label=spawner.dev/demo=drop-four
name="$("$kubectl" get slbs -n spawner-backends -l "$demo_label" \
  -o jsonpath='{range .items[?(@.status.phase!="Failed")]}{.metadata.name}{"\n"}{end}' 2>/dev/null | head -1)"
if [[ -z "$name" ]]; then
  name="$("$kubectl" create -n spawner-backends -o jsonpath='{.metadata.name}' -f <(sed "s|^metadata:|metadata:\n  labels: { spawner.dev/demo: drop-four }|" manifests/demo/drop-four.yaml))"
  echo "up: created $name" >&2
else
  echo "up: reusing $name" >&2
fi
"$kubectl" wait -n spawner-backends --for=jsonpath='{.status.phase}'=Ready --timeout=300s "slb/$name" >/dev/null
url="$("$kubectl" get slb -n spawner-backends "$name" -o jsonpath='{.status.url}')"
step "ready"
cat >&2 <<EOF
up: Spawner runs on a local Kubernetes $("$kubectl" version -o json | "$node" -e 'let s="";process.stdin.on("data",d=>s+=d).on("end",()=>console.log(JSON.parse(s).serverVersion.gitVersion))') with a real node.
up: open the demo in two browser windows on this machine (it is swept 300 s after the last player leaves):
EOF
echo "$url"
echo "up: kubectl: eval \"\$(node e2e/harness/cli.ts env)\"; \$SPAWNER_TEST_KUBECTL get slbs" >&2
