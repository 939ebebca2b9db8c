#!/usr/bin/env bash
# The image as a drop-in for the original service, without Docker: messenger-api started
# with exactly the variables of deploy/.env.legacy (the original's POSTGRES_* and
# AUTH_DISABLED=true; no Redis, no RabbitMQ), the host pointed at this machine's PostgreSQL
# and a fresh database. It must open its port within a few seconds (migrations included) and
# serve the original's legacy flow: no Authorization header anywhere, each join a new member,
# search run in process over PostgreSQL. Stops what it started and drops the database.
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
cd "$here/../.."

READY_LIMIT_SECS=${LEGACY_READY_LIMIT_SECS:-5}
pg_admin="postgres://postgres@127.0.0.1:5432/postgres"
work=$(mktemp -d)
db="messenger_legacy_$$_$(od -An -N4 -tx4 /dev/urandom | tr -d ' ')"
pid=""
# shellcheck source-path=SCRIPTDIR source=lib/http.bash
source "$here/lib/http.bash"

cleanup() {
  local status=$?
  set +e
  stop_server "$status"
  psql "$pg_admin" -qAtc "DROP DATABASE IF EXISTS \"$db\" WITH (FORCE)" >/dev/null
  rm -rf "$work"
  exit "$status"
}
trap cleanup EXIT

psql "$pg_admin" -v ON_ERROR_STOP=1 -qAtc "CREATE DATABASE \"$db\""
cargo build --quiet -p messenger-api
bin="$(cargo metadata --format-version 1 --no-deps |
  python3 -c 'import json, sys; print(json.load(sys.stdin)["target_directory"])')/debug/messenger-api"
port=$(python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')

# The file's variables, with this machine's database in place of the harness's.
mapfile -t envs < <(grep -E '^[A-Z_]+=' deploy/.env.legacy |
  sed -e 's/^POSTGRES_HOSTS=.*/POSTGRES_HOSTS=127.0.0.1/' \
    -e "s/^POSTGRES_DB=.*/POSTGRES_DB=$db/" \
    -e 's/^POSTGRES_USER=.*/POSTGRES_USER=postgres/')
echo "starting messenger-api with: ${envs[*]} PORT=$port (POSTGRES_PWD unused: trust auth)"
# The container sets HOST=0.0.0.0 and PORT=8080; here loopback and a free port.
started=$(date +%s.%N)
(cd "$work" && exec env -i PATH="$PATH" HOME="${HOME:-/}" "${envs[@]}" HOST=127.0.0.1 \
  PORT="$port" "$bin" >"$work/server.log" 2>&1) &
pid=$!
base="http://127.0.0.1:$port"
until curl -fsS -o /dev/null --max-time 1 "$base/ping" 2>/dev/null; do
  kill -0 "$pid" 2>/dev/null || fail "messenger-api exited at start"
  elapsed=$(python3 -c "import time; print(time.time() - $started)")
  python3 -c "import sys; sys.exit(0 if $elapsed < 30 else 1)" || fail "no answer within 30 s"
  sleep 0.05
done
elapsed=$(python3 -c "import time; print(f'{time.time() - $started:.2f}')")
python3 -c "import sys; sys.exit(0 if $elapsed <= $READY_LIMIT_SECS else 1)" ||
  fail "ready after ${elapsed}s, more than ${READY_LIMIT_SECS}s"
ok "ready (port open, /ping 200) ${elapsed}s after start, migrations on a fresh database included"
call GET "$base/ping_db"
expect 200 "GET /ping_db: PostgreSQL answers"

call POST "$base/v1/chats" '{"chat_name":"legacy chat"}'
expect 201 "create a chat without any Authorization header"
chat=$(field chat_id)
call POST "$base/v1/chats/$chat/users" '{"user_name":"old client"}'
expect 201 "join it"
member=$(field user_id)
call POST "$base/v1/chats/$chat/users" '{"user_name":"old client"}'
expect 201 "join again with the same name"
[ "$(field user_id)" != "$member" ] || fail "a second join returned the same member"
ok "each join creates a new member, as in the original"
call POST "$base/v1/chats/$chat/messages?user_id=$member" '{"message":"hello from the legacy harness"}' \
  "Authorization: session_id not-a-valid-token"
expect 201 "post; a stale Authorization header is ignored"
call GET "$base/v1/chats/$chat/messages?limit=10"
expect 200 "read the chat"
expect_field messages.0.text "hello from the legacy harness" "the message is there"
call POST "$base/v1/chats/search" '{"message":"legacy harness"}'
expect 201 "start a search"
task=$(field task_id)
wait_search "$base" "$task"
expect 200 "its status"
expect_field status SUCCESS "the in-process worker finishes it over PostgreSQL"
call GET "$base/v1/chats/search/$task/messages?limit=10"
expect 200 "its results"
expect_field messages.0.text "hello from the legacy harness" "the message is found"
grep -q 'authentication is OFF' "$work/server.log" || fail "the first log line does not say auth is off"
ok "the first log line says authentication is off"

echo "legacy drop-in: $passed passed, 0 failed"
