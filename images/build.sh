#!/usr/bin/env bash
# Builds Spawner's images from local files, without a Docker engine or a registry, and imports them
# into the real test node's containerd (when it runs) under fully qualified tags:
#   localhost/spawner/{pause,operator,sidecar,sweeper,nginx,drop-four,router}:<version of package.json>
# Node images (images/node-images.ts): layer 1 is the Node 24 runtime (the pinned `node` package's
# binary and the host libraries it links), identical bytes in every image so containerd stores it
# once; layer 2 is the component's code compiled to JavaScript here and its production dependencies
# (images/stage-app.sh), nothing else; no container strips types at start. nginx comes
# from Debian's nginx-light package plus the few tools its entrypoint uses. pause is built from
# images/pause/pause.c. The Dockerfiles beside this script build the same layout for kind.
#
# Archives land in .cache/images/<name>.tar (docker-save layout); an unchanged input set is neither
# rebuilt nor imported again, so a second run takes seconds.
#
# usage: images/build.sh [NAME…]        NAME: pause, nginx or a Node image (default all; a Node image whose
#                                       entry is not in this checkout is skipped, saying so)
# env:   SPAWNER_CONTAINERD_SOCKET      default /run/spawner/containerd/containerd.sock; import skipped if absent
#        SPAWNER_IMAGES_FORCE=1         rebuild and re-import everything
set -euo pipefail

here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
root="$(cd "$here/.." && pwd)"
out="$root/.cache/images"
socket="${SPAWNER_CONTAINERD_SOCKET:-/run/spawner/containerd/containerd.sock}"
node_bin="$root/node_modules/node/bin/node"

die() { echo "images/build.sh: $*" >&2; exit 2; }
[[ -x "$node_bin" ]] || die "no Node binary at $node_bin: run npm install"
version="$("$node_bin" -p 'require(process.argv[1]).version' "$root/package.json")"
# Run the TypeScript helpers with the pinned Node 24 (type stripping), whatever `node` is on PATH.
node24() { "$node_bin" "$@"; }
node_images=($(node24 "$here/node-images.ts" names))
node_image_field() { node24 "$here/node-images.ts" field "$1" "$2"; } # <name> workspace|entry
all=(pause "${node_images[@]}" nginx)
is_node_image() { [[ " ${node_images[*]} " == *" $1 "* ]]; }

names=("$@")
if [[ ${#names[@]} -eq 0 ]]; then
  for n in "${all[@]}"; do
    # An image another branch is adding (its entry not merged here yet) is not an error.
    if is_node_image "$n" && [[ ! -f "$root/$(node_image_field "$n" entry)" ]]; then
      echo "images/build.sh: $n skipped: $(node_image_field "$n" entry) is not in this checkout" >&2
      continue
    fi
    names+=("$n")
  done
fi
for n in "${names[@]}"; do [[ " ${all[*]} " == *" $n "* ]] || die "unknown image '$n' (known: ${all[*]})"; done
mkdir -p "$out"

# Copies executables and every shared library they load (as ldd resolves them) into a root folder.
copy_with_libs() { # <rootfs> <binary>…
  local rootfs="$1"; shift
  local f lib
  for f in "$@"; do
    install -D -m 0755 "$f" "$rootfs$f"
    for lib in $(ldd "$f" 2>/dev/null | awk '/=> \// { print $3 } /^\t\/lib/ { print $1 }'); do
      [[ -e "$rootfs$lib" ]] || install -D -m 0755 "$(readlink -f "$lib")" "$rootfs$lib"
    done
  done
}

base_files() { # <rootfs>: an unprivileged user, name resolution through /etc/hosts then DNS, /tmp
  local rootfs="$1"
  mkdir -p "$rootfs/etc" "$rootfs/tmp"
  chmod 1777 "$rootfs/tmp"
  printf 'root:x:0:0:root:/root:/sbin/nologin\nnonroot:x:65532:65532:nonroot:/home/nonroot:/sbin/nologin\nnginx:x:101:101:nginx:/nonexistent:/sbin/nologin\n' >"$rootfs/etc/passwd"
  printf 'root:x:0:\nnonroot:x:65532:\nnginx:x:101:\n' >"$rootfs/etc/group"
  printf 'hosts: files dns\n' >"$rootfs/etc/nsswitch.conf"
}

# The shared Node runtime layer; built once per run.
node_runtime=""
node_runtime_layer() {
  [[ -n "$node_runtime" ]] && return 0
  node_runtime="$out/rootfs/node-runtime"
  rm -rf "$node_runtime"
  base_files "$node_runtime"
  mkdir -p "$node_runtime/usr/local/bin"
  cp "$node_bin" "$node_runtime/usr/local/bin/node"
  # The release binary keeps its symbol table (~18 MB): only native crash dumps read it, JS stacks do not.
  if command -v strip >/dev/null; then strip "$node_runtime/usr/local/bin/node"; fi
  copy_with_libs "$node_runtime" /lib/x86_64-linux-gnu/libstdc++.so.6 /lib/x86_64-linux-gnu/libgcc_s.so.1 \
    /lib/x86_64-linux-gnu/libm.so.6 /lib/x86_64-linux-gnu/libdl.so.2 /lib/x86_64-linux-gnu/libpthread.so.0 \
    /lib/x86_64-linux-gnu/libc.so.6
  install -D -m 0755 "$(readlink -f /lib64/ld-linux-x86-64.so.2)" "$node_runtime/lib64/ld-linux-x86-64.so.2"
  # ldd of the libraries themselves put them under their own path; the binary asks by soname.
  ldd "$node_bin" | awk '/=> \// { print $3 }' | while read -r lib; do
    [[ -e "$node_runtime$lib" ]] || install -D -m 0755 "$(readlink -f "$lib")" "$node_runtime$lib"
  done
}

# Hash of everything an image is made from, so unchanged inputs skip the build.
inputs_hash() { # <name>
  local name="$1"
  {
    cat "$here/build.sh" "$here/assemble.ts" "$here/deps.ts" "$here/stage-app.sh" "$here/compile.ts" "$here/node-images.ts"
    echo "$version"
    case "$name" in
      pause) cat "$here/pause/pause.c" ;;
      nginx) dpkg-query -W nginx-light nginx-common 2>/dev/null || true; cat "$root"/manifests/nginx/{entrypoint.sh,render.sh,nginx.conf.template,waiting.html,gone.html} ;;
      *)
        local ws; ws="$(node_image_field "$name" workspace)"
        stat -c '%s %Y' "$node_bin"
        cat "$root/package-lock.json"
        local d dirs=()
        for d in "$root/$ws/src" "$root/$ws/public" "$root/common"; do [[ ! -d "$d" ]] || dirs+=("$d"); done
        find "${dirs[@]}" -type f | sort | xargs cat ;;
    esac
  } | sha256sum | cut -c1-16
}

