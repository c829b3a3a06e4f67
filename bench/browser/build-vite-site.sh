#!/usr/bin/env bash
# Builds the Vite React site (bench/browser/vite-react: create-vite's React template with
# pinned versions, its images made by make_sites.py) into DEST/dist and prints that path.
# Cached: rebuilt only when the template or make_sites.py changes. Used by
# bench/browser-pageload.sh and by the browser tests (scripts/e2e).
#
#   bench/browser/build-vite-site.sh DEST
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
dest=${1:?usage: build-vite-site.sh DEST}
mkdir -p "$dest"
dest=$(cd "$dest" && pwd)
want=$( (cd "$here" && find make_sites.py vite-react -type f ! -path '*/node_modules/*' ! -path '*/dist/*' |
  LC_ALL=C sort | xargs cat) | sha256sum | cut -c1-16)
if [[ $(cat "$dest/.stamp" 2>/dev/null) != "$want" || ! -f $dest/dist/index.html ]]; then
  echo "building the Vite React site into $dest/dist" >&2
  src=$dest/src
  rm -rf "$src" "$dest/dist" "$dest/.stamp"
  mkdir -p "$src"
  (cd "$here/vite-react" && tar --exclude=node_modules --exclude=dist -cf - .) | (cd "$src" && tar -xf -)
  python3 "$here/make_sites.py" vite-assets "$src/src"
  (cd "$src" && npm ci --no-audit --no-fund --loglevel=error >&2 && npx --no-install vite build --logLevel warn >&2)
  cp -r "$src/dist" "$dest/dist"
  echo "$want" >"$dest/.stamp"
fi
echo "$dest/dist"
