#!/usr/bin/env bash
# Starts Redis, PostgreSQL and an S3-compatible server (s3rver, from the npm registry) on loopback,
# installing Debian's packages when missing. Idempotent: a service already answering on its port is reused.
# Each checkout (each SERVICES_DIR) has its own services: one that answers on a port but belongs to another checkout
# is never reused, the script stops with a message instead.
# Usage: infra/services.sh [--env]   (--env prints `export` lines for eval; logs go to stderr)
#        infra/services.sh --stop
set -euo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
DIR="${SERVICES_DIR:-$ROOT/.data/services}"
mkdir -p "$DIR"
DIR="$(cd "$DIR" && pwd -P)"
# PostgreSQL runs as the `postgres` user, who cannot traverse a private checkout (a clone in /root, a mktemp -d):
# its data lives under postgres's own home instead, in a directory named after this checkout's services directory.
PG_HOME="${SERVICES_PG_HOME:-/var/lib/postgresql/ingest-services}"
PG_ROOT="$PG_HOME/$(printf '%s' "$DIR" | sha256sum | cut -c1-16)"
PG_DATA="$PG_ROOT/data"
REDIS_PORT="${SERVICES_REDIS_PORT:-16379}"
PG_PORT="${SERVICES_PG_PORT:-15432}"
S3_PORT="${SERVICES_S3_PORT:-19000}"
PG_DB="${SERVICES_PG_DB:-ingest}"
S3_BUCKET_NAME="${SERVICES_S3_BUCKET:-ingest}"
PG_BIN="$(ls -d /usr/lib/postgresql/*/bin 2>/dev/null | sort -V | tail -1 || true)"
log() { echo "[services] $*" >&2; }

apt_install() {
  log "installing $* from Debian"
  if [ ! -f /tmp/.ingest-apt-updated ]; then apt-get update -qq >&2 && touch /tmp/.ingest-apt-updated; fi
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "$@" >&2
}

ensure_installed() {
  command -v redis-server >/dev/null && command -v redis-cli >/dev/null || apt_install redis-server
  if [ -z "$PG_BIN" ] || [ ! -x "$PG_BIN/pg_ctl" ]; then
    apt_install postgresql
    PG_BIN="$(ls -d /usr/lib/postgresql/*/bin | sort -V | tail -1)"
  fi
  if ! command -v node >/dev/null || ! node -e 'process.exit(+process.versions.node.split(".")[0] >= 22 ? 0 : 1)'; then
    source "$ROOT/scripts/node.sh"
  fi
  [ -f "$ROOT/node_modules/s3rver/package.json" ] || { log "s3rver missing: run npm ci first"; exit 1; }
}

# Stops the script when a service of another checkout answers on our port: sharing it would mix two checkouts' data.
refuse_foreign() {
  log "$1 on port $2 belongs to another checkout ($3); stop it there (infra/services.sh --stop) or set $4 to a free port"
  exit 1
}

start_redis() {
  if redis-cli -h 127.0.0.1 -p "$REDIS_PORT" ping >/dev/null 2>&1; then
    local dir; dir="$(redis-cli -h 127.0.0.1 -p "$REDIS_PORT" config get dir 2>/dev/null | sed -n 2p)"
    [ "$dir" = "$DIR/redis" ] || refuse_foreign redis "$REDIS_PORT" "dir $dir" SERVICES_REDIS_PORT
    log "redis already up on $REDIS_PORT"; return
  fi
  mkdir -p "$DIR/redis"
  # AOF on: a restarted Redis keeps its queues, as production would run it.
  redis-server --bind 127.0.0.1 --port "$REDIS_PORT" --dir "$DIR/redis" --appendonly yes --appendfsync everysec \
    --daemonize yes --pidfile "$DIR/redis/redis.pid" --logfile "$DIR/redis/redis.log" --save "" --maxmemory-policy noeviction
  for _ in $(seq 50); do redis-cli -h 127.0.0.1 -p "$REDIS_PORT" ping >/dev/null 2>&1 && break; sleep 0.1; done
  redis-cli -h 127.0.0.1 -p "$REDIS_PORT" ping >/dev/null || { log "redis did not start; see $DIR/redis/redis.log"; exit 1; }
  log "redis started on 127.0.0.1:$REDIS_PORT"
}

