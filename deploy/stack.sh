#!/usr/bin/env bash
# The production layout without Docker, on this machine: messenger-api instances on free
# ports, messenger-worker, and nginx in front of them, against the machine's own PostgreSQL,
# Redis and RabbitMQ.
#
#   deploy/stack.sh up       build, start everything, wait until it answers through nginx
#   deploy/stack.sh status   what runs, on which ports (exit 1 if something is not running)
#   deploy/stack.sh down     stop exactly the processes `up` started (by PID), and remove
#                            what STACK_ISOLATE created
#
# Settings (environment variables; `down` and `status` need the same STACK_NAME/STACK_RUN_DIR):
#   STACK_NAME        a name for the stack                                (default)
#   STACK_RUN_DIR     PIDs, logs, generated configuration     (target/stack/$STACK_NAME)
#   STACK_LISTEN      nginx's address                                     (127.0.0.1)
#   STACK_PORT        nginx's port; 0 picks a free one                    (8080)
#   STACK_PROFILE     release or debug binaries                           (release)
#   STACK_BUILD       1 builds them first with cargo, 0 uses what is built (1)
#   STACK_SERVICES    the local services to use, any of: postgres redis rabbitmq
#                     (all three); without postgres everything but nginx runs in memory
#   STACK_INSTANCES   messenger-api instances       (2; 1 without postgres: memory is local)
#   STACK_WORKERS     messenger-worker processes, each with /metrics and /ping on a free
#                     port (listed by `status`) (1 with rabbitmq, else 0: the API then
#                     runs search tasks itself)
#   STACK_ISOLATE     1: this stack gets its own PostgreSQL database, Redis key prefix and
#                     RabbitMQ virtual host, all removed by `down`, so it sees no other
#                     data and leaves none behind (for tests)             (0)
#   STACK_PG_URL      the local PostgreSQL, without a database  (postgres://postgres@127.0.0.1:5432)
#   STACK_REDIS_URL   the local Redis                           (redis://127.0.0.1:6379/0)
#   STACK_AMQP_URL    the local RabbitMQ, without a vhost       (amqp://guest:guest@127.0.0.1:5672)
#   STACK_ENV_FILE    an env file of further settings for the binaries (e.g. AUTH_DISABLED)
#   STACK_READY_SECS  how long `up` waits for each part to answer         (60)
#   NGINX_THROTTLING  when set, nginx throttles per client address and the API does not
#   RUST_LOG, LOG_FORMAT   passed to the binaries                      (info, text)
set -euo pipefail
shopt -u patsub_replacement 2>/dev/null || true # `&` in a replacement stays a plain `&`

