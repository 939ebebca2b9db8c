#!/usr/bin/env bash
# POST over PostgreSQL against PostgreSQL's own limit, back to back in one run:
#   1. pgbench, 32 clients, one single-row INSERT of a ~100-byte text per transaction into
#      a throw-away table of a throw-away schema (synchronous commit, as the service runs);
#   2. a fresh messenger-api over PostgreSQL (a schema of its own): 32 writers POST into
#      one chat, then 32 writers into 32 chats (`messenger-bench run --scenarios post`);
#   3. pgbench again; the limit is the mean of 1 and 3.
# It prints each figure and POST / pgbench (targets: >= 0.50 into one chat, >= 0.70 into
# 32 chats). Only 127.0.0.1; every step bounded; the server is stopped by PID and both
# schemas are dropped (also on error or Ctrl-C).
# Arguments go to both `messenger-bench run` calls (e.g. --duration 5s); DURATION (10)
# is pgbench's -T in seconds. BIN_DIR, DATABASE_URL_BENCH, OUT_DIR as in bench/sizes.sh.
set -euo pipefail
# shellcheck source=bench/common.sh
source "$(dirname "$0")/common.sh"
secs=${DURATION:-10}
out=${OUT_DIR:-$(mktemp -d /tmp/messenger-writes.XXXXXX)}
mkdir -p "$out"
report=$out/writes.txt
schema=bench_writes_$$
pgb=bench_pgbench_$$

api_pid=""
cleanup() {
    if [[ -n "$api_pid" ]] && kill -0 "$api_pid" 2>/dev/null; then
        kill -TERM "$api_pid"
        wait "$api_pid" 2>/dev/null || true
    fi
    psql -q "$db" -c "DROP SCHEMA IF EXISTS $schema CASCADE" -c "DROP SCHEMA IF EXISTS $pgb CASCADE" \
        >/dev/null 2>&1 || true
}
trap cleanup EXIT
trap 'exit 130' INT TERM

say() { echo "$*" | tee -a "$report"; }
load() { cut -d' ' -f1-3 /proc/loadavg; }

psql -q "$db" -c "CREATE SCHEMA $pgb" \
    -c "CREATE TABLE $pgb.messages (id bigserial PRIMARY KEY, client int NOT NULL, text text NOT NULL)"
cat >"$out/insert.sql" <<SQL
INSERT INTO $pgb.messages (client, text) VALUES (:client_id, 'benchmark alpha message 000000 tag7 lorem ipsum dolor sit amet consectetur adipiscing elit');
SQL
pgbench_tps() {
    timeout $((secs + 60)) pgbench -n -c 32 -j 2 -T "$secs" -f "$out/insert.sql" "$db" \
        >"$out/pgbench.txt" 2>&1
    awk '/^tps = / { printf "%.1f", $3; exit }' "$out/pgbench.txt"
}

say "bench/writes.sh at $(date -u +%FT%TZ), $(nproc) cores"
say "pgbench single-row INSERT, 32 clients, ${secs} s (load $(load)): $(pgbench_tps | tee "$out/tps1") tps"

port=$("$bench" free-port)
(cd "$out" && exec env -i PATH="$PATH" HOME="$HOME" HOST=127.0.0.1 PORT="$port" \
    DATABASE_URL="$db" DATABASE_SCHEMA="$schema" NGINX_THROTTLING=y \
    REGISTER_LIMIT_PER_MIN=10000 RUST_LOG=warn ${API_ENV:-} "$api" >"$out/api.log" 2>&1) &
api_pid=$!
for chats in 1 32; do
    : >"$out/post-$chats.tsv"
    say "POST over PostgreSQL, 32 writers into $chats chat(s) (load $(load)):"
    timeout 5m "$bench" run --url "http://127.0.0.1:$port" --scenarios post --post-chats "$chats" \
        --summary "$out/post-$chats.tsv" "$@" | tee -a "$report"
done
kill -TERM "$api_pid"
wait "$api_pid" 2>/dev/null || true
api_pid=""

say "pgbench again (load $(load)): $(pgbench_tps | tee "$out/tps2") tps"
limit=$(awk '{ s += $1 } END { printf "%.1f", s / NR }' "$out/tps1" "$out/tps2")
for chats in 1 32; do
    rate=$(cut -f2 "$out/post-$chats.tsv")
    target=0.50
    [[ "$chats" == 32 ]] && target=0.70
    say "POST into $chats chat(s) / pgbench INSERT = $rate / $limit = $(awk -v a="$rate" -v b="$limit" \
        'BEGIN { printf "%.2f", a / b }') (target >= $target)"
done
echo "report: $report"