start_postgres() {
  if "$PG_BIN/pg_isready" -q -h 127.0.0.1 -p "$PG_PORT"; then
    local data; data="$("$PG_BIN/psql" -h 127.0.0.1 -p "$PG_PORT" -U postgres -d postgres -tAc 'show data_directory' 2>/dev/null || true)"
    [ "$data" = "$PG_DATA" ] || refuse_foreign postgres "$PG_PORT" "data directory ${data:-unknown}" SERVICES_PG_PORT
    log "postgres already up on $PG_PORT"
  else
    if [ ! -f "$PG_DATA/PG_VERSION" ]; then
      install -d -o postgres -g postgres -m 755 "$PG_HOME"
      install -d -o postgres -g postgres -m 700 "$PG_ROOT" "$PG_DATA"
      su postgres -s /bin/sh -c "cd / && '$PG_BIN/initdb' -D '$PG_DATA' -U postgres --auth=trust -E UTF8 >/dev/null"
    fi
    # Where this checkout's PostgreSQL lives, for people looking in .data/.
    echo "$PG_DATA" >"$DIR/pg-data-dir"
    su postgres -s /bin/sh -c "cd / && '$PG_BIN/pg_ctl' -D '$PG_DATA' -l '$PG_ROOT/pg.log' -w -t 60 \
      -o \"-p $PG_PORT -c listen_addresses=127.0.0.1 -k /tmp -c max_connections=400 -c fsync=off -c synchronous_commit=off\" start >/dev/null" \
      || { log "postgres did not start; see $PG_ROOT/pg.log"; exit 1; }
    log "postgres started on 127.0.0.1:$PG_PORT (data in $PG_DATA)"
  fi
  if ! "$PG_BIN/psql" -h 127.0.0.1 -p "$PG_PORT" -U postgres -tAc "select 1 from pg_database where datname='$PG_DB'" | grep -q 1; then
    "$PG_BIN/psql" -h 127.0.0.1 -p "$PG_PORT" -U postgres -qc "create database \"$PG_DB\"" >&2
  fi
}

start_s3() {
  if curl -s -o /dev/null "http://127.0.0.1:$S3_PORT/"; then
    local pid; pid="$(ss -ltnpH "sport = :$S3_PORT" 2>/dev/null | grep -o 'pid=[0-9]*' | head -1 | cut -d= -f2)"
    if [ -z "$pid" ] || ! tr '\0' ' ' <"/proc/$pid/cmdline" 2>/dev/null | grep -qF -- "--directory $DIR/s3"; then
      refuse_foreign "s3 server" "$S3_PORT" "pid ${pid:-unknown}" SERVICES_S3_PORT
    fi
    log "s3 already up on $S3_PORT"
  else
    mkdir -p "$DIR/s3"
    # No subshell around it: a wrapper shell would keep the caller's stdout (a $(...) pipe) open while node runs.
    setsid nohup node --openssl-legacy-provider "$ROOT/infra/s3-server.mjs" --address 127.0.0.1 --port "$S3_PORT" \
      --directory "$DIR/s3" >"$DIR/s3.log" 2>&1 </dev/null &
    echo $! >"$DIR/s3.pid"
    for _ in $(seq 100); do curl -s -o /dev/null "http://127.0.0.1:$S3_PORT/" && break; sleep 0.1; done
    curl -s -o /dev/null "http://127.0.0.1:$S3_PORT/" || { log "s3 server did not start; see $DIR/s3.log"; exit 1; }
    log "s3 server started on 127.0.0.1:$S3_PORT"
  fi
  # Creating the bucket is idempotent: BucketAlreadyOwnedByYou/Exists answers are fine.
  curl -s -o /dev/null -X PUT "http://127.0.0.1:$S3_PORT/$S3_BUCKET_NAME" || true
}

stop_all() {
  # Only a Redis whose data directory is ours: the port may belong to another set of services.
  if [ "$(redis-cli -h 127.0.0.1 -p "$REDIS_PORT" config get dir 2>/dev/null | sed -n 2p)" = "$DIR/redis" ]; then
    redis-cli -h 127.0.0.1 -p "$REDIS_PORT" shutdown nosave >/dev/null 2>&1 || true
  fi
  [ -f "$PG_DATA/PG_VERSION" ] && su postgres -s /bin/sh -c "cd / && '$PG_BIN/pg_ctl' -D '$PG_DATA' -m fast stop >/dev/null" 2>/dev/null || true
  [ -f "$DIR/s3.pid" ] && kill "$(cat "$DIR/s3.pid")" 2>/dev/null || true
  log "stopped"
}

case "${1:-}" in
  --stop) stop_all; exit 0 ;;
esac
ensure_installed
start_redis
start_postgres
start_s3
cat <<ENV
export REDIS_URL=redis://127.0.0.1:$REDIS_PORT
export DATABASE_URL=postgres://postgres@127.0.0.1:$PG_PORT/$PG_DB
export S3_ENDPOINT=http://127.0.0.1:$S3_PORT
export S3_REGION=us-east-1
export S3_BUCKET=$S3_BUCKET_NAME
export S3_ACCESS_KEY_ID=S3RVER
export S3_SECRET_ACCESS_KEY=S3RVER
export S3_FORCE_PATH_STYLE=true
ENV