repo=$(cd "$(dirname "$0")/.." && pwd)
name=${STACK_NAME:-default}
run=${STACK_RUN_DIR:-$repo/target/stack/$name}
listen_addr=${STACK_LISTEN:-127.0.0.1}
nginx_port=${STACK_PORT:-8080}
profile=${STACK_PROFILE:-release}
services=" ${STACK_SERVICES-postgres redis rabbitmq} "
pg_url=${STACK_PG_URL:-postgres://postgres@127.0.0.1:5432}
redis_url=${STACK_REDIS_URL:-redis://127.0.0.1:6379/0}
amqp_url=${STACK_AMQP_URL:-amqp://guest:guest@127.0.0.1:5672}
ready_secs=${STACK_READY_SECS:-60}

uses() { [[ $services == *" $1 "* ]]; }
say() { printf 'stack %s: %s\n' "$name" "$*"; }
die() { printf 'stack %s: %s\n' "$name" "$*" >&2; exit 1; }

# --- processes -----------------------------------------------------------------------------

# $run/pids holds one line per started process: NAME PID EXECUTABLE
alive() { # pid [executable]: the process exists, is no zombie, and runs that executable
  local pid=$1 exe=${2:-} state
  state=$(awk '{print $3}' "/proc/$pid/stat" 2>/dev/null) || return 1
  [ "$state" != Z ] || return 1
  [ -z "$exe" ] && return 0
  # A rebuilt binary shows as "PATH (deleted)"; anything else is another process that got
  # the PID after ours ended.
  [[ $(readlink "/proc/$pid/exe" 2>/dev/null) == "$exe"* ]]
}

start_process() { # name executable args... (the environment comes from $run/NAME.env)
  local pname=$1 exe; shift
  exe=$(readlink -f "$1"); shift
  local -a envs=()
  mapfile -t envs < <(grep -v '^#' "$run/$pname.env" | grep .)
  # Run from the run directory, so no .env file of the caller's directory is read.
  (cd "$run" && exec env -i PATH="$PATH" HOME="${HOME:-/}" "${envs[@]}" "$exe" "$@" \
    >"$run/$pname.log" 2>&1 </dev/null) &
  echo "$pname $! $exe" >>"$run/pids"
}

stop_all() {
  [ -f "$run/pids" ] || return 0
  local pname pid exe
  local -a stopping=()
  # Newest first: nginx, then the worker, then the API instances.
  while read -r pname pid exe; do
    if alive "$pid" "$exe"; then
      say "stopping $pname (pid $pid)"
      # nginx: SIGQUIT is its graceful stop; the binaries drain on SIGTERM.
      if [ "$pname" = nginx ]; then kill -QUIT "$pid"; else kill -TERM "$pid"; fi
      stopping+=("$pid:$exe:$pname")
    fi
  done < <(tac "$run/pids")
  local deadline=$((SECONDS + 40)) entry
  for entry in "${stopping[@]}"; do
    pid=${entry%%:*}; exe=${entry#*:}; exe=${exe%:*}; pname=${entry##*:}
    while alive "$pid" "$exe" && [ "$SECONDS" -lt "$deadline" ]; do sleep 0.2; done
    if alive "$pid" "$exe"; then
      say "$pname (pid $pid) did not stop in time: killing it"
      kill -KILL "$pid" 2>/dev/null || true
    fi
  done
  rm -f "$run/pids"
}

wait_ready() { # pname url: until the URL answers 200, while the process lives
  local pname=$1 url=$2 pid deadline=$((SECONDS + ready_secs))
  pid=$(awk -v n="$pname" '$1 == n {print $2}' "$run/pids")
  until curl -fsS -o /dev/null --max-time 2 "$url" 2>/dev/null; do
    # No executable check: right after the start the PID may still be the shell that execs it.
    if ! alive "$pid"; then
      tail -n 30 "$run/$pname.log" >&2 || true
      die "$pname exited before answering on $url (log: $run/$pname.log)"
    fi
    if [ "$SECONDS" -ge "$deadline" ]; then
      tail -n 30 "$run/$pname.log" >&2 || true
      die "$pname did not answer on $url within ${ready_secs}s (log: $run/$pname.log)"
    fi
    sleep 0.2
  done
}

free_ports() { # count: that many distinct ports free on 127.0.0.1 right now
  python3 - "$1" <<'PY'
import socket, sys
socks = []
for _ in range(int(sys.argv[1])):
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    socks.append(s)
print(" ".join(str(s.getsockname()[1]) for s in socks))
PY
}

port_free() { # addr port
  python3 - "$1" "$2" <<'PY'
import socket, sys
s = socket.socket()
s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
try:
    s.bind((sys.argv[1], int(sys.argv[2])))
except OSError:
    sys.exit(1)
PY
}

# --- the services' stack-specific state ------------------------------------------------------

pg() { psql "$pg_url/postgres" -v ON_ERROR_STOP=1 -qAtc "$1"; }

prepare_services() { # writes $run/services.env: what the binaries connect to
  local db=messenger prefix="" vhost=%2f suffix
  if [ "${STACK_ISOLATE:-0}" = 1 ]; then
    suffix="$(printf '%s' "$name" | tr -c 'a-zA-Z0-9' '_' | cut -c1-20)_$(od -An -N4 -tx4 /dev/urandom | tr -d ' ')"
    : >"$run/isolation" # what `down` removes, written as soon as it exists
    if uses postgres; then
      db="messenger_stack_$suffix"
      say "creating database $db"
      pg "CREATE DATABASE \"$db\""
      echo "database $db" >>"$run/isolation"
    fi
    if uses redis; then
      prefix="messenger-stack-$suffix:"
      say "using Redis key prefix $prefix"
      echo "redis_prefix $prefix" >>"$run/isolation"
    fi
    if uses rabbitmq; then
      local user
      vhost="messenger-stack-${suffix//_/-}"
      user=$(python3 -c 'import sys, urllib.parse; print(urllib.parse.urlsplit(sys.argv[1]).username or "guest")' "$amqp_url")
      say "creating RabbitMQ virtual host $vhost"
      rabbitmqctl -q add_vhost "$vhost" >/dev/null
      echo "vhost $vhost" >>"$run/isolation"
      rabbitmqctl -q set_permissions -p "$vhost" "$user" '.*' '.*' '.*' >/dev/null
    fi
  fi
  {
    echo "# what this stack's binaries connect to (written by deploy/stack.sh)"
    if uses postgres; then
      if [ -z "$(pg "SELECT 1 FROM pg_database WHERE datname = '$db'")" ]; then
        say "creating database $db"
        pg "CREATE DATABASE \"$db\""
      fi
      echo "DATABASE_URL=$pg_url/$db"
    fi
    if uses redis; then
      echo "REDIS_URL=$redis_url"
      echo "CACHE_TYPE=redis"
      [ -n "$prefix" ] && echo "REDIS_KEY_PREFIX=$prefix"
    fi
    if uses rabbitmq; then
      echo "AMQP_URL=$amqp_url/$vhost"
    fi
    true
  } >"$run/services.env"
}

remove_isolated_state() {
  [ -f "$run/isolation" ] || return 0
  local kind value
  while read -r kind value; do
    case $kind in
      database)
        say "dropping database $value"
        pg "DROP DATABASE IF EXISTS \"$value\" WITH (FORCE)" || true ;;
      redis_prefix)
        say "deleting the Redis keys $value*"
        redis-cli -u "$redis_url" --scan --pattern "$value*" |
          xargs -r -n 100 redis-cli -u "$redis_url" unlink >/dev/null || true ;;
      vhost)
        say "deleting RabbitMQ virtual host $value"
        rabbitmqctl -q delete_vhost "$value" >/dev/null || true ;;
    esac
  done <"$run/isolation"
  rm -f "$run/isolation"
}

# --- nginx -----------------------------------------------------------------------------------

ensure_nginx() {
  command -v nginx >/dev/null 2>&1 && return 0
  [ "$(id -u)" = 0 ] || die "nginx is not installed (Debian package nginx) and this is not root"
  say "installing nginx from Debian's packages"
  apt-get update -qq >/dev/null
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends nginx >/dev/null
}

write_nginx_conf() { # upstream ports...
  local upstreams="" port throttle conf
  for port in "$@"; do
    upstreams+="        server 127.0.0.1:$port max_fails=3 fail_timeout=5s;"$'\n'
  done
  if [ -n "${NGINX_THROTTLING:-}" ]; then
    throttle="limit_req zone=messenger_per_client burst=100 nodelay;"
  else
    throttle="# throttling is done by the API (NGINX_THROTTLING is not set)"
  fi
  conf=$(<"$repo/deploy/nginx/stack.conf.template")
  conf=${conf//@RUN_DIR@/$run}
  conf=${conf//@LISTEN@/$listen_addr:$nginx_port}
  conf=${conf//@UPSTREAMS@$'\n'/$upstreams}
  conf=${conf//@THROTTLE@/$throttle}
  printf '%s\n' "$conf" >"$run/nginx.conf"
  mkdir -p "$run/nginx-tmp"
}

# --- commands --------------------------------------------------------------------------------

up() {
  if [ -f "$run/pids" ]; then
    local pname pid exe
    while read -r pname pid exe; do
      alive "$pid" "$exe" && die "already running ($pname, pid $pid): run down first"
    done <"$run/pids"
    rm -f "$run/pids"
  fi
  mkdir -p "$run"
  run=$(cd "$run" && pwd)
  # What an earlier `up` of this stack created and no `down` removed.
  remove_isolated_state
  rm -f "$run"/*.log "$run/instances"

  local instances workers
  if uses postgres; then instances=${STACK_INSTANCES:-2}; else instances=${STACK_INSTANCES:-1}; fi
  if uses rabbitmq; then workers=${STACK_WORKERS:-1}; else workers=${STACK_WORKERS:-0}; fi
  if ! uses postgres && [ "$instances" -gt 1 ]; then
    die "several instances need PostgreSQL (add postgres to STACK_SERVICES)"
  fi
  # Ports for the instances, then the workers' /metrics and /ping (and nginx if asked),
  # distinct from nginx's.
  local -a ports=() candidates
  local port
  read -r -a candidates <<<"$(free_ports $((instances + workers + 1)))"
  if [ "$nginx_port" = 0 ]; then nginx_port=${candidates[instances + workers]}; fi
  for port in "${candidates[@]}"; do
    if [ "$port" != "$nginx_port" ] && [ "${#ports[@]}" -lt $((instances + workers)) ]; then
      ports+=("$port")
    fi
  done
  port_free "$listen_addr" "$nginx_port" || die "$listen_addr:$nginx_port is taken (set STACK_PORT)"

  ensure_nginx
  local cargo_flags=() target_dir
  [ "$profile" = release ] && cargo_flags+=(--release)
  target_dir=$(cd "$repo" && cargo metadata --format-version 1 --no-deps |
    python3 -c 'import json, sys; print(json.load(sys.stdin)["target_directory"])')
  local bin_dir="$target_dir/$profile"
  if [ "${STACK_BUILD:-1}" = 1 ]; then
    say "building messenger-api and messenger-worker ($profile)"
    (cd "$repo" && cargo build --quiet "${cargo_flags[@]}" -p messenger-api -p messenger-worker)
  fi
  [ -x "$bin_dir/messenger-api" ] || die "$bin_dir/messenger-api is not built"
  if [ "$workers" -gt 0 ]; then
    [ -x "$bin_dir/messenger-worker" ] || die "$bin_dir/messenger-worker is not built"
  fi

  # Anything that fails from here on stops what was started.
  trap 'say "start-up failed: stopping what was started"; stop_all; remove_isolated_state' EXIT

  prepare_services
  local common
  common=$(
    cat "$run/services.env"
    echo "RUST_LOG=${RUST_LOG:-info}"
    echo "LOG_FORMAT=${LOG_FORMAT:-text}"
    # nginx on this machine is the only proxy: trust its X-Forwarded-For.
    echo "TRUSTED_PROXIES=127.0.0.1/32"
    [ -n "${NGINX_THROTTLING:-}" ] && echo "NGINX_THROTTLING=$NGINX_THROTTLING"
    [ -n "${STACK_ENV_FILE:-}" ] && grep -v '^#' "$STACK_ENV_FILE" | grep .
    true
  )

  local i
  for i in $(seq "$instances"); do
    printf '%s\nHOST=127.0.0.1\nPORT=%s\n' "$common" "${ports[i - 1]}" >"$run/api-$i.env"
    start_process "api-$i" "$bin_dir/messenger-api"
    echo "api-$i ${ports[i - 1]}" >>"$run/instances"
    # The first instance applies the migrations; the others start once it answers.
    wait_ready "api-$i" "http://127.0.0.1:${ports[i - 1]}/ping"
    say "api-$i answers on http://127.0.0.1:${ports[i - 1]}"
  done
  for i in $(seq "$workers"); do
    port=${ports[instances + i - 1]}
    printf '%s\nHOST=127.0.0.1\nWORKER_METRICS_PORT=%s\n' "$common" "$port" >"$run/worker-$i.env"
    start_process "worker-$i" "$bin_dir/messenger-worker"
    echo "worker-$i $port" >>"$run/instances"
    # /ping answers 200 once it consumes the queue and its stores answer.
    wait_ready "worker-$i" "http://127.0.0.1:$port/ping"
    say "worker-$i is ready (/metrics and /ping on http://127.0.0.1:$port)"
  done

  write_nginx_conf "${ports[@]:0:instances}"
  nginx -t -q -p "$run/" -c "$run/nginx.conf" -e "$run/nginx-error.log"
  : >"$run/nginx.env"
  start_process nginx "$(command -v nginx)" -p "$run/" -c "$run/nginx.conf" -e "$run/nginx-error.log"
  wait_ready nginx "http://$listen_addr:$nginx_port/ping"
  echo "nginx $nginx_port" >>"$run/instances"

  # A worker that died at start (bad configuration) shows now, not at the first search.
  for i in $(seq "$workers"); do
    local pid
    pid=$(awk -v n="worker-$i" '$1 == n {print $2}' "$run/pids")
    if ! alive "$pid"; then
      tail -n 30 "$run/worker-$i.log" >&2 || true
      die "worker-$i exited (log: $run/worker-$i.log)"
    fi
  done
  trap - EXIT
  say "up: http://$listen_addr:$nginx_port in front of $instances instance(s), $workers worker(s);" \
    "services:${services% }; run directory $run"
}

down() {
  if [ ! -d "$run" ]; then say "nothing to stop ($run does not exist)"; return 0; fi
  stop_all
  remove_isolated_state
  rm -f "$run/instances"
  say "down"
}

status() {
  if [ ! -f "$run/pids" ]; then say "not running"; return 1; fi
  local pname pid exe port ok=0
  while read -r pname pid exe; do
    port=$(awk -v n="$pname" '$1 == n {print $2}' "$run/instances" 2>/dev/null)
    if alive "$pid" "$exe"; then
      printf '%-10s pid %-8s running   %s\n' "$pname" "$pid" "${port:+port $port}"
    else
      printf '%-10s pid %-8s STOPPED   (log: %s)\n' "$pname" "$pid" "$run/$pname.log"
      ok=1
    fi
  done <"$run/pids"
  return "$ok"
}

case "${1:-}" in
  up) up ;;
  down) down ;;
  status) status ;;
  *) echo "usage: $0 up|down|status (settings: see the top of this file)" >&2; exit 2 ;;
esac
