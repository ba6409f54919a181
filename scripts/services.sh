#!/usr/bin/env bash
# Cairn's local services: a project-owned PostgreSQL 15 cluster (pg_stat_statements
# preloaded, hypopg installed) and a Redis server, both on loopback, for development
# and tests. Idempotent: `up` finds running services up and leaves them be.
#
#   scripts/services.sh up       install what is missing (as root), init, start, print env
#   scripts/services.sh down     stop both
#   scripts/services.sh status   say what runs; exit 0 only when both are up
#   scripts/services.sh env      print CAIRN_DATABASE_URL / CAIRN_REDIS_URL for `eval`
#
# Settings (environment): CAIRN_SERVICES_DIR (default <repo>/.cairn/services),
# CAIRN_SERVICES_PG_PORT (54329), CAIRN_SERVICES_REDIS_PORT (63799),
# CAIRN_SERVICES_REDIS_MAXMEMORY (256mb), CAIRN_PG_BINDIR (/usr/lib/postgresql/15/bin).
set -euo pipefail

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
DIR=${CAIRN_SERVICES_DIR:-$ROOT/.cairn/services}
PG_PORT=${CAIRN_SERVICES_PG_PORT:-54329}
REDIS_PORT=${CAIRN_SERVICES_REDIS_PORT:-63799}
REDIS_MAXMEMORY=${CAIRN_SERVICES_REDIS_MAXMEMORY:-256mb}
PG_BINDIR=${CAIRN_PG_BINDIR:-/usr/lib/postgresql/15/bin}
PG_SHAREDIR=${CAIRN_PG_SHAREDIR:-/usr/share/postgresql/15}
PG_DATA=$DIR/postgres
REDIS_DIR=$DIR/redis
PG_USER=cairn
PG_PASSWORD=cairn
PG_DB=cairn
PACKAGES=(postgresql-15 postgresql-15-hypopg postgresql-contrib redis-server)
DATABASE_URL="postgres://$PG_USER:$PG_PASSWORD@127.0.0.1:$PG_PORT/$PG_DB"
REDIS_URL="redis://127.0.0.1:$REDIS_PORT/0"

say() { echo "services: $*" >&2; }
die() { echo "services: error: $*" >&2; exit 1; }

as_root() { [ "$(id -u)" = 0 ]; }

# PostgreSQL refuses to run as root; as root, every server command runs as `postgres`.
as_pg() {
  if as_root; then runuser -u postgres -- "$@"; else "$@"; fi
}

missing_packages() {
  local missing=()
  [ -x "$PG_BINDIR/postgres" ] || missing+=(postgresql-15)
  [ -f "$PG_SHAREDIR/extension/hypopg.control" ] || missing+=(postgresql-15-hypopg)
  [ -f "$PG_SHAREDIR/extension/pg_stat_statements.control" ] || missing+=(postgresql-contrib)
  command -v redis-server >/dev/null && command -v redis-cli >/dev/null || missing+=(redis-server)
  echo "${missing[@]:-}"
}

install_packages() {
  local missing
  missing=$(missing_packages)
  [ -z "$missing" ] && return 0
  if ! as_root; then
    die "missing: $missing. Install them with: sudo apt-get install -y ${PACKAGES[*]}"
  fi
  say "installing Debian packages: $missing"
  export DEBIAN_FRONTEND=noninteractive
  apt-get update -qq >/dev/null || die "apt-get update failed; install ${PACKAGES[*]} by hand"
  # --no-install-recommends keeps the install small; policy-rc.d stops Debian from starting its own servers.
  local policy=/usr/sbin/policy-rc.d created_policy=0
  if [ ! -e "$policy" ]; then printf '#!/bin/sh\nexit 101\n' >"$policy"; chmod +x "$policy"; created_policy=1; fi
  apt-get install -y -qq --no-install-recommends "${PACKAGES[@]}" >/dev/null || {
    [ "$created_policy" = 1 ] && rm -f "$policy"
    die "apt-get install ${PACKAGES[*]} failed"
  }
  [ "$created_policy" = 1 ] && rm -f "$policy"
  missing=$(missing_packages)
  [ -z "$missing" ] || die "still missing after install: $missing"
}

psql_admin() { PGOPTIONS="-c client_min_messages=warning" PGPASSWORD=$PG_PASSWORD "$PG_BINDIR/psql" -h 127.0.0.1 -p "$PG_PORT" -U "$PG_USER" -v ON_ERROR_STOP=1 -qAtX "$@"; }

pg_running() { [ -f "$PG_DATA/PG_VERSION" ] && as_pg "$PG_BINDIR/pg_ctl" status -D "$PG_DATA" >/dev/null 2>&1; }
redis_running() { [ "$(redis-cli -h 127.0.0.1 -p "$REDIS_PORT" ping 2>/dev/null)" = PONG ]; }

write_pg_conf() {
  # Tuned for analytics on a small shared box (2 cores). This cluster is for development
  # and tests: synchronous_commit=off trades durability for load speed. wal_level=logical lets
  # the result cache follow writes that bypass the proxy (a logical decoding slot).
  cat >"$PG_DATA/cairn.conf.new" <<EOF
listen_addresses = '127.0.0.1'
port = $PG_PORT
unix_socket_directories = ''
max_connections = 200
shared_preload_libraries = 'pg_stat_statements'
pg_stat_statements.track = all
pg_stat_statements.max = 10000
track_io_timing = on
shared_buffers = 1GB
effective_cache_size = 8GB
work_mem = 64MB
maintenance_work_mem = 512MB
max_worker_processes = 8
max_parallel_workers = 2
max_parallel_workers_per_gather = 2
max_parallel_maintenance_workers = 2
random_page_cost = 1.1
effective_io_concurrency = 200
default_statistics_target = 200
jit = off
wal_level = logical
max_wal_senders = 4
max_replication_slots = 10
synchronous_commit = off
max_wal_size = 4GB
checkpoint_timeout = 15min
logging_collector = off
log_min_messages = warning
EOF
  # A changed configuration on a running server needs a restart (wal_level, shared_buffers).
  if cmp -s "$PG_DATA/cairn.conf.new" "$PG_DATA/cairn.conf"; then
    rm -f "$PG_DATA/cairn.conf.new"
    CONF_CHANGED=0
  else
    mv "$PG_DATA/cairn.conf.new" "$PG_DATA/cairn.conf"
    CONF_CHANGED=1
  fi
  grep -q "include_if_exists = 'cairn.conf'" "$PG_DATA/postgresql.conf" ||
    echo "include_if_exists = 'cairn.conf'" >>"$PG_DATA/postgresql.conf"
}

