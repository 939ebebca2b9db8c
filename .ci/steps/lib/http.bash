# Helpers for the black-box checks of .ci/steps/*.sh (sourced, not run: .ci/run runs only
# .ci/steps/*.sh). Needs curl and python3, and $work (a scratch directory).

passed=0

# call METHOD URL [JSON-BODY|@FILE] [HEADER...]: sets $code and $body ($work/headers: the
# answer's headers).
call() {
  local method=$1 url=$2 data=${3:-}
  shift 2
  [ "$#" -gt 0 ] && shift
  local -a args=(-sS -X "$method" -o "$work/body" -D "$work/headers" -w '%{http_code}' --max-time 15)
  [ -n "$data" ] && args+=(-H 'Content-Type: application/json' --data-binary "$data")
  local header
  for header in "$@"; do args+=(-H "$header"); done
  code=$(curl "${args[@]}" "$url") || code="curl-failed"
  body=$(cat "$work/body" 2>/dev/null || true)
}

# stop_server STATUS: stops the server whose PID is in $pid (TERM, KILL after 10 s), and
# when the step failed (STATUS is not 0) shows the end of $work/server.log.
stop_server() {
  local status=$1
  if [ -n "${pid:-}" ]; then
    kill -TERM "$pid" 2>/dev/null
    for _ in $(seq 100); do kill -0 "$pid" 2>/dev/null || break; sleep 0.1; done
    kill -KILL "$pid" 2>/dev/null
    wait "$pid" 2>/dev/null
  fi
  if [ "$status" -ne 0 ] && [ -s "$work/server.log" ]; then
    echo "--- last lines of the server's log"
    tail -n 30 "$work/server.log"
  fi
}

# ok WHAT: one more check passed.
ok() {
  passed=$((passed + 1))
  echo "ok   $1"
}

# fail WHAT: the step fails here.
fail() {
  echo "FAIL $1"
  exit 1
}

# expect CODE WHAT: the last call answered CODE.
expect() {
  [ "$code" = "$1" ] || fail "$2: expected $1, got $code: $body"
  ok "$2"
}

# field PATH: a value from the last JSON answer (`messages.0.text`; `messages.#`: how many).
field() {
  python3 -c '
import json, sys
value = json.loads(sys.argv[1])
for key in sys.argv[2].split("."):
    if key == "#":
        value = len(value)
    else:
        value = value[int(key)] if key.isdigit() else value[key]
print(value if not isinstance(value, (list, dict)) else json.dumps(value))
' "$body" "$1"
}

# expect_field PATH VALUE WHAT
expect_field() {
  local got
  got=$(field "$1")
  [ "$got" = "$2" ] || fail "$3: $1 is '$got', expected '$2' (answer: $body)"
  ok "$3"
}

# wait_search BASE TASK [HEADER...]: polls the task's status until SUCCESS or FAILED (at
# most 30 s); leaves the last status answer in $code/$body.
wait_search() {
  local base=$1 task=$2 status
  shift 2
  for _ in $(seq 150); do
    call GET "$base/v1/chats/search/status/$task" "" "$@"
    [ "$code" = 200 ] || return 0
    status=$(field status)
    case $status in SUCCESS | FAILED) return 0 ;; esac
    sleep 0.2
  done
}

auth() { echo "Authorization: session_id $1"; }
