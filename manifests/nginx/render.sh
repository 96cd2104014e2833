#!/bin/sh
# Renders nginx.conf.template into a prefix directory that `nginx -p DIR -c nginx.conf` runs from:
#   DIR/nginx.conf, DIR/html/waiting.html, DIR/html/gone.html, DIR/temp/
# Only the five SPAWNER_* placeholders below are replaced, and each value is checked first, so a
# bad setting stops the container with a message naming the variable instead of a broken config.
#
#   SPAWNER_BACKEND_NAMESPACE  required   namespace of the backends' Services (a DNS label)
#   SPAWNER_RESOLVER           optional   DNS server(s) for nginx's `resolver`, e.g. "10.96.0.10" or
#                                         "127.0.0.1:5353"; default: the nameservers of /etc/resolv.conf
#   SPAWNER_CLUSTER_DOMAIN     optional   default cluster.local
#   SPAWNER_LISTEN_PORT        optional   default 8080
#   SPAWNER_UPSTREAM_PORT      optional   default 80, the Services' port (common/contract.ts SERVICE_PORT)
#
# usage: render.sh OUTPUT_DIR [TEMPLATE_DIR]   (TEMPLATE_DIR defaults to this script's directory)
set -eu

fail() {
  echo "spawner-nginx: invalid configuration: $*" >&2
  exit 2
}

out=${1:-}
[ -n "$out" ] || fail "usage: render.sh OUTPUT_DIR [TEMPLATE_DIR]"
src=${2:-$(dirname "$0")}

is_port() {
  case $1 in '' | *[!0-9]*) return 1 ;; esac
  [ "$1" -ge 1 ] && [ "$1" -le 65535 ]
}

namespace=${SPAWNER_BACKEND_NAMESPACE:-}
[ -n "$namespace" ] || fail "SPAWNER_BACKEND_NAMESPACE is required: the namespace of the backends' Services"
printf '%s' "$namespace" | grep -Eqx '[a-z0-9]([-a-z0-9]{0,61}[a-z0-9])?' ||
  fail "SPAWNER_BACKEND_NAMESPACE='$namespace' must be a DNS label (lower-case letters, digits, '-')"

domain=${SPAWNER_CLUSTER_DOMAIN:-cluster.local}
printf '%s' "$domain" | grep -Eqx '[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*' ||
  fail "SPAWNER_CLUSTER_DOMAIN='$domain' must be a DNS name such as cluster.local"

listen=${SPAWNER_LISTEN_PORT:-8080}
is_port "$listen" || fail "SPAWNER_LISTEN_PORT='$listen' must be a whole number from 1 to 65535"

upstream=${SPAWNER_UPSTREAM_PORT:-80}
is_port "$upstream" || fail "SPAWNER_UPSTREAM_PORT='$upstream' must be a whole number from 1 to 65535"

resolver=${SPAWNER_RESOLVER:-}
if [ -z "$resolver" ]; then
  # nginx wants IPv6 servers in brackets.
  resolver=$(awk '$1 == "nameserver" { s = $2; if (s ~ /:/) s = "[" s "]"; printf "%s%s", sep, s; sep = " " }' /etc/resolv.conf 2>/dev/null || true)
  [ -n "$resolver" ] || fail "SPAWNER_RESOLVER is not set and /etc/resolv.conf names no nameserver"
fi
printf '%s' "$resolver" | grep -Eqx '[][0-9A-Fa-f.:]+( [][0-9A-Fa-f.:]+)*' ||
  fail "SPAWNER_RESOLVER='$resolver' must be DNS server addresses (IPv4, [IPv6], optional :port), space-separated"

mkdir -p "$out/html" "$out/temp"
sed -e "s|\${SPAWNER_BACKEND_NAMESPACE}|$namespace|g" \
  -e "s|\${SPAWNER_CLUSTER_DOMAIN}|$domain|g" \
  -e "s|\${SPAWNER_LISTEN_PORT}|$listen|g" \
  -e "s|\${SPAWNER_UPSTREAM_PORT}|$upstream|g" \
  -e "s|\${SPAWNER_RESOLVER}|$resolver|g" \
  "$src/nginx.conf.template" >"$out/nginx.conf.tmp"
if grep -n '\${' "$out/nginx.conf.tmp" >&2; then
  fail "the template has a placeholder render.sh does not know (lines above)"
fi
mv "$out/nginx.conf.tmp" "$out/nginx.conf"
cp "$src/waiting.html" "$src/gone.html" "$out/html/"
