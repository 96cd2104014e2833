#!/bin/sh
# Installs what the tests in manifests/nginx/test/ need on a fresh Debian machine: Debian's nginx
# package, and Debian's Chromium for the browser test (skip it with --no-browser).
# Safe to run again: it installs only what is missing.
set -eu

packages=""
if ! command -v nginx >/dev/null 2>&1 && [ ! -x /usr/sbin/nginx ]; then
  packages="nginx"
fi
if [ "${1:-}" != "--no-browser" ] && ! command -v chromium >/dev/null 2>&1; then
  packages="$packages chromium"
fi
[ -n "$packages" ] || exit 0

as_root=""
[ "$(id -u)" -eq 0 ] || as_root="sudo"
# Other installs may run at the same time on a shared machine.
apt_get() {
  if command -v flock >/dev/null 2>&1; then
    $as_root flock /tmp/apt.lock env DEBIAN_FRONTEND=noninteractive apt-get "$@"
  else
    $as_root env DEBIAN_FRONTEND=noninteractive apt-get "$@"
  fi
}

# The nginx package would start a system nginx on port 80; the tests run their own, so keep
# services from starting while installing (the standard policy-rc.d mechanism).
policy=/usr/sbin/policy-rc.d
made_policy=""
if [ ! -e "$policy" ]; then
  printf '#!/bin/sh\nexit 101\n' | $as_root tee "$policy" >/dev/null
  $as_root chmod 755 "$policy"
  made_policy=1
fi
cleanup() { [ -z "$made_policy" ] || $as_root rm -f "$policy"; }
trap cleanup EXIT

# shellcheck disable=SC2086 # a list of package names
if ! apt_get install -y --no-install-recommends $packages; then
  apt_get update
  apt_get install -y --no-install-recommends $packages
fi
echo "installed:$packages"
