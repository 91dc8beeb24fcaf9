#!/usr/bin/env bash
# Source me: a supported Node on PATH, dependencies installed, local services up and their settings exported.
_root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
source "$_root/scripts/node.sh" || return 1
cd "$_root" || return 1
_stamp="node_modules/.installed-$(node -v)-$(sha256sum package-lock.json 2>/dev/null | cut -c1-16)"
if [ ! -f "$_stamp" ]; then
  echo "[setup] installing dependencies (npm ci)" >&2
  if [ -f package-lock.json ]; then npm ci --no-audit --no-fund >&2 || return 1; else npm install --no-audit --no-fund >&2 || return 1; fi
  touch "node_modules/.installed-$(node -v)-$(sha256sum package-lock.json | cut -c1-16)"
fi
eval "$(bash "$_root/infra/services.sh" --env)" || return 1
# The release step before any app starts (apps only check the schema version). Idempotent, but ~2-4 s through tsx:
# skipped while the migrations, DATABASE_URL and the PostgreSQL data directory are those it last ran for.
_migrated=".data/migrated-$({ cat packages/*/drizzle/meta/_journal.json .data/services/pg-data-dir 2>/dev/null; echo "$DATABASE_URL"; } | sha256sum | cut -c1-16)"
if [ ! -f "$_migrated" ]; then
  node --import tsx apps/storage-admin/src/migrate-main.ts >/dev/null || { echo "[setup] npm run migrate failed" >&2; return 1; }
  touch "$_migrated"
fi