pg_up() {
  mkdir -p "$DIR"
  if as_root; then
    chown postgres:postgres "$DIR"
    as_pg test -w "$DIR" ||
      die "PostgreSQL runs as the 'postgres' user, which cannot write $DIR; make its parent directories searchable (chmod o+x) or set CAIRN_SERVICES_DIR"
  fi
  if [ ! -f "$PG_DATA/PG_VERSION" ]; then
    say "initialising PostgreSQL cluster in $PG_DATA"
    local pwfile="$DIR/.pwfile"
    echo "$PG_PASSWORD" >"$pwfile"
    as_root && chown postgres "$pwfile"
    as_pg "$PG_BINDIR/initdb" -D "$PG_DATA" -U "$PG_USER" --pwfile="$pwfile" --auth-host=scram-sha-256 \
      --auth-local=peer --encoding=UTF8 --locale=C >"$DIR/initdb.log" 2>&1 || {
      rm -f "$pwfile"
      die "initdb failed; see $DIR/initdb.log"
    }
    rm -f "$pwfile"
  fi
  write_pg_conf
  as_root && chown postgres:postgres "$PG_DATA/cairn.conf"
  if pg_running && [ "$CONF_CHANGED" = 1 ]; then
    as_pg "$PG_BINDIR/pg_ctl" restart -D "$PG_DATA" -m fast -w -t 60 -l "$DIR/postgres.log" >/dev/null ||
      die "PostgreSQL did not restart with its new configuration; see $DIR/postgres.log"
    say "PostgreSQL restarted on 127.0.0.1:$PG_PORT (configuration changed)"
  elif pg_running; then
    say "PostgreSQL already running on 127.0.0.1:$PG_PORT"
  else
    as_pg "$PG_BINDIR/pg_ctl" start -D "$PG_DATA" -l "$DIR/postgres.log" -w -t 60 >/dev/null ||
      die "PostgreSQL did not start on port $PG_PORT; last log lines: $(tail -n 5 "$DIR/postgres.log" 2>/dev/null | tr '\n' ' ')"
    say "PostgreSQL started on 127.0.0.1:$PG_PORT"
  fi
  # Extensions in template1 too, so every database a test creates has them.
  [ "$(psql_admin -d postgres -c "SELECT 1 FROM pg_database WHERE datname = '$PG_DB'")" = 1 ] ||
    psql_admin -d postgres -c "CREATE DATABASE $PG_DB" >/dev/null
  local db
  for db in template1 "$PG_DB"; do
    psql_admin -d "$db" -c "CREATE EXTENSION IF NOT EXISTS pg_stat_statements; CREATE EXTENSION IF NOT EXISTS hypopg;" >/dev/null
  done
}

redis_up() {
  if redis_running; then
    say "Redis already running on 127.0.0.1:$REDIS_PORT"
    return 0
  fi
  mkdir -p "$REDIS_DIR"
  redis-server --bind 127.0.0.1 --port "$REDIS_PORT" --daemonize yes --dir "$REDIS_DIR" \
    --pidfile "$REDIS_DIR/redis.pid" --logfile "$REDIS_DIR/redis.log" \
    --maxmemory "$REDIS_MAXMEMORY" --maxmemory-policy allkeys-lru --save '' --appendonly no >/dev/null
  local i
  for i in $(seq 1 50); do
    redis_running && { say "Redis started on 127.0.0.1:$REDIS_PORT"; return 0; }
    sleep 0.1
  done
  die "Redis did not start on port $REDIS_PORT; last log lines: $(tail -n 5 "$REDIS_DIR/redis.log" 2>/dev/null | tr '\n' ' ')"
}

print_env() {
  echo "export CAIRN_DATABASE_URL=$DATABASE_URL"
  echo "export CAIRN_REDIS_URL=$REDIS_URL"
}

case "${1:-}" in
  up)
    install_packages
    pg_up
    redis_up
    print_env
    ;;
  down)
    if pg_running; then as_pg "$PG_BINDIR/pg_ctl" stop -D "$PG_DATA" -m fast -w >/dev/null && say "PostgreSQL stopped"; else say "PostgreSQL was not running"; fi
    if redis_running; then redis-cli -h 127.0.0.1 -p "$REDIS_PORT" shutdown nosave >/dev/null 2>&1 || true; say "Redis stopped"; else say "Redis was not running"; fi
    ;;
  status)
    up=0
    if pg_running; then echo "postgres: up   $DATABASE_URL ($PG_DATA)"; else echo "postgres: down ($PG_DATA)"; up=1; fi
    if command -v redis-cli >/dev/null && redis_running; then echo "redis:    up   $REDIS_URL"; else echo "redis:    down"; up=1; fi
    exit $up
    ;;
  env) print_env ;;
  *)
    sed -n '2,14p' "$0" | sed 's/^# \{0,1\}//'
    exit 2
    ;;
esac
