#!/usr/bin/env bash
# Search and cursor paging at fixed data sizes (100,000 then 1,000,000 messages), so
# figures from different setups compare whatever their write speed:
#   memory  a fresh in-memory messenger-api; one chat filled over the API
#           (`messenger-bench seed --text words`), then grown to the next size;
#   pg      a fresh messenger-api over PostgreSQL in a schema of its own; the chat filled
#           with bench/seed_chat.sql -v words=1, the API restarted after each fill (its
#           caches and word statistics start from the data as it is);
#   both    memory, then pg, back to back (default), then the ratios between them.
# At each size: the same page again and pages by cursor through that chat (all full),
# one search round trip at a time for each query shape of the search conformance suite,
# search tasks/s with --connections searchers (a rare word: a simple task), the server's
# RSS before the runs (finished search tasks keep their hits for an hour) and after them.
# Then the figures the targets name: cached page PG / memory, cursor / same page,
# search p50 against 10 ms (memory) and 30 ms (PostgreSQL), RSS at 1,000,000 messages.
#
# Only 127.0.0.1; every step is bounded in time; the servers it starts are stopped by
# PID (also on error or Ctrl-C); the schema is dropped afterwards (KEEP=1 keeps it).
# Arguments after the mode go to every `messenger-bench run` (e.g. --duration 5s).
# Environment: BIN_DIR holds messenger-api and messenger-bench (default
# $CARGO_TARGET_DIR/release or target/release; copy fresh builds to a private directory
# first when others build in the same target); SIZES (default "100000 1000000");
# DATABASE_URL_BENCH (default postgres://root@127.0.0.1:5432/test); OUT_DIR for the
# report and the per-run summaries; API_ENV, extra NAME=value settings of the servers
# (e.g. "PAGE_CACHE_MESSAGES=1000000 PAGE_CACHE_RENDERED_MB=200").
set -euo pipefail
# shellcheck source=bench/common.sh
source "$(dirname "$0")/common.sh"

mode=${1:-both}
shift || true
case "$mode" in memory | pg | both) ;; *)
    echo "usage: bench/sizes.sh memory|pg|both [messenger-bench run options]" >&2
    exit 2
    ;;
esac
read -r -a sizes <<<"${SIZES:-100000 1000000}"
out=${OUT_DIR:-$(mktemp -d /tmp/messenger-sizes.XXXXXX)}
mkdir -p "$out"
report=$out/report.txt
schema=bench_sizes_$$

started=()
stop() {
    local pid=$1
    if kill -0 "$pid" 2>/dev/null; then
        kill -TERM "$pid"
        wait "$pid" 2>/dev/null || true
    fi
}
dropped=0
cleanup() {
    for pid in "${started[@]}"; do stop "$pid"; done
    if [[ "$mode" != memory && "$dropped" == 0 && "${KEEP:-0}" != 1 ]]; then
        psql -q "$db" -c "DROP SCHEMA IF EXISTS $schema CASCADE" >/dev/null 2>&1 || true
    fi
}
trap cleanup EXIT
trap 'exit 130' INT TERM

say() { echo "$*" | tee -a "$report"; }
load() { cut -d' ' -f1-3 /proc/loadavg; }

