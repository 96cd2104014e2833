#!/bin/sh
# The nginx container's command: render the config from the environment into a writable directory,
# check it, then exec nginx in the foreground so it receives the pod's signals directly.
set -eu
dir=${SPAWNER_NGINX_DIR:-/tmp/spawner-nginx}
sh "$(dirname "$0")/render.sh" "$dir"
nginx -t -q -p "$dir/" -c nginx.conf
exec nginx -p "$dir/" -c nginx.conf
