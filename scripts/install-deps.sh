#!/usr/bin/env bash
# Installs the machine packages Spawner's tests and local cluster need, from Debian's archive, and
# only those that are missing, so a second run costs a few dpkg queries. Every other dependency comes
# from the project's own files: npm packages (package-lock.json) and Go modules (e2e/cluster/*/go.mod).
#
#   nginx               the router, tested on loopback and baked into the nginx image
#   wrk                 bench/sidecar's HTTP load (beside autocannon, which flatters a slow proxy)
#   chromium            the browser tests (driven by playwright-core; never a downloaded browser)
#   openssl             the throw-away PKI of the test cluster
#   gcc, libc6-dev      the static pause program of the node images
#   containerd, runc,   the real node of the end-to-end tier
#   containernetworking-plugins, iptables, conntrack, iproute2, ethtool, socat, util-linux (nsenter, mount)
set -euo pipefail

packages=(nginx wrk chromium openssl gcc libc6-dev containerd runc containernetworking-plugins iptables conntrack iproute2 ethtool socat util-linux kmod procps)

missing=()
for p in "${packages[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q 'install ok installed' || missing+=("$p")
done
if [[ ${#missing[@]} -eq 0 ]]; then
  echo "install-deps: all ${#packages[@]} machine packages present"
  exit 0
fi

as_root=()
[[ "$(id -u)" -eq 0 ]] || as_root=(sudo)
# Several installs may run at once on a shared machine; dpkg has its own lock, apt-get update has none.
apt_get() { "${as_root[@]}" flock /tmp/spawner-apt.lock env DEBIAN_FRONTEND=noninteractive apt-get -q "$@"; }

# Package scripts must not start system services (nginx on :80, containerd with its default config):
# the harness runs its own instances with its own configuration.
policy=/usr/sbin/policy-rc.d
made_policy=""
if [[ ! -e "$policy" ]]; then
  printf '#!/bin/sh\nexit 101\n' | "${as_root[@]}" tee "$policy" >/dev/null
  "${as_root[@]}" chmod 755 "$policy"
  made_policy=1
fi
cleanup() { [[ -z "$made_policy" ]] || "${as_root[@]}" rm -f "$policy"; }
trap cleanup EXIT

echo "install-deps: installing ${missing[*]}"
# The package lists of a fresh machine may be missing or old: update once, then install.
apt_get update
apt_get install -y --no-install-recommends "${missing[@]}"
echo "install-deps: installed ${missing[*]}"
