#!/usr/bin/env bash
# What one POST costs PostgreSQL, part by part, with the service out of the way: pgbench
# runs the statements a post sends (32 clients, each into a chat of its own, prepared
# statements, synchronous commit), then the same with one part taken away at a time:
#   1. single-row INSERT into a bare table (bench/writes.sh's limit);
#   2. a lone post as the service sends it: one statement that checks the member, takes the
#      chat's advisory lock and the sequence number, stores the message, moves the
#      poster's read marker and records the `message.created` event;
#   3. a post as sent before: the member check as a statement of its own, then the
#      locking statement, with the read marker moved by a row trigger (migration 0008's
#      down);
#   4. 2 in a transaction block, as a batch of posts sends it: BEGIN, the lock, the
#      statement, COMMIT (each its own round trip here);
#   5. 2 without the member check and the read marker;
#   6. also without the search index (GIN on `messages.words`);
#   7. also without the event row;
#   8. also without the `(created_at, id)` index;
#   then, with the indexes back, a batch of 16 posts into the client's chat:
#   9. in a transaction block with a statement for each post (as batches were sent before);
#  10. in a transaction block with one statement for all 16 (as a batch is sent now).
# Steps 9 and 10 count posts (16 a transaction), not transactions.
# Each step prints tps and its ratio to step 1. The schema is the service's own: a fresh
# messenger-api migrates it and sets up 32 chats (one member each) over the API, then
# stops; everything is dropped at the end (also on error or Ctrl-C). Only 127.0.0.1.
# DURATION (8) is each pgbench run in seconds; BIN_DIR and DATABASE_URL_BENCH as in
# bench/writes.sh.
set -euo pipefail
# shellcheck source=bench/common.sh
source "$(dirname "$0")/common.sh"
secs=${DURATION:-8}
out=$(mktemp -d /tmp/messenger-post-cost.XXXXXX)
schema=bench_post_cost_$$

api_pid=""
cleanup() {
    if [[ -n "$api_pid" ]] && kill -0 "$api_pid" 2>/dev/null; then
        kill -TERM "$api_pid"
        wait "$api_pid" 2>/dev/null || true
    fi
    psql -q "$db" -c "DROP SCHEMA IF EXISTS $schema CASCADE" >/dev/null 2>&1 || true
    rm -rf "$out"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

# The service's schema, and 32 chats with a member each (the post scenario's fixture).
port=$("$bench" free-port)
(cd "$out" && exec env -i PATH="$PATH" HOME="$HOME" HOST=127.0.0.1 PORT="$port" \
    DATABASE_URL="$db" DATABASE_SCHEMA="$schema" NGINX_THROTTLING=y \
    REGISTER_LIMIT_PER_MIN=10000 RUST_LOG=warn "$api" >"$out/api.log" 2>&1) &
api_pid=$!
timeout 2m "$bench" run --url "http://127.0.0.1:$port" --scenarios post --post-chats 32 \
    --duration 1s >"$out/setup.txt"
kill -TERM "$api_pid"
wait "$api_pid" 2>/dev/null || true
api_pid=""

sql() { psql -q -v ON_ERROR_STOP=1 "$db" -c "SET search_path = $schema" -c "$1"; }
sql "CREATE TABLE bench_plain (id bigserial PRIMARY KEY, client int NOT NULL, text text NOT NULL)"
# Client k of pgbench (0-based) posts as the member of the chat numbered k.
sql "CREATE TABLE bench_targets AS
     SELECT (row_number() OVER (ORDER BY m.chat_id) - 1)::int AS n, m.chat_id, m.id AS member
     FROM (SELECT DISTINCT ON (chat_id) chat_id, id FROM members ORDER BY chat_id, id) m
     LIMIT 32"
count=$(psql -Atq "$db" -c "SELECT count(*) FROM $schema.bench_targets")
[[ "$count" == 32 ]] || { echo "expected 32 chats, found $count" >&2; exit 1; }

text="benchmark alpha message 000000 tag7 lorem ipsum dolor sit amet consectetur adipiscing elit"
words="'alpha':2 'amet':10 'benchmark':1 'consectetur':11 'dolor':8 'elit':13 'ipsum':7 'lorem':6 'message':3 'sit':9 'tag7':5"
target="SELECT chat_id AS chat, member FROM bench_targets WHERE n = :client_id \\gset"
member="SELECT chat_id, id, account_id, name, joined_at FROM members WHERE chat_id = :chat AND id = :member AND active;"
insert() { # $1: the event row, $2: the statement takes the lock, $3: it checks the member
    #          and moves the read marker (each yes/no)
    local event="" lock="" locked="" poster="" from="" name="'poster'" marker=""
    [[ "$1" == yes ]] && event=", e AS (INSERT INTO events (pos, at, kind, chat_id, seq) SELECT event_pos(0), event_now(), 1, :chat, seq FROM m)"
    [[ "$2" == yes ]] && lock="l AS (SELECT pg_advisory_xact_lock(hashtext(:chat))), " \
        && locked=" AND EXISTS (SELECT 1 FROM l)"
    [[ "$3" == yes ]] && poster="p AS (SELECT name, account_id FROM members WHERE chat_id = :chat AND id = :member AND active), " \
        && from=" FROM p" && name="c.name" \
        && marker=", r AS (UPDATE participants SET read_seq = greatest(read_seq, m.seq) FROM m, p WHERE participants.chat_id = :chat AND participants.account_id = p.account_id)"
    echo "WITH ${lock}${poster}c AS (UPDATE chats SET last_seq = last_seq + 1, last_created_at = greatest(last_created_at, (extract(epoch FROM clock_timestamp()) * 1000000)::bigint)$from WHERE id = :chat$locked RETURNING last_seq, last_created_at${from:+, p.name}), m AS (INSERT INTO messages (chat_id, seq, id, user_id, user_name, text, created_at, words, words_truncated) SELECT :chat, c.last_seq, gen_random_uuid(), :member, $name, '$text', c.last_created_at, '$(sed "s/'/''/g" <<<"$words")'::text::tsvector, false FROM c RETURNING seq, created_at)$marker$event SELECT seq, created_at FROM m;"
}
lock="SELECT pg_advisory_xact_lock(hashtext(:chat));"

