#!/usr/bin/env bash
# Starts throwaway Redis and PostgreSQL servers on 127.0.0.1 for tests and benchmarks.
# Source it, call start_servers, and stop_servers when done (test.sh sets a trap).
# Installs redis-server, postgresql (and kubectl, and libgomp1 for the memory service) from Debian packages when they are missing.
# Exports AGENTICFLOW_TEST_REDIS (host:port) and AGENTICFLOW_TEST_POSTGRES (an Npgsql connection string), and
# AGENTICFLOW_TEST_INFLUX (the base URL of a throwaway InfluxDB 1.x, the monitoring service's time-series store).

_as_root() { if [ "$(id -u)" = 0 ]; then "$@"; elif command -v sudo >/dev/null; then sudo "$@"; else "$@"; fi; }

_pg_bin() { ls -d /usr/lib/postgresql/*/bin 2>/dev/null | sort -V | tail -n 1; }

_install_servers() {
  local missing=()
  command -v redis-server >/dev/null || missing+=(redis-server)
  [ -n "$(_pg_bin)" ] && [ -x "$(_pg_bin)/initdb" ] || missing+=(postgresql)
  # kubectl renders the k8s/ overlays for the manifest policy test (this project's machines ship it; Debian's
  # package is the fallback).
  command -v kubectl >/dev/null || missing+=(kubernetes-client)
  # The memory service's vector index (USearch's native library) links GNU OpenMP's runtime.
  dpkg -s libgomp1 >/dev/null 2>&1 || missing+=(libgomp1)
  command -v influxd >/dev/null || missing+=(influxdb)
  if [ ${#missing[@]} -gt 0 ]; then
    echo "servers: installing ${missing[*]} from Debian packages"
    _as_root apt-get update -qq >/dev/null
    DEBIAN_FRONTEND=noninteractive _as_root apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
  fi
}

_free_port() {
  local port
  while :; do
    # Below the kernel's ephemeral range (32768+), where outgoing connections could hold the port.
    port=$(( 20000 + RANDOM % 12000 ))
    (exec 3<>"/dev/tcp/127.0.0.1/$port") 2>/dev/null || { echo "$port"; return; }
  done
}

_wait_port() {
  local port=$1 what=$2 pid=${3:-}
  for _ in $(seq 1 100); do
    (exec 3<>"/dev/tcp/127.0.0.1/$port") 2>/dev/null && return 0
    # The server gave up (port taken, say): no use waiting out the limit.
    if [ -n "$pid" ] && ! kill -0 "$pid" 2>/dev/null; then break; fi
    sleep 0.1
  done
  echo "servers: $what did not start on port $port" >&2
  return 1
}

start_servers() {
  _install_servers
  SERVERS_DIR=$(mktemp -d /tmp/agenticflow-servers.XXXXXX)
  chmod 755 "$SERVERS_DIR"

  # A port found free can still be taken before the server binds it: each server gets three ports to try.
  local redis_port attempt
  for attempt in 1 2 3; do
    redis_port=$(_free_port)
    redis-server --bind 127.0.0.1 --port "$redis_port" --dir "$SERVERS_DIR" --save "" --appendonly yes \
      --daemonize no --logfile "$SERVERS_DIR/redis.log" &
    SERVERS_REDIS_PID=$!
    _wait_port "$redis_port" redis "$SERVERS_REDIS_PID" && break
    kill "$SERVERS_REDIS_PID" 2>/dev/null; SERVERS_REDIS_PID=
    [ "$attempt" = 3 ] && return 1
  done

  local pg_port
  pg_data="$SERVERS_DIR/pg"
  pg_port=$(_free_port); pg_bin=$(_pg_bin)
  mkdir -p "$pg_data"
  run_pg=()
  if [ "$(id -u)" = 0 ]; then
    # PostgreSQL refuses to run as root: give the throwaway cluster to the postgres user.
    chown postgres "$pg_data"
    run_pg=(runuser -u postgres --)
  fi
  "${run_pg[@]}" "$pg_bin/initdb" -D "$pg_data" -U postgres --auth=trust -E UTF8 >"$SERVERS_DIR/initdb.log" 2>&1 || { cat "$SERVERS_DIR/initdb.log" >&2; return 1; }
  for attempt in 1 2 3; do
    "${run_pg[@]}" "$pg_bin/postgres" -D "$pg_data" -h 127.0.0.1 -p "$pg_port" -k "$pg_data" \
      -c fsync=on -c max_connections=200 >"$SERVERS_DIR/postgres.log" 2>&1 &
    SERVERS_PG_PID=$!
    _wait_port "$pg_port" postgresql "$SERVERS_PG_PID" && break
    timeout 20 tail --pid="$SERVERS_PG_PID" -f /dev/null 2>/dev/null; SERVERS_PG_PID=
    [ "$attempt" = 3 ] && { cat "$SERVERS_DIR/postgres.log" >&2; return 1; }
    pg_port=$(_free_port)
  done

  # InfluxDB 1.x: its HTTP API and its backup RPC port on free loopback ports, data in the throwaway folder.
  local influx_port influx_rpc
  for attempt in 1 2 3; do
    influx_port=$(_free_port); influx_rpc=$(_free_port)
    mkdir -p "$SERVERS_DIR/influx"
    cat >"$SERVERS_DIR/influx/influxdb.conf" <<INFLUX
reporting-disabled = true
bind-address = "127.0.0.1:$influx_rpc"
[meta]
  dir = "$SERVERS_DIR/influx/meta"
[data]
  dir = "$SERVERS_DIR/influx/data"
  wal-dir = "$SERVERS_DIR/influx/wal"
  query-log-enabled = false
[http]
  bind-address = "127.0.0.1:$influx_port"
  log-enabled = false
[monitor]
  store-enabled = false
INFLUX
    influxd -config "$SERVERS_DIR/influx/influxdb.conf" >"$SERVERS_DIR/influx.log" 2>&1 &
    SERVERS_INFLUX_PID=$!
    _wait_port "$influx_port" influxdb "$SERVERS_INFLUX_PID" && break
    kill "$SERVERS_INFLUX_PID" 2>/dev/null; SERVERS_INFLUX_PID=
    [ "$attempt" = 3 ] && { cat "$SERVERS_DIR/influx.log" >&2; return 1; }
  done
  export AGENTICFLOW_TEST_INFLUX="http://127.0.0.1:$influx_port"

  export AGENTICFLOW_TEST_REDIS="127.0.0.1:$redis_port"
  export AGENTICFLOW_TEST_POSTGRES="Host=127.0.0.1;Port=$pg_port;Username=postgres;Database=postgres;Pooling=true;Maximum Pool Size=50"
  echo "servers: redis on $AGENTICFLOW_TEST_REDIS, postgresql on 127.0.0.1:$pg_port, influxdb on $AGENTICFLOW_TEST_INFLUX (data in $SERVERS_DIR)"
}

stop_servers() {
  if [ -n "${SERVERS_REDIS_PID:-}" ]; then
    kill "$SERVERS_REDIS_PID" 2>/dev/null
    timeout 20 tail --pid="$SERVERS_REDIS_PID" -f /dev/null 2>/dev/null || kill -9 "$SERVERS_REDIS_PID" 2>/dev/null
  fi
  if [ -n "${SERVERS_PG_PID:-}" ]; then
    # pg_ctl signals the postmaster itself; SERVERS_PG_PID may be runuser, which forwards no signal.
    timeout 30 "${run_pg[@]}" "$pg_bin/pg_ctl" -D "$pg_data" -m fast -w stop >/dev/null 2>&1 \
      || { local pid; pid=$(head -n 1 "$pg_data/postmaster.pid" 2>/dev/null); [ -n "$pid" ] && kill -9 "$pid" 2>/dev/null; }
    timeout 20 tail --pid="$SERVERS_PG_PID" -f /dev/null 2>/dev/null || kill -9 "$SERVERS_PG_PID" 2>/dev/null
  fi
  if [ -n "${SERVERS_INFLUX_PID:-}" ]; then
    kill "$SERVERS_INFLUX_PID" 2>/dev/null
    timeout 20 tail --pid="$SERVERS_INFLUX_PID" -f /dev/null 2>/dev/null || kill -9 "$SERVERS_INFLUX_PID" 2>/dev/null
  fi
  [ -n "${SERVERS_DIR:-}" ] && rm -rf "$SERVERS_DIR"
  SERVERS_REDIS_PID= SERVERS_PG_PID= SERVERS_INFLUX_PID= SERVERS_DIR=
  return 0
}
