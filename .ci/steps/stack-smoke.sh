#!/usr/bin/env bash
# Brings up the stack of deploy/stack.sh (messenger-api instances, messenger-worker and nginx
# in front, against this machine's PostgreSQL, Redis and RabbitMQ) on free ports with a fresh
# PostgreSQL database, Redis key prefix and RabbitMQ vhost, runs a black-box smoke test through
# nginx, and stops exactly what it started, whatever happens. Any failed check fails CI.
#
# SMOKE_SERVICES picks the local services the stack uses: any of postgres redis rabbitmq
# (default: all three: two instances and a worker); empty: one in-memory instance without a
# worker (the checks that need more are then reported as skipped). STACK_PROFILE (default
# debug: the tests have just built those binaries) is passed on to deploy/stack.sh.
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
cd "$here/../.."

services=${SMOKE_SERVICES-postgres redis rabbitmq}
work=$(mktemp -d)
export STACK_NAME="ci-smoke-$$"
export STACK_RUN_DIR="$work/stack"
export STACK_PORT=0
export STACK_ISOLATE=1
export STACK_SERVICES="$services"
export STACK_PROFILE="${STACK_PROFILE:-debug}"
export RUST_LOG="${RUST_LOG:-info}"
unset NGINX_THROTTLING

skipped=()
cleanup() {
  local status=$?
  set +e
  if [ "$status" -ne 0 ] && [ -d "$STACK_RUN_DIR" ]; then
    for log in "$STACK_RUN_DIR"/*.log; do
      [ -s "$log" ] || continue
      echo "--- last lines of $(basename "$log")"
      tail -n 20 "$log"
    done
  fi
  deploy/stack.sh down
  rm -rf "$work"
  exit "$status"
}
trap cleanup EXIT

deploy/stack.sh up
port_of() { awk -v n="$1" '$1 == n {print $2}' "$STACK_RUN_DIR/instances"; }
nginx="http://127.0.0.1:$(port_of nginx)"
mapfile -t instance_ports < <(awk '$1 ~ /^api-/ {print $2}' "$STACK_RUN_DIR/instances")
echo "smoke test through nginx at $nginx (instances on ports ${instance_ports[*]})"

# shellcheck source-path=SCRIPTDIR source=lib/http.bash
source "$here/lib/http.bash"

call GET "$nginx/ping"
expect 200 "GET /ping through nginx"

# --- accounts, a chat, two members, messages -------------------------------------------------
call POST "$nginx/v1/auth/register" '{"user_name":"smoke-alice","password":"alice-password"}'
expect 201 "register alice"
call POST "$nginx/v1/auth/register" '{"user_name":"smoke-bob","password":"bob-password"}'
expect 201 "register bob"
call POST "$nginx/v1/auth/login" '{"user_name":"smoke-alice","password":"alice-password"}'
expect 201 "login alice"
alice=$(field session_id)
call POST "$nginx/v1/auth/login" '{"user_name":"smoke-bob","password":"bob-password"}'
expect 201 "login bob"
bob=$(field session_id)

call POST "$nginx/v1/chats" '{"chat_name":"smoke chat"}' "$(auth "$alice")"
expect 201 "alice creates a chat"
chat=$(field chat_id)
call POST "$nginx/v1/chats/$chat/users" '{"user_name":"Alice"}' "$(auth "$alice")"
expect 201 "alice joins her chat"
alice_member=$(field user_id)
call POST "$nginx/v1/chats/$chat/users" '{"user_name":"Bob"}' "$(auth "$bob")"
expect 201 "bob joins with the chat id"
bob_member=$(field user_id)

call POST "$nginx/v1/chats/$chat/messages?user_id=$alice_member" \
  '{"message":"the quick smoke fox jumps"}' "$(auth "$alice")" "Idempotency-Key: smoke-1"
expect 201 "alice posts"
first_message=$(field message_id)
call POST "$nginx/v1/chats/$chat/messages?user_id=$alice_member" \
  '{"message":"the quick smoke fox jumps"}' "$(auth "$alice")" "Idempotency-Key: smoke-1"
expect 201 "alice's retry with the same Idempotency-Key"
expect_field message_id "$first_message" "the retry answers the first message id"
call POST "$nginx/v1/chats/$chat/messages?user_id=$bob_member" \
  '{"message":"a lazy dog sleeps"}' "$(auth "$bob")"
expect 201 "bob posts"
call POST "$nginx/v1/chats/$chat/messages?user_id=$alice_member" \
  '{"message":"not my identity"}' "$(auth "$bob")"
expect 404 "bob cannot post as alice's member"

call GET "$nginx/v1/chats/$chat/messages?limit=10" "" "$(auth "$bob")"
expect 200 "bob reads the chat"
expect_field messages.0.text "the quick smoke fox jumps" "oldest message first"
expect_field messages.1.text "a lazy dog sleeps" "then the next one"
expect_field messages.1.user_name "Bob" "with its display name"
cursor=$(field next.iterator)
call POST "$nginx/v1/chats/$chat/messages?user_id=$bob_member" \
  '{"message":"one more after the end"}' "$(auth "$bob")"
expect 201 "bob posts again"
call GET "$nginx/v1/chats/$chat/messages?limit=10&from=$cursor" "" "$(auth "$alice")"
expect 200 "alice polls from the end cursor"
expect_field "messages.#" 1 "exactly the one message posted since"
expect_field messages.0.text "one more after the end" "which is bob's new one"

# --- live updates through nginx: an open stream gets a post at once (nginx does not buffer) ---
call GET "$nginx/v1/chats?limit=10" "" "$(auth "$alice")"
expect 200 "alice's chat list"
position=$(field events.iterator)
curl -sN --max-time 15 -H "$(auth "$alice")" "$nginx/v1/events/stream" >"$work/stream" 2>/dev/null &
stream_pid=$!
for _ in $(seq 50); do grep -q '^retry:' "$work/stream" && break; sleep 0.1; done
grep -q '^retry:' "$work/stream" || fail "the stream did not open through nginx: $(cat "$work/stream")"
call POST "$nginx/v1/chats/$chat/messages?user_id=$bob_member" \
  '{"message":"live through nginx"}' "$(auth "$bob")"
expect 201 "bob posts while alice follows the stream"
for _ in $(seq 50); do grep -q 'live through nginx' "$work/stream" && break; sleep 0.1; done
kill "$stream_pid" 2>/dev/null || true
wait "$stream_pid" 2>/dev/null || true
grep -q '^event: message.created' "$work/stream" ||
  fail "no message.created frame came through nginx: $(cat "$work/stream")"
grep -q 'live through nginx' "$work/stream" || fail "the post did not reach the stream within 5 s"
ok "a post reaches an open event stream through nginx within 5 s"
call GET "$nginx/v1/events?after=$position&limit=100&timeout=5" "" "$(auth "$alice")"
expect 200 "alice's long poll from her chat list's position"
expect_field events.0.type message.created "the long poll replays the post"
expect_field events.0.data.message.text "live through nginx" "with its text"

# --- search: the task is run by the worker (or in process without RabbitMQ) -------------------
call POST "$nginx/v1/chats/search" '{"message":"Quick FOX"}' "$(auth "$bob")"
expect 201 "bob starts a search"
task=$(field task_id)
wait_search "$nginx" "$task" "$(auth "$bob")"
expect 200 "the task's status"
expect_field status SUCCESS "the task ends SUCCESS within 30 s"
call GET "$nginx/v1/chats/search/$task/messages?limit=10" "" "$(auth "$bob")"
expect 200 "the task's results"
expect_field "messages.#" 1 "one hit"
expect_field messages.0.text "the quick smoke fox jumps" "the message with both words"
expect_field messages.0.chat_id "$chat" "in the chat it was posted to"
call GET "$nginx/v1/chats/search/status/$task" "" "$(auth "$alice")"
expect 404 "another account does not see the task"
if grep -q '^worker-' "$STACK_RUN_DIR/pids"; then
  # With a queue the API runs no search itself: the task above was the worker's.
  # head reads the file itself and grep reads all its input: no writer is cut off early,
  # which pipefail would count as a failure.
  head -n 1 "$STACK_RUN_DIR/api-1.log" | sed 's/\x1b\[[0-9;]*m//g' |
    grep 'searches run by messenger-worker' >/dev/null ||
    fail "the API does not say that messenger-worker runs the searches: $(head -n 1 "$STACK_RUN_DIR/api-1.log")"
  ok "the API hands searches to messenger-worker (its first log line)"
  vhost=$(awk '$1 == "vhost" {print $2}' "$STACK_RUN_DIR/isolation")
  consumers=$(rabbitmqctl -q list_consumers -p "$vhost" queue_name | grep -c . || true)
  [ "$consumers" -ge 1 ] || fail "no consumer on the stack's RabbitMQ vhost $vhost"
  ok "the worker consumes the stack's queue ($consumers consumer(s) on vhost $vhost)"
  # The worker's own endpoint: /ping for its health, /metrics for what it did and the queues.
  worker_url="http://127.0.0.1:$(port_of worker-1)"
  call GET "$worker_url/ping"
  expect 200 "the worker's /ping (subscribed, stores answer)"
  worker_metric() { # series-prefix: the first value of a series starting with it
    curl -fsS --max-time 5 "$worker_url/metrics" | awk -v p="$1" 'index($0, p) == 1 {print int($NF); exit}'
  }
  processed=$(worker_metric 'messenger_worker_tasks_total{outcome="processed"}')
  [ "${processed:-0}" -ge 1 ] || fail "the worker's /metrics counts no processed task"
  ok "the worker's /metrics counts its tasks (processed: $processed)"
  [ -n "$(worker_metric messenger_worker_task_duration_seconds_count)" ] ||
    fail "the worker's /metrics has no task duration histogram"
  ok "with a task duration histogram"
  queue_consumers=""
  for _ in $(seq 50); do # the queues are read every 5 s
    queue_consumers=$(worker_metric 'messenger_queue_consumers{queue="tasks"}')
    [ "${queue_consumers:-0}" -ge 1 ] && break
    sleep 0.2
  done
  [ "${queue_consumers:-0}" -ge 1 ] || fail "the worker's /metrics reads no consumer on the task queue"
  [ -n "$(worker_metric 'messenger_queue_messages{queue="dead"}')" ] ||
    fail "the worker's /metrics has no dead-letter queue depth"
  ok "and the queues' depth and consumers read from the broker (task queue consumers: $queue_consumers)"
else
  skipped+=("the worker: the stack has none (services: '$services')")
fi

# --- nginx in front: bodies, request ids, unknown routes ------------------------------------
# (Files, not arguments: one argument may not exceed 128 KiB.)
python3 -c 'print("{\"chat_name\":\"" + "x" * 320 * 1024 + "\"}")' >"$work/320k.json"
python3 -c 'print("{\"chat_name\":\"" + "x" * 260 * 1024 + "\"}")' >"$work/260k.json"
call POST "$nginx/v1/chats" "@$work/320k.json" "$(auth "$alice")"
expect 400 "a body over nginx's limit answers 400 (not 413)"
expect_field message bad-parameters "in the API's shape"
call POST "$nginx/v1/chats" "@$work/260k.json" "$(auth "$alice")"
expect 400 "a body over the API's 256 KiB limit answers 400"
call GET "$nginx/ping" "" "X-Request-Id: smoke-request-1"
expect 200 "GET /ping with a request id"
grep -qi '^x-request-id: smoke-request-1' "$work/headers" ||
  fail "the request id sent through nginx is not echoed: $(cat "$work/headers")"
ok "the client's X-Request-Id is passed through nginx and echoed"
call GET "$nginx/ping"
grep -qiE '^x-request-id: [0-9a-f]{32}' "$work/headers" ||
  fail "no request id made by nginx is echoed: $(cat "$work/headers")"
ok "without one, nginx's request id is used and echoed"
call GET "$nginx/metrics"
expect 404 "/metrics is not served through nginx"
call GET "http://127.0.0.1:${instance_ports[0]}/metrics"
expect 200 "/metrics on an instance"
grep -q '^messenger_http_requests_total{.*route="/v1/chats/{chat_id}/messages".*} [1-9]' <<<"$body" ||
  fail "/metrics does not count the message routes: $(head -c 2000 <<<"$body")"
ok "which counts requests by route template"
call GET "$nginx/no/such/route"
expect 404 "an unknown route answers 404 through nginx"
expect_field message not-found "with the not-found code"
call GET "$nginx/app/"
expect 200 "the web client is served through nginx"
grep -qi "^content-security-policy: default-src 'self'" "$work/headers" ||
  fail "the web client comes without its Content-Security-Policy: $(cat "$work/headers")"
ok "with its Content-Security-Policy"

# --- throttling: one account's burst, refused with 429 and Retry-After --------------------------
call POST "$nginx/v1/auth/register" '{"user_name":"smoke-carol","password":"carol-password"}'
expect 201 "register carol"
call POST "$nginx/v1/auth/login" '{"user_name":"smoke-carol","password":"carol-password"}'
expect 201 "login carol"
carol=$(field session_id)
# 300 requests from 16 threads: well over the burst of 100 and the refill of 100/s.
python3 - "$nginx/v1/chats" "$carol" >"$work/burst.txt" <<'PY'
import concurrent.futures, sys, urllib.error, urllib.request
url, token = sys.argv[1], sys.argv[2]
def one(_):
    req = urllib.request.Request(url, data=b'{"chat_name":"burst"}', method="POST", headers={
        "Authorization": f"session_id {token}", "Content-Type": "application/json"})
    try:
        with urllib.request.urlopen(req, timeout=10) as r:
            return r.status, None
    except urllib.error.HTTPError as e:
        return e.code, e.headers.get("Retry-After")
with concurrent.futures.ThreadPoolExecutor(16) as pool:
    answers = list(pool.map(one, range(300)))
print(sum(1 for s, _ in answers if s == 201), sum(1 for s, _ in answers if s == 429),
      sum(1 for s, _ in answers if s not in (201, 429)),
      min((int(r) for s, r in answers if s == 429 and r), default=0))
PY
read -r created refused other retry_after <"$work/burst.txt"
[ "$other" = 0 ] || fail "the burst got $other answers other than 201 and 429"
if [ "$created" -lt 100 ] || [ "$refused" -lt 1 ]; then
  fail "a burst of 300: $created created, $refused refused (expected at least 100 and 1)"
fi
ok "a burst of 300 from one account: $created created, $refused refused with 429"
[ "$retry_after" -ge 1 ] || fail "the 429 answers carry no Retry-After of at least 1"
ok "with Retry-After: $retry_after"

# --- /metrics on the instances (summed over them; nginx spreads the requests) ---------------
scrape() {
  local port
  rm -f "$work"/metrics-*.txt
  for port in "${instance_ports[@]}"; do
    curl -fsS --max-time 5 "http://127.0.0.1:$port/metrics" >"$work/metrics-$port.txt"
  done
}
# metric_sum NAME [LABEL-FRAGMENT...]: the sum of the matching series over the instances.
metric_sum() {
  python3 - "$work" "$@" <<'PY'
import glob, sys
work, name, fragments = sys.argv[1], sys.argv[2], sys.argv[3:]
total = 0.0
for path in glob.glob(f"{work}/metrics-*.txt"):
    for line in open(path):
        series, _, value = line.strip().rpartition(" ")
        if series.split("{")[0] == name and all(f in series for f in fragments):
            total += float(value)
print(int(total))
PY
}
# expect_metric MIN WHAT NAME [LABEL-FRAGMENT...]
expect_metric() {
  local min=$1 what=$2 got
  shift 2
  got=$(metric_sum "$@")
  [ "$got" -ge "$min" ] || fail "$what: $* sums to $got, expected at least $min"
  ok "$what ($* = $got)"
}
# A full page (2 of the chat's 3 messages), read twice: the second read is a cache hit.
for i in 1 2; do
  call GET "$nginx/v1/chats/$chat/messages?limit=2" "" "$(auth "$bob")"
  expect 200 "bob reads a full page (read $i)"
done
scrape
expect_metric 1 "requests counted by route template and status" \
  messenger_http_requests_total 'route="/v1/chats/{chat_id}/messages"' 'status="200"'
expect_metric 1 "latency histogram by route" \
  messenger_http_request_duration_seconds_count 'route="/v1/chats/{chat_id}/messages"'
expect_metric "$refused" "rate-limited requests" messenger_http_rate_limited_total 'route="/v1/chats"'
expect_metric 1 "page cache hits" messenger_cache_lookups_total 'cache="page"' 'result="hit"'
expect_metric 1 "session cache hits" messenger_cache_lookups_total 'cache="session"' 'result="hit"'
expect_metric 1 "search tasks created" messenger_search_tasks_total 'status="WAITING"'
expect_metric 1 "tasks published to the queue" messenger_queue_publishes_total 'result="ok"'
[ "$(metric_sum messenger_queue_publishes_total 'result="failed"')" = 0 ] ||
  fail "queue publishes failed"
ok "no queue publish failed"

# --- sessions across instances -------------------------------------------------------------
if [ "${#instance_ports[@]}" -ge 2 ]; then
  one="http://127.0.0.1:${instance_ports[0]}"
  two="http://127.0.0.1:${instance_ports[1]}"
  call POST "$one/v1/auth/login" '{"user_name":"smoke-alice","password":"alice-password"}'
  expect 201 "alice logs in on instance 1 directly"
  token=$(field session_id)
  call GET "$two/v1/chats/$chat/messages?limit=10" "" "$(auth "$token")"
  expect 200 "her session works on instance 2"
  for i in 1 2 3 4; do
    call GET "$nginx/v1/chats/$chat/messages?limit=10" "" "$(auth "$token")"
    expect 200 "and through nginx (request $i, round robin over both)"
  done
  call POST "$two/v1/auth/logout" "" "$(auth "$token")"
  expect 200 "she logs out on instance 2"
  call GET "$one/v1/chats/$chat/messages?limit=10" "" "$(auth "$token")"
  expect 401 "the token is refused on instance 1 afterwards"
  for i in 1 2; do
    call GET "$nginx/v1/chats/$chat/messages?limit=10" "" "$(auth "$token")"
    expect 401 "and through nginx (request $i)"
  done
else
  skipped+=("sessions across instances: the stack has one instance (services: '$services')")
fi

call POST "$nginx/v1/auth/logout" "" "$(auth "$alice")"
expect 200 "alice's first session logs out through nginx"

deploy/stack.sh status

for reason in "${skipped[@]}"; do echo "SKIPPED: $reason"; done
echo "stack smoke: $passed passed, 0 failed, ${#skipped[@]} skipped"