run() { # $1: label, $2: script, $3: posts a transaction (1)
    printf '%s\n' "$2" >"$out/script.sql"
    timeout $((secs + 60)) env PGOPTIONS="$PGOPTIONS -c search_path=$schema" \
        pgbench -n -M prepared -c 32 -j 2 -T "$secs" -f "$out/script.sql" "$db" >"$out/pgbench.txt" 2>&1 \
        || { cat "$out/pgbench.txt" >&2; exit 1; }
    tps=$(awk -v n="${3:-1}" '/^tps = / { printf "%.0f", $3 * n; exit }' "$out/pgbench.txt")
    [[ -z "${base:-}" ]] && base=$tps
    printf '%-62s %8s tps  %5.2f  (load %s)\n' "$1" "$tps" "$(awk -v a="$tps" -v b="$base" 'BEGIN { print a / b }')" \
        "$(cut -d' ' -f1-3 /proc/loadavg)"
}

echo "bench/post_cost.sh at $(date -u +%FT%TZ), $(nproc) cores, pgbench ${secs} s, 32 clients"
run "1. single-row INSERT (bench/writes.sh's limit)" \
    "INSERT INTO bench_plain (client, text) VALUES (:client_id, '$text');"
run "2. a lone post as sent: one statement, member check inside" \
    "$target
$(insert yes yes yes)"
sql "$(cat adapters/postgres/migrations/0008_read_marker_in_post.down.sql)"
run "3. as before: member check, locking statement, trigger" \
    "$target
$member
$(insert yes yes no)"
sql "$(cat adapters/postgres/migrations/0008_read_marker_in_post.up.sql)"
run "4. 2 in a block: BEGIN, lock, the statement, COMMIT" \
    "$target
BEGIN;
$lock
$(insert yes no yes)
COMMIT;"
run "5. 2 without the member check and the read marker" "$target
$(insert yes yes no)"
sql "DROP INDEX messages_words_idx"
run "6. ... without the search index (GIN)" "$target
$(insert yes yes no)"
run "7. ... without the event row" "$target
$(insert no yes no)"
sql "DROP INDEX messages_created_at_idx"
run "8. ... without the (created_at, id) index" "$target
$(insert no yes no)"

# A batch of 16 posts, the service's statements with pgbench's variables for parameters.
sql "CREATE INDEX messages_words_idx ON messages USING gin (words) WITH (gin_pending_list_limit = 256)"
sql "CREATE INDEX messages_created_at_idx ON messages (created_at, id)"
batch=16
now="(extract(epoch FROM clock_timestamp()) * 1000000)::bigint"
each="$target
BEGIN;
$lock"
for k in $(seq 0 $((batch - 1))); do
    post=$(insert yes no yes)
    each="$each
${post/event_pos(0)/event_pos($k)}"
done
run "9. 16 posts in a block, a statement each (batches before)" "$each
COMMIT;" "$batch"
column() { echo "array_fill($1, ARRAY[$batch])"; }
escaped_words=$(sed "s/'/''/g" <<<"$words")
# INSERT_MESSAGES of adapters/postgres/src/messages.rs, its arrays built here.
many=$(sed -n '/^const INSERT_MESSAGES/,/";$/p' adapters/postgres/src/messages.rs \
    | sed -e '1d' -e 's/^ *//' -e 's/ *\\$//' -e 's/";$//' | tr '\n' ' ')
for arg in "1 :chat::uuid" "3 :member::uuid" "4 NULL::uuid" \
    "5 '$text'::text" "6 $now" "7 '$escaped_words'::text" "8 false" "9 NULL::text" \
    "10 NULL::text"; do
    n=${arg%% *}
    many=${many//"\$$n::"/"$(column "${arg#* }")::"}
done
many=${many//'$2::'/"ARRAY(SELECT gen_random_uuid() FROM generate_series(1, $batch))::"}
[[ "$many" != *'$'* ]] || { echo "a parameter of INSERT_MESSAGES was left: $many" >&2; exit 1; }
run "10. 16 posts in a block, one statement for all (batches now)" "$target
BEGIN;
SELECT pg_advisory_xact_lock(hashtext(:chat));
$many;
COMMIT;" "$batch"
