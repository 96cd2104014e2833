#!/usr/bin/env bash
# Stages a Node component's app layer into DEST/app, the same way for images/build.sh (here) and for
# the Dockerfile (images/Dockerfile.node), so both images have one layout:
#   /app/package.json            the root one, for "type": "module"
#   /app/<workspace>/package.json, /app/<workspace>/public/ (if any)
#   the source files the entry reaches by its run-time imports (images/deps.ts), as JavaScript made
#   here (images/compile.ts: types stripped, positions kept, `.ts` imports → `.js`); no `.ts` file
#   /app/node_modules/…          production dependencies of what those files import; no @types, maps, docs
#   /app/main.js                 a link to the compiled entry: every image runs `node … /app/main.js`
# usage: images/stage-app.sh <workspace> <entry, e.g. sidecar/src/main.ts> <DEST>   (run from anywhere)
#   NODE: the Node 24 to run images/deps.ts and compile.ts with (default node_modules/node/bin/node, else node)
set -euo pipefail
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
ws="$1" entry="$2" dest="$3"
node="${NODE:-$root/node_modules/node/bin/node}"
[[ -x "$node" ]] || node=node
[[ "$entry" == *.ts ]] || { echo "stage-app.sh: the entry must be a .ts file, got $entry" >&2; exit 2; }
rm -rf "$dest"
mkdir -p "$dest/app/$ws"
cp "$root/package.json" "$dest/app/package.json"
cp "$root/$ws/package.json" "$dest/app/$ws/"
[[ ! -d "$root/$ws/public" ]] || cp -r "$root/$ws/public" "$dest/app/$ws/"
sources=()
while read -r kind rel; do
  if [[ "$kind" == file && "$rel" == *.ts ]]; then sources+=("$rel"); continue; fi
  # Type declarations are never loaded at run time.
  [[ "$rel" != node_modules/@types/* ]] || continue
  mkdir -p "$dest/app/$(dirname "$rel")"
  cp -r "$root/$rel" "$dest/app/$rel"
done < <("$node" "$root/images/deps.ts" "$entry")
# stripTypeScriptTypes is marked experimental in Node 24; its warning says nothing about our files.
"$node" --disable-warning=ExperimentalWarning "$root/images/compile.ts" "$root" "$dest/app" "${sources[@]}"
find "$dest/app/node_modules" \( -name '*.map' -o -name '*.d.ts' -o -name '*.d.mts' -o -name '*.d.cts' -o -name '*.md' \) -type f -delete 2>/dev/null || true
ln -s "${entry%.ts}.js" "$dest/app/main.js"
chmod -R a+rX,go-w "$dest/app"
