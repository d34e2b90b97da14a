#!/usr/bin/env bash
# Installs (only if missing) and starts/stops the real servers the tests use:
# a PostgreSQL cluster run by an unprivileged user (PostgreSQL refuses root),
# and the redis-server binary (tests start their own redis-server processes).
#
#   scripts/test-services.sh start   # prints nothing but errors; idempotent
#   scripts/test-services.sh stop
#   scripts/test-services.sh url     # the PostgreSQL URL for the tests
set -euo pipefail

PGROOT=${REMEDIATOR_TEST_PG_DIR:-/tmp/remediator-pg}
PGPORT=${REMEDIATOR_TEST_PG_PORT:-55432}
PGUSER_OS=postgres
URL="postgres://postgres@127.0.0.1:${PGPORT}/postgres?sslmode=disable"

apt_install() {
  if [ "$(id -u)" != 0 ]; then echo "need root to apt-get install $*" >&2; exit 1; fi
  if [ -z "${APT_UPDATED:-}" ]; then apt-get update -qq >/dev/null; APT_UPDATED=1; fi
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "$@" >/dev/null
}

pgbin() { ls -d /usr/lib/postgresql/*/bin 2>/dev/null | sort -V | tail -n 1; }

ensure_installed() {
  command -v redis-server >/dev/null 2>&1 || apt_install redis-server
  [ -n "$(pgbin)" ] || apt_install postgresql
  # Debian starts services on install where it can; the tests use their own.
  if ! id "$PGUSER_OS" >/dev/null 2>&1; then useradd --system --no-create-home "$PGUSER_OS"; fi
}

as_pg() {
  if [ "$(id -u)" = 0 ]; then runuser -u "$PGUSER_OS" -- "$@"; else "$@"; fi
}

start() {
  ensure_installed
  local bin; bin=$(pgbin)
  mkdir -p "$PGROOT"
  [ "$(id -u)" = 0 ] && chown "$PGUSER_OS" "$PGROOT"
  if [ ! -f "$PGROOT/data/PG_VERSION" ]; then
    as_pg "$bin/initdb" -D "$PGROOT/data" -A trust -U postgres -E UTF8 >/dev/null
  fi
  if ! as_pg "$bin/pg_ctl" -D "$PGROOT/data" status >/dev/null 2>&1; then
    as_pg "$bin/pg_ctl" -D "$PGROOT/data" -l "$PGROOT/log" -w -t 60 start \
      -o "-p $PGPORT -k $PGROOT -c listen_addresses=127.0.0.1 -c fsync=off -c synchronous_commit=off -c full_page_writes=off -c max_connections=400" >/dev/null
  fi
}

stop() {
  local bin; bin=$(pgbin)
  [ -n "$bin" ] && [ -f "$PGROOT/data/PG_VERSION" ] && as_pg "$bin/pg_ctl" -D "$PGROOT/data" -m fast -w stop >/dev/null 2>&1 || true
}

case "${1:-}" in
  start) start ;;
  stop) stop ;;
  url) echo "$URL" ;;
  *) echo "usage: $0 start|stop|url" >&2; exit 2 ;;
esac