wait_port() {
    for _ in $(seq 300); do
        if (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null; then return 0; fi
        sleep 0.1
    done
    echo "nothing listens on 127.0.0.1:$1 (see $out/api-*.log)" >&2
    return 1
}

# Starts messenger-api on a free port with a clean environment plus "$@"; sets api_pid
# and url.
start_api() {
    local port
    port=$("$bench" free-port)
    (cd "$out" && exec env -i PATH="$PATH" HOME="$HOME" HOST=127.0.0.1 PORT="$port" \
        NGINX_THROTTLING=y REGISTER_LIMIT_PER_MIN=10000 RUST_LOG=warn ${API_ENV:-} "$@" "$api" \
        >>"$out/api-$port.log" 2>&1) &
    api_pid=$!
    started+=("$api_pid")
    url=http://127.0.0.1:$port
    wait_port "$port"
}

# Measures one size: $1 backend label, $2 size, $3 chat id; more arguments to run.
measure() {
    local label=$1 size=$2 chat=$3
    shift 3
    local summary=$out/$label-$size.tsv
    : >"$summary"
    say ""
    say "== $label, $size messages in one chat; load average $(load)"
    # Before any search: finished tasks keep their hits for an hour, in memory too.
    "$bench" rss --pid "$api_pid" | sed "s/^/$label RSS with $size messages, before the runs: /" \
        | tee -a "$report" | tee "$out/$label-$size.rss"
    timeout 15m "$bench" run --url "$url" --rss-pid "$api_pid" --summary "$summary" \
        --scenarios page,cursor,search --walk-chat "$chat" --walk-messages "$size" \
        --search-chat "$chat" --search-query word15000 "$@" | tee -a "$report"
    timeout 15m "$bench" run --url "$url" --summary "$summary" --scenarios shapes \
        --search-chat "$chat" --poll-interval 1ms "$@" | tee -a "$report"
    "$bench" rss --pid "$api_pid" | sed "s/^/$label RSS after the runs: /" | tee -a "$report"
}

memory() {
    start_api
    local have=0 chat="" round=0
    for size in "${sizes[@]}"; do
        say ""
        say "== memory: storing $((size - have)) messages over the API (load $(load))"
        local into=()
        [[ -n "$chat" ]] && into=(--into-chat "$chat")
        timeout 20m "$bench" seed --url "$url" --messages "$((size - have))" --text words \
            --round "$round" --chats 1 "${into[@]}" --max-time 15m | tee "$out/seed.txt" \
            | tee -a "$report"
        chat=$(awk '/^chat_id /{print $2}' "$out/seed.txt")
        have=$size
        round=$((round + 1))
        measure memory "$size" "$chat" "$@"
    done
    stop "$api_pid"
}

pg() {
    local env=(DATABASE_URL="$db" DATABASE_SCHEMA="$schema")
    start_api "${env[@]}"       # applies the migrations
    local have=0 chat=new
    for size in "${sizes[@]}"; do
        say ""
        say "== pg: appending $((size - have)) messages with seed_chat.sql (load $(load))"
        stop "$api_pid"
        timeout 20m psql -q -X -At "$db" -v schema="$schema" -v chat="$chat" \
            -v n="$((size - have))" -v words=1 -f bench/seed_chat.sql | tee "$out/seed.txt" \
            | tee -a "$report"
        chat=$(tail -n1 "$out/seed.txt" | cut -d'|' -f1)
        have=$size
        start_api "${env[@]}"
        measure pg "$size" "$chat" "$@"
    done
    stop "$api_pid"
    if [[ "${KEEP:-0}" != 1 ]]; then
        psql -q "$db" -c "DROP SCHEMA $schema CASCADE" >/dev/null
        dropped=1
    else
        say "schema $schema kept (chat $chat)"
    fi
}

# Field $3 (req/s 2, p50 3, p99 4) of the first row starting with $2 in summary $1.
field() { awk -F'\t' -v p="$2" -v f="$3" 'index($1, p) == 1 { print $f; exit }' "$1"; }
ratio() { awk -v a="$1" -v b="$2" 'BEGIN { if (a == "" || b == "" || b == 0) print "-"; else printf "%.2f", a / b }'; }

targets() {
    say ""
    say "== targets (load average $(load))"
    for size in "${sizes[@]}"; do
        for label in memory pg; do
            local s=$out/$label-$size.tsv
            [[ -f "$s" ]] || continue
            local page cursor limit worst
            page=$(field "$s" "GET page of" 2)
            cursor=$(field "$s" "GET pages by cursor" 2)
            say "$label $size: pages by cursor / same page = $(ratio "$cursor" "$page") (target >= 0.80)"
            limit=10
            [[ "$label" == pg ]] && limit=30
            worst=$(awk -F'\t' 'index($1, "search ") == 1 && $1 !~ /round trip/ {
                if ($3 > w) { w = $3; n = $1 } } END { printf "%.3f ms (%s)", w, n }' "$s")
            say "$label $size: slowest search p50 $worst (target <= $limit ms at 1,000,000)"
            say "$label $size: search tasks/s $(field "$s" "search round trip" 2) (target >= 500)"
        done
        if [[ -f "$out/memory-$size.tsv" && -f "$out/pg-$size.tsv" ]]; then
            say "$size: cached page PG / memory = $(ratio "$(field "$out/pg-$size.tsv" "GET page of" 2)" \
                "$(field "$out/memory-$size.tsv" "GET page of" 2)") (target >= 0.80)"
        fi
    done
    if [[ -f "$out/memory-1000000.rss" ]]; then
        # Finished search tasks keep their hits for an hour: only a first size is clean.
        if [[ "${sizes[0]}" == 1000000 ]]; then
            say "$(cat "$out/memory-1000000.rss") (target <= 400 MiB)"
        else
            say "$(cat "$out/memory-1000000.rss") (not the target's figure: it holds the" \
                "smaller sizes' finished search tasks; run SIZES=1000000 for it)"
        fi
    fi
    return 0
}

say "bench/sizes.sh $mode at $(date -u +%FT%TZ), $(nproc) cores, load average $(load)"
say "binaries: $api, $bench"
case "$mode" in
memory) memory "$@" ;;
pg) pg "$@" ;;
both)
    memory "$@"
    pg "$@"
    ;;
esac
targets
echo "report: $report"
