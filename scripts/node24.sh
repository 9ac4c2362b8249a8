#!/usr/bin/env bash
# Run a command in a copy of this checkout on Node 24 LTS, with a node_modules of its own whose native
# modules (better-sqlite3, @pokusew/pcsclite) are built for Node 24, so that the node_modules of the
# checkout (built for the system's Node) is never touched.
#
#   bash scripts/node24.sh npm test
#   bash scripts/node24.sh npm run demo
#
# Node 24 comes from the npm package node@24, which ships the binary and its headers. The copy lives in
# $TAPWALLET_NODE24_DIR (default: $TMPDIR/tapwallet-node24); its node_modules is kept and reinstalled
# only when package-lock.json or the Node version changes. The sources are copied anew on every call.
set -euo pipefail
root="$(cd "$(dirname "$0")/.." && pwd)"
work="${TAPWALLET_NODE24_DIR:-${TMPDIR:-/tmp}/tapwallet-node24}"
toolchain="$work/toolchain"
src="$work/src"
[ $# -gt 0 ] || { echo "usage: $0 COMMAND [ARG…]   (run in a Node 24 copy of this checkout)" >&2; exit 2; }

mkdir -p "$toolchain" "$src"
if [ ! -x "$toolchain/node_modules/.bin/node" ]; then
  echo "node24: installing node@24 from npm into $toolchain" >&2
  (cd "$toolchain" && echo '{"private":true}' >package.json &&
    npm install --no-audit --no-fund --no-save --loglevel=error node@24 >/dev/null)
fi
bin="$toolchain/node_modules/.bin"
version="$("$bin/node" --version)"
# The headers node-gyp must build against (the machines' npm config points nodedir at the system Node's).
headers="$(dirname "$(ls -d "$toolchain"/node_modules/node/node_modules/node-*/include | head -n 1)")"

# The sources: what git tracks plus untracked files it does not ignore (a clean clone: everything).
find "$src" -mindepth 1 -maxdepth 1 ! -name node_modules -exec rm -rf {} +
if git -C "$root" rev-parse --is-inside-work-tree >/dev/null 2>&1; then
  (cd "$root" && git ls-files -z -co --exclude-standard | tar --null -T - -cf -) | tar -xf - -C "$src"
else
  (cd "$root" && tar --exclude=./node_modules --exclude=./dist -cf - .) | tar -xf - -C "$src"
fi

stamp="$version $(sha256sum "$root/package-lock.json" | cut -d' ' -f1)"
if [ ! -f "$src/node_modules/.tapwallet-stamp" ] || [ "$(cat "$src/node_modules/.tapwallet-stamp")" != "$stamp" ]; then
  echo "node24: npm ci on $version (native modules built against $headers)" >&2
  (cd "$src" && PATH="$bin:$PATH" npm_config_nodedir="$headers" npm ci --no-audit --no-fund --loglevel=error)
  echo "$stamp" >"$src/node_modules/.tapwallet-stamp"
fi

cd "$src"
export PATH="$bin:$PATH"
echo "node24: running '$*' on $(node --version) in $src" >&2
exec "$@"
