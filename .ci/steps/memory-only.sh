#!/usr/bin/env bash
# The README's first command builds messenger-api without its backends
# (`--no-default-features`: no PostgreSQL, Redis or RabbitMQ client, no TLS stack). This
# checks that build: it is lint-clean (all targets), its configuration tests pass, none of
# the backends' crates is in its dependency tree, it serves in memory, and each backend's
# variable stops it at start-up (exit status 1) with the error that names the variable and
# the cargo feature to build it with, not a confusing other one. `migrate` says the same.
#
# It builds in the usual target directory: the other feature set gives the crates whose
# features differ artifacts of their own (nothing the default build made is invalidated),
# and the crates they share are built once. Only target/debug/messenger-api, the binary
# cargo copies into place, is swapped: the step puts back the one that was there.
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
cd "$here/../.."

READY_LIMIT_SECS=30
work=$(mktemp -d)
pid=""
target_dir=$(cargo metadata --format-version 1 --no-deps |
  python3 -c 'import json, sys; print(json.load(sys.stdin)["target_directory"])')
placed="$target_dir/debug/messenger-api"

# shellcheck source-path=SCRIPTDIR source=lib/http.bash
source "$here/lib/http.bash"

cleanup() {
  local status=$?
  set +e
  stop_server "$status"
  # The default build's binary back in place for whatever runs it next.
  if [ -e "$work/previous-binary" ]; then
    mv -f "$work/previous-binary" "$placed"
  fi
  rm -rf "$work"
  exit "$status"
}
trap cleanup EXIT

cargo clippy --quiet -p messenger-api --no-default-features --all-targets -- -D warnings
ok "cargo clippy -p messenger-api --no-default-features --all-targets: no warning"

# The configuration's own tests of a build without backends (NotBuiltIn, variables still
# read); the workspace's test run has every backend built in.
if ! cargo test --quiet -p messenger-wiring --no-default-features --lib config:: \
  >"$work/config-tests.log" 2>&1; then
  cat "$work/config-tests.log"
  fail "messenger-wiring's configuration tests without backends"
fi
ok "messenger-wiring's configuration tests without backends: $(grep -E '^test result:' "$work/config-tests.log")"

tree=$(cargo tree -p messenger-api --no-default-features -e normal --prefix none)
for crate in fred lapin amq-protocol tokio-postgres deadpool-postgres rustls ring \
  messenger-postgres messenger-redis messenger-rabbitmq messenger-tls; do
  ! grep -q "^$crate v" <<<"$tree" || fail "$crate is in the dependency tree of the memory-only build"
done
ok "no backend client, TLS stack or backend adapter in its dependency tree"

if [ -e "$placed" ]; then cp -p "$placed" "$work/previous-binary"; fi
cargo build --quiet -p messenger-api --no-default-features
cp "$placed" "$work/messenger-api"
bin="$work/messenger-api"

# --- in memory: serves, and says so first ----------------------------------------------------
port=$(python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
base="http://127.0.0.1:$port"
# An empty environment (no backend variable from the caller's shell), run where no .env is.
(cd "$work" && exec env -i PATH="$PATH" HOME="${HOME:-/}" HOST=127.0.0.1 PORT="$port" \
  RUST_LOG=info "$bin" >"$work/server.log" 2>&1) &
pid=$!
started=$SECONDS
until curl -fsS -o /dev/null --max-time 1 "$base/ping" 2>/dev/null; do
  kill -0 "$pid" 2>/dev/null || fail "messenger-api exited at start"
  [ $((SECONDS - started)) -lt "$READY_LIMIT_SECS" ] || fail "no answer within ${READY_LIMIT_SECS}s"
  sleep 0.1
done
call GET "$base/ping"
expect 200 "GET /ping"
head -n 1 "$work/server.log" | grep -q 'running fully in memory' ||
  fail "the first log line does not say it runs in memory: $(head -n 1 "$work/server.log")"
ok "the first log line says it runs fully in memory"
call POST "$base/v1/auth/register" '{"user_name":"memory-only","password":"memory-only-password"}'
expect 201 "register"
call POST "$base/v1/auth/login" '{"user_name":"memory-only","password":"memory-only-password"}'
expect 201 "log in"
token=$(field session_id)
call POST "$base/v1/chats" '{"chat_name":"in memory"}' "$(auth "$token")"
expect 201 "create a chat"

kill -TERM "$pid"
for _ in $(seq 100); do kill -0 "$pid" 2>/dev/null || break; sleep 0.1; done
if kill -0 "$pid" 2>/dev/null; then fail "still running 10 s after SIGTERM"; fi
wait "$pid" && status=0 || status=$?
pid=""
[ "$status" -eq 0 ] || fail "exit status $status after SIGTERM"
ok "stops on SIGTERM with status 0"

# --- a backend's variable: refused at start-up, naming it and the feature --------------------
# refused FEATURE VARIABLE [VAR=VALUE...] [-- ARG...]: runs the binary with exactly those
# variables; it must exit 1 at once, its error naming VARIABLE and `--features FEATURE`,
# without echoing the URLs (they hold passwords).
refused() {
  local feature=$1 variable=$2 status
  shift 2
  local -a vars=() args=()
  while [ "$#" -gt 0 ] && [ "$1" != "--" ]; do vars+=("$1"); shift; done
  [ "$#" -gt 0 ] && shift
  args=("$@")
  (cd "$work" && exec timeout 20 env -i PATH="$PATH" HOME="${HOME:-/}" HOST=127.0.0.1 \
    PORT="$port" "${vars[@]}" "$bin" "${args[@]}" >"$work/out" 2>"$work/err") &&
    status=0 || status=$?
  local what="${vars[*]%%=*}${args[*]:+${vars[*]:+ }messenger-api ${args[*]}}"
  [ "$status" -eq 1 ] || fail "$what: exit status $status, expected 1 (stderr: $(cat "$work/err"))"
  grep -q -- "$variable" "$work/err" && grep -q -- "--features $feature" "$work/err" &&
    grep -q -- "was built without" "$work/err" ||
    fail "$what: the error does not name $variable and --features $feature: $(cat "$work/err")"
  ! grep -q -e guest -e secret "$work/err" || fail "$what: the error echoes a password"
  ok "$what: exit 1, \"$(head -c 100 "$work/err")…\""
}

refused postgres DATABASE_URL DATABASE_URL=postgres://root:secret@127.0.0.1:5432/test
refused postgres POSTGRES_HOSTS POSTGRES_HOSTS=127.0.0.1 POSTGRES_PWD=secret
refused redis REDIS_URL REDIS_URL=redis://:secret@127.0.0.1:6379
# A queue alone would need PostgreSQL and Redis: the error is still that it is not built in.
refused rabbitmq AMQP_URL 'AMQP_URL=amqp://guest:guest@127.0.0.1:5672/%2f'
refused rabbitmq RMQ_URL 'RMQ_URL=amqp://guest:guest@127.0.0.1:5672/%2f'
# The whole production set: the first backend read is named.
refused postgres DATABASE_URL DATABASE_URL=postgres://root@127.0.0.1:5432/test \
  REDIS_URL=redis://127.0.0.1:6379 'AMQP_URL=amqp://guest:guest@127.0.0.1:5672/%2f'
refused redis REDIS_URL REDIS_URL=redis://127.0.0.1:6379 CACHE_TYPE=redis
refused postgres PostgreSQL -- migrate up

echo "memory-only build: $passed passed, 0 failed"
