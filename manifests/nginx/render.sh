#!/bin/sh
# Renders nginx.conf.template into a prefix directory that `nginx -p DIR -c nginx.conf` runs from:
#   DIR/nginx.conf, DIR/html/waiting.html, DIR/html/gone.html, DIR/temp/
# Only the SPAWNER_* placeholders below are replaced, and each value is checked first, so a bad
# setting stops the container with a message naming the variable instead of a broken config.
#
#   SPAWNER_BACKEND_NAMESPACE            required  the routed namespace (a DNS label; for the access log)
#   SPAWNER_LISTEN_PORT                  8080      the public port
#   SPAWNER_ROUTE_PORT                   8090      the route service's loopback port (router/)
#   SPAWNER_WORKER_PROCESSES             auto      nginx workers: auto (one per core) or a number
#   SPAWNER_WORKER_CONNECTIONS           8192      connections per worker (a proxied one takes two)
#   SPAWNER_WORKER_RLIMIT_NOFILE         2 × connections + 64: file descriptors per worker
#   SPAWNER_CLIENT_CONNECTIONS           256       requests in progress per client address (WebSockets count)
#   SPAWNER_CLIENT_REQUESTS_PER_SECOND   20        new requests per second per client address, on average
#   SPAWNER_CLIENT_REQUEST_BURST         100       how many above that rate are let through at once
#   SPAWNER_ERROR_LOG_LEVEL              crit      below crit, error lines quote request lines (tokens)
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

is_count() { # <value> <min> <max>
  case $1 in '' | *[!0-9]*) return 1 ;; esac
  [ ${#1} -le 9 ] && [ "$1" -ge "$2" ] && [ "$1" -le "$3" ]
}
count() { # <variable> <default> <min> <max> <what>
  eval "v=\${$1:-$2}"
  is_count "$v" "$3" "$4" || fail "$1='$v' must be a whole number from $3 to $4 ($5)"
  printf '%s' "$v"
}

namespace=${SPAWNER_BACKEND_NAMESPACE:-}
[ -n "$namespace" ] || fail "SPAWNER_BACKEND_NAMESPACE is required: the namespace of the backends"
printf '%s' "$namespace" | grep -Eqx '[a-z0-9]([-a-z0-9]{0,61}[a-z0-9])?' ||
  fail "SPAWNER_BACKEND_NAMESPACE='$namespace' must be a DNS label (lower-case letters, digits, '-')"

listen=$(count SPAWNER_LISTEN_PORT 8080 1 65535 "a port")
route=$(count SPAWNER_ROUTE_PORT 8090 1 65535 "the route service's port")
[ "$listen" != "$route" ] || fail "SPAWNER_ROUTE_PORT='$route' must differ from SPAWNER_LISTEN_PORT"

workers=${SPAWNER_WORKER_PROCESSES:-auto}
[ "$workers" = auto ] || is_count "$workers" 1 256 ||
  fail "SPAWNER_WORKER_PROCESSES='$workers' must be auto (one per core) or a whole number from 1 to 256"
connections=$(count SPAWNER_WORKER_CONNECTIONS 8192 64 1048576 "connections per worker")
nofile=$(count SPAWNER_WORKER_RLIMIT_NOFILE $((connections * 2 + 64)) 128 4194304 "file descriptors per worker")
[ "$nofile" -ge "$connections" ] ||
  fail "SPAWNER_WORKER_RLIMIT_NOFILE='$nofile' must be at least SPAWNER_WORKER_CONNECTIONS ($connections)"
per_client=$(count SPAWNER_CLIENT_CONNECTIONS 256 1 65534 "requests in progress per client address")
rate=$(count SPAWNER_CLIENT_REQUESTS_PER_SECOND 20 1 1000000 "new requests per second per client address")
burst=$(count SPAWNER_CLIENT_REQUEST_BURST 100 0 1000000 "requests above the rate let through at once")

level=${SPAWNER_ERROR_LOG_LEVEL:-crit}
case $level in
  debug | info | notice | warn | error | crit | alert | emerg) ;;
  *) fail "SPAWNER_ERROR_LOG_LEVEL='$level' must be one of debug, info, notice, warn, error, crit, alert, emerg" ;;
esac

mkdir -p "$out/html" "$out/temp"
sed -e "s|\${SPAWNER_BACKEND_NAMESPACE}|$namespace|g" \
  -e "s|\${SPAWNER_LISTEN_PORT}|$listen|g" \
  -e "s|\${SPAWNER_ROUTE_PORT}|$route|g" \
  -e "s|\${SPAWNER_WORKER_PROCESSES}|$workers|g" \
  -e "s|\${SPAWNER_WORKER_CONNECTIONS}|$connections|g" \
  -e "s|\${SPAWNER_WORKER_RLIMIT_NOFILE}|$nofile|g" \
  -e "s|\${SPAWNER_CLIENT_CONNECTIONS}|$per_client|g" \
  -e "s|\${SPAWNER_CLIENT_REQUESTS_PER_SECOND}|$rate|g" \
  -e "s|\${SPAWNER_CLIENT_REQUEST_BURST}|$burst|g" \
  -e "s|\${SPAWNER_ERROR_LOG_LEVEL}|$level|g" \
  "$src/nginx.conf.template" >"$out/nginx.conf.tmp"
if grep -n '\${' "$out/nginx.conf.tmp" >&2; then
  fail "the template has a placeholder render.sh does not know (lines above)"
fi
mv "$out/nginx.conf.tmp" "$out/nginx.conf"
cp "$src/waiting.html" "$src/gone.html" "$out/html/"