assemble() { # <name> <layer dir>… -- <assemble.ts flags>…
  local name="$1"; shift
  local layers=()
  while [[ "$1" != -- ]]; do layers+=(--layer "$1"); shift; done
  shift
  node24 "$here/assemble.ts" --tag "localhost/spawner/$name:$version" --out "$out/$name.tar" "${layers[@]}" \
    --label "org.opencontainers.image.title=spawner-$name" --label "org.opencontainers.image.version=$version" "$@" >/dev/null
}

build_image() { # <name>
  local name="$1" rootfs="$out/rootfs/$1"
  case "$name" in
    pause)
      rm -rf "$rootfs" && mkdir -p "$rootfs"
      gcc -static -Os -s -o "$rootfs/pause" "$here/pause/pause.c"
      assemble pause "$rootfs" -- --entrypoint '["/pause"]' --user 65535:65535 ;;
    nginx)
      command -v nginx >/dev/null || die "nginx is not installed: apt-get install nginx-light"
      rm -rf "$rootfs"
      base_files "$rootfs"
      # nginx, and what manifests/nginx/entrypoint.sh and render.sh run.
      copy_with_libs "$rootfs" "$(command -v nginx)" /bin/dash /usr/bin/mawk /bin/grep /bin/sed /bin/mkdir /bin/cp /bin/mv \
        /usr/bin/dirname /bin/cat
      ln -s dash "$rootfs/bin/sh"
      mkdir -p "$rootfs/usr/bin" && ln -sf mawk "$rootfs/usr/bin/awk"
      install -D -m 0644 /etc/nginx/mime.types "$rootfs/etc/nginx/mime.types"
      # nginx opens its compiled-in log path before reading the config; give it somewhere to fail quietly.
      mkdir -p "$rootfs/var/log/nginx" "$rootfs/var/lib/nginx"
      # The router's files, as the ConfigMap of manifests/nginx also mounts them (so the image runs alone too).
      install -d -m 0755 "$rootfs/etc/spawner-nginx"
      install -m 0644 "$root"/manifests/nginx/{entrypoint.sh,render.sh,nginx.conf.template,waiting.html,gone.html} "$rootfs/etc/spawner-nginx/"
      assemble nginx "$rootfs" -- --entrypoint '["/bin/sh","/etc/spawner-nginx/entrypoint.sh"]' --user 101:101 ;;
    *)
      node_runtime_layer
      bash "$here/stage-app.sh" "$(node_image_field "$name" workspace)" "$(node_image_field "$name" entry)" "$rootfs"
      assemble "$name" "$node_runtime" "$rootfs" -- --entrypoint "$(node24 "$here/node-images.ts" entrypoint "$name")" \
        --user 65532:65532 --workdir /app --env NODE_ENV=production ;;
  esac
}

ctr_k8s() { ctr --address "$socket" -n k8s.io "$@"; }

human() { numfmt --to=iec-i --suffix=B "$1"; }

status=()
for name in "${names[@]}"; do
  start=$SECONDS
  hash="$(inputs_hash "$name")"
  stamp="$out/$name.inputs"
  if [[ -z "${SPAWNER_IMAGES_FORCE:-}" && -f "$out/$name.tar" && "$(cat "$stamp" 2>/dev/null)" == "$hash" ]]; then
    what="unchanged"
  else
    build_image "$name"
    echo "$hash" >"$stamp"
    rm -f "$out/$name.imported"
    what="built in $((SECONDS - start))s"
  fi
  ref="localhost/spawner/$name:$version"
  if [[ -S "$socket" ]]; then
    if [[ -z "${SPAWNER_IMAGES_FORCE:-}" && "$(cat "$out/$name.imported" 2>/dev/null)" == "$hash" ]] &&
      ctr_k8s images ls -q | grep -qxF "$ref"; then
      what+=", already imported"
    else
      ctr_k8s images import "$out/$name.tar" >/dev/null
      echo "$hash" >"$out/$name.imported"
      what+=", imported"
    fi
  else
    what+=", not imported (no containerd at $socket)"
  fi
  # Size: the archive (uncompressed layers); the app layer alone for Node images.
  size="$(stat -c %s "$out/$name.tar")"
  extra=""
  if [[ -d "$out/rootfs/$name" ]] && is_node_image "$name"; then
    extra=" (app layer $(human "$(du -sb "$out/rootfs/$name" | cut -f1)"), Node runtime layer shared)"
  fi
  status+=("$(printf '%-40s %9s%s  %s' "$ref" "$(human "$size")" "$extra" "$what")")
  echo "images/build.sh: $ref $what" >&2
done
printf '%s\n' "${status[@]}"
