#!/usr/bin/env bash
# The whole benchmark on this machine, end to end:
#   1. builds messenger-api and messenger-bench (release) and the bare limit server;
#   2. starts the limit server and a fresh in-memory messenger-api (in-app throttling
#      off, logs quiet) on free ports of 127.0.0.1, reads the server's idle RSS, runs
#      every scenario, and prints the table;
#   3. starts another fresh messenger-api, stores SEED_MESSAGES messages (default
#      1,000,000) and reads its RSS after them;
#   4. stops every server it started, by PID (also on error or Ctrl-C).
# Arguments are passed to `messenger-bench run` (e.g. --duration 5s --scenarios ping,page).
# Environment: PROFILE picks the cargo profile of messenger-api and messenger-bench
# (default release, what the README runs; dist is the image's fully optimised build);
# SKIP_BUILD=1 reuses the binaries; SEED_MESSAGES=0 skips step 3;
# LIMIT_DIR, LIMIT_TARGET locate the limit server's sources and build directory;
# CARGO_TARGET_DIR is honoured; OUT is the file the report is also written to
# (default target/bench-report.txt).
set -euo pipefail

repo=$(cd "$(dirname "$0")/.." && pwd)
cd "$repo"
limit_dir=${LIMIT_DIR:-$repo/../shared/bench/limit}
limit_target=${LIMIT_TARGET:-/tmp/limit-target}
seed_messages=${SEED_MESSAGES:-1000000}
out=${OUT:-${CARGO_TARGET_DIR:-$repo/target}/bench-report.txt}
profile=${PROFILE:-release}
logs=$(mktemp -d /tmp/messenger-bench.XXXXXX)

if [[ "${SKIP_BUILD:-0}" != 1 ]]; then
    cargo build --profile "$profile" -p messenger-api -p messenger-bench
    CARGO_TARGET_DIR="$limit_target" cargo build --release --manifest-path "$limit_dir/Cargo.toml"
fi
target_dir=${CARGO_TARGET_DIR:-$repo/target}
bench=$target_dir/$profile/messenger-bench
api=$target_dir/$profile/messenger-api
limit=$limit_target/release/limit-server

started=()
stop() {
    local pid=$1
    if kill -0 "$pid" 2>/dev/null; then
        kill -TERM "$pid"
        wait "$pid" 2>/dev/null || true
    fi
}
cleanup() {
    for pid in "${started[@]}"; do stop "$pid"; done
}
trap cleanup EXIT
trap 'exit 130' INT TERM

# Waits until something listens on 127.0.0.1:$1 (at most 15 s).
wait_port() {
    for _ in $(seq 150); do
        if (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null; then return 0; fi
        sleep 0.1
    done
    echo "nothing listens on 127.0.0.1:$1 (see the logs in $logs)" >&2
    return 1
}

# Starts a fresh in-memory messenger-api on port $1 with a clean environment, in the
# log directory (so neither a DATABASE_URL/REDIS_URL/AMQP_URL of the caller nor a .env
# file switches it off memory); sets api_pid.
start_api() {
    (cd "$logs" && exec env -i PATH="$PATH" HOME="$HOME" HOST=127.0.0.1 PORT="$1" \
        NGINX_THROTTLING=y RUST_LOG=warn "$api" >"$logs/api-$1.log" 2>&1) &
    api_pid=$!
    started+=("$api_pid")
    wait_port "$1"
}

limit_port=$("$bench" free-port)
BIND=127.0.0.1:$limit_port "$limit" >"$logs/limit.log" 2>&1 &
started+=("$!")
wait_port "$limit_port"

api_port=$("$bench" free-port)
start_api "$api_port"
sleep 1
{
    echo "== messenger-api in memory, NGINX_THROTTLING=y, RUST_LOG=warn, pid $api_pid"
    echo "idle server: $("$bench" rss --pid "$api_pid")"
} | tee "$out"
"$bench" run --url "http://127.0.0.1:$api_port" --limit-url "http://127.0.0.1:$limit_port" \
    --rss-pid "$api_pid" "$@" | tee -a "$out"
stop "$api_pid"

if [[ "$seed_messages" != 0 ]]; then
    seed_port=$("$bench" free-port)
    start_api "$seed_port"
    sleep 1
    {
        echo
        echo "== fresh messenger-api (pid $api_pid): storing $seed_messages messages"
        "$bench" seed --url "http://127.0.0.1:$seed_port" --messages "$seed_messages" \
            --rss-pid "$api_pid"
    } | tee -a "$out"
    stop "$api_pid"
fi
echo "report written to $out; server logs in $logs"
