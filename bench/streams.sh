#!/usr/bin/env bash
# The live-update measurements on this machine, each against fresh servers:
#   memory: one in-memory messenger-api; the streams and the posts go to it;
#   pg:     two instances (A and B) over PostgreSQL on a schema of their own (dropped
#           afterwards); the streams are opened on A, the messages posted through B.
# Usage: bench/streams.sh memory|pg <messenger-bench streams arguments>, e.g.
#   bench/streams.sh memory --streams 1000 --rate 100 --duration 10s
#   bench/streams.sh memory --streams 10000 --rate 0 --compare
#   bench/streams.sh pg --streams 1000 --rate 100 --duration 10s --grace 20s
# Servers run with STREAMS_PER_ACCOUNT=100000, NGINX_THROTTLING=y, RUST_LOG=warn, and
# are stopped by PID (also on error or Ctrl-C). The file-descriptor limit is raised to
# NOFILE (default 20000, at most the hard limit) for both processes.
# Environment: PROFILE (release), CARGO_TARGET_DIR, SKIP_BUILD=1, DATABASE_URL for pg
# (default postgres://root@127.0.0.1:5432/test).
set -euo pipefail

mode=${1:-}
shift || true
case "$mode" in memory | pg) ;; *) echo "usage: $0 memory|pg <streams arguments>" >&2; exit 2 ;; esac

repo=$(cd "$(dirname "$0")/.." && pwd)
cd "$repo"
profile=${PROFILE:-release}
if [[ "${SKIP_BUILD:-0}" != 1 ]]; then
    cargo build --profile "$profile" -p messenger-api -p messenger-bench
fi
target_dir=${CARGO_TARGET_DIR:-$repo/target}
bench=$target_dir/$profile/messenger-bench
api=$target_dir/$profile/messenger-api
logs=$(mktemp -d /tmp/messenger-streams.XXXXXX)
ulimit -n "${NOFILE:-20000}"

started=()
schema=
cleanup() {
    for pid in "${started[@]}"; do
        if kill -0 "$pid" 2>/dev/null; then
            kill -TERM "$pid"
            wait "$pid" 2>/dev/null || true
        fi
    done
    if [[ -n "$schema" ]]; then
        psql "$DATABASE_URL" -qc "DROP SCHEMA IF EXISTS \"$schema\" CASCADE" >/dev/null 2>&1 || true
    fi
}
trap cleanup EXIT
trap 'exit 130' INT TERM

# Starts messenger-api on a free port with the given extra environment; sets $port and $pid.
start() {
    port=$("$bench" free-port)
    env STREAMS_PER_ACCOUNT=100000 NGINX_THROTTLING=y RUST_LOG=warn HOST=127.0.0.1 \
        PORT="$port" "$@" "$api" >"$logs/api-$port.log" 2>&1 &
    pid=$!
    started+=("$pid")
    for _ in $(seq 150); do
        if (exec 3<>"/dev/tcp/127.0.0.1/$port") 2>/dev/null; then return 0; fi
        sleep 0.1
    done
    echo "messenger-api did not listen on $port (see $logs)" >&2
    return 1
}

if [[ "$mode" == memory ]]; then
    start
    "$bench" streams --url "http://127.0.0.1:$port" --rss-pid "$pid" "$@"
else
    export DATABASE_URL=${DATABASE_URL:-postgres://root@127.0.0.1:5432/test}
    schema=bench_streams_$(date +%s)_$$
    start DATABASE_SCHEMA="$schema"     # A first: it applies the migrations
    a_port=$port a_pid=$pid
    start DATABASE_SCHEMA="$schema"     # B
    "$bench" streams --url "http://127.0.0.1:$a_port" --url2 "http://127.0.0.1:$port" \
        --rss-pid "$a_pid" "$@"
fi
echo "server logs: $logs" >&2
