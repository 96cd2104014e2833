#!/bin/sh
# Installs what the nginx routing tests (manifests/nginx/test/) need on a fresh Debian machine:
# Debian's nginx package. Safe to run again: it does nothing when nginx is already there.
set -eu

if command -v nginx >/dev/null 2>&1 || [ -x /usr/sbin/nginx ]; then
  exit 0
fi

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

# The package would start a system nginx on port 80; the tests run their own, so keep the
# service from starting while installing (the standard policy-rc.d mechanism).
policy=/usr/sbin/policy-rc.d
made_policy=""
if [ ! -e "$policy" ]; then
  printf '#!/bin/sh\nexit 101\n' | $as_root tee "$policy" >/dev/null
  $as_root chmod 755 "$policy"
  made_policy=1
fi
cleanup() { [ -z "$made_policy" ] || $as_root rm -f "$policy"; }
trap cleanup EXIT

if ! apt_get install -y --no-install-recommends nginx; then
  apt_get update
  apt_get install -y --no-install-recommends nginx
fi
echo "nginx installed: $(/usr/sbin/nginx -v 2>&1)"
