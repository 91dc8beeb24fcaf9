#!/usr/bin/env bash
# Installs a Debian package when its command is missing (tests call it: promtool from `prometheus`, the console's
# browser tests `chromium`), like infra/services.sh does for Redis and PostgreSQL. Prints the command's path.
# Usage: infra/observability/ensure-tool.sh <command> <debian-package>
set -euo pipefail
cmd="$1"; pkg="$2"
if ! command -v "$cmd" >/dev/null; then
  echo "[ensure-tool] installing $pkg from Debian for $cmd" >&2
  if [ ! -f /tmp/.ingest-apt-updated ]; then apt-get update -qq >&2 && touch /tmp/.ingest-apt-updated; fi
  # Only the package itself (no node exporter or other recommends); wait for another engineer's apt run instead of failing.
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends -o DPkg::Lock::Timeout=600 "$pkg" >&2
fi
command -v "$cmd"
