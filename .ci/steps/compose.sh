#!/usr/bin/env bash
# Validates deploy/docker-compose.yml (there is no Docker engine here, so nothing is started):
#  1. `docker-compose config` from Debian's docker-compose package (installed here if
#     missing) with each env file meant for it, so interpolation and env_file paths are
#     checked too; the rendered file is then checked for the layout the deployment needs;
#  2. docker-compose or nginx missing and not installable: the check fails (see below);
#  3. deploy/nginx/nginx.conf with `nginx -t` (Debian's nginx, installed here if missing),
#     the replicas' host names pointed at 127.0.0.1 since they only resolve inside compose;
#  4. the env files: deploy/.env.example lists every variable the binaries declare, and the
#     others set no variable that nothing reads (a typo there would be ignored silently);
#  5. the environment the compose file gives messenger-api and messenger-worker (with
#     deploy/.env.prod) is a configuration they accept: each is started with it, the
#     services' host names pointed at a closed local port, until its first log line says
#     what it runs on; then it is stopped.
# When docker-compose or nginx is missing and cannot be installed, the check fails: the
# compose file and nginx.conf would otherwise go unchecked while CI reports success.
set -euo pipefail
cd "$(dirname "$0")/../.."

work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT

apt_updated=""
apt_install() { # package...: installs what is missing; returns 1 if a package can't be had
  local missing=()
  for pkg in "$@"; do
    # grep reads all its input (no -q): with pipefail, a writer cut off by an early exit
    # would fail the pipeline.
    dpkg-query -W -f='${Status}' "$pkg" 2>/dev/null | grep 'install ok installed' >/dev/null ||
      missing+=("$pkg")
  done
  [ "${#missing[@]}" -eq 0 ] && return 0
  if [ -z "$apt_updated" ]; then
    # Another apt run (or the daily timer) may hold the lock: wait for it, and try again.
    local try
    for try in 1 2 3; do
      if apt-get -o DPkg::Lock::Timeout=120 update -qq >/dev/null; then
        apt_updated=1
        break
      fi
      echo "apt-get update failed (try $try of 3)"
      sleep 5
    done
    [ -n "$apt_updated" ] || { echo "apt-get update kept failing"; return 1; }
  fi
  for pkg in "${missing[@]}"; do
    if ! apt-cache policy "$pkg" | grep 'Candidate: [0-9]' >/dev/null; then
      echo "Debian package $pkg is not available here"
      return 1
    fi
  done
  echo "installing ${missing[*]} from Debian's packages"
  DEBIAN_FRONTEND=noninteractive apt-get -o DPkg::Lock::Timeout=120 install -y -qq \
    --no-install-recommends "${missing[@]}" >/dev/null
}

# A python3 that has the yaml module: the one on PATH, Debian's (docker-compose brings
# python3-yaml), or a temporary venv with PyYAML from PyPI.
yaml_python=""
find_yaml_python() {
  [ -n "$yaml_python" ] && return 0
  for py in python3 /usr/bin/python3; do
    if "$py" -c 'import yaml' 2>/dev/null; then yaml_python=$py; return 0; fi
  done
  echo "installing PyYAML into a temporary venv"
  python3 -m venv "$work/venv"
  "$work/venv/bin/pip" install --quiet --disable-pip-version-check pyyaml
  yaml_python="$work/venv/bin/python3"
}

# The layout the deployment relies on, checked in the rendered (or raw) compose file.
check_layout() { # file
  find_yaml_python
  "$yaml_python" - "$1" <<'PY'
import sys, yaml

doc = yaml.safe_load(open(sys.argv[1]))
services = doc.get("services") or {}
problems = []
want = {"postgres", "redis", "rabbitmq", "api-1", "api-2", "worker", "nginx"}
missing = want - services.keys()
if missing:
    problems.append(f"services missing: {sorted(missing)}")

def healthchecked(name):
    svc = services.get(name, {})
    hc = svc.get("healthcheck")
    if hc is not None:
        return not hc.get("disable", False) and bool(hc.get("test"))
    # The API replicas inherit the image's HEALTHCHECK (deploy/Dockerfile).
    return svc.get("build") is not None and name.startswith("api-")

for name, svc in services.items():
    deps = svc.get("depends_on") or {}
    if isinstance(deps, list):
        problems.append(f"{name}: depends_on must name conditions, not a list")
        continue
    for dep, cond in deps.items():
        if dep not in services:
            problems.append(f"{name}: depends on unknown service {dep}")
        elif (cond or {}).get("condition") != "service_healthy":
            problems.append(f"{name}: waits for {dep} without condition service_healthy")
        elif not healthchecked(dep):
            problems.append(f"{name}: waits for {dep}, which has no health check")

for name in ("api-1", "api-2", "worker"):
    svc = services.get(name, {})
    if not svc.get("build"):
        problems.append(f"{name}: not built from deploy/Dockerfile")
    for dep in ("postgres", "redis", "rabbitmq"):
        if dep not in (svc.get("depends_on") or {}):
            problems.append(f"{name}: does not wait for {dep}")
worker_cmd = services.get("worker", {}).get("command")
if worker_cmd not in (["messenger-worker"], "messenger-worker"):
    problems.append(f"worker: command is {worker_cmd!r}, not messenger-worker")
for name in ("postgres", "redis", "rabbitmq"):
    if not services.get(name, {}).get("volumes"):
        problems.append(f"{name}: keeps no data volume")
nginx = services.get("nginx", {})
if not any("nginx.conf" in str(v) for v in nginx.get("volumes") or []):
    problems.append("nginx: deploy/nginx/nginx.conf is not mounted")
if not nginx.get("ports"):
    problems.append("nginx: publishes no port")

if problems:
    print("compose layout problems:")
    for p in problems:
        print("  -", p)
    sys.exit(1)
print(f"compose layout: {len(services)} services, start order and health checks consistent")
PY
}

if ! command -v docker-compose >/dev/null 2>&1 && ! apt_install docker-compose; then
  echo "docker-compose is not available and cannot be installed: deploy/docker-compose.yml cannot be checked"
  exit 1
fi
{
  docker-compose version --short
  # The production env file as shipped (secrets are placeholders) and a minimal one that
  # names only the required secrets, so the defaults of every ${...} are exercised.
  printf 'POSTGRES_PWD=p\nREDIS_PWD=r\nRMQ_PWD=q\nMESSENGER_ENV_FILE=.env.example\n' >"$work/minimal.env"
  for env_file in "$work/minimal.env" deploy/.env.prod; do
    echo "docker-compose config with --env-file $env_file"
    docker-compose --env-file "$env_file" -f deploy/docker-compose.yml config >"$work/rendered.yml"
    check_layout "$work/rendered.yml"
  done
  # $work/rendered.yml is now the production one (deploy/.env.prod): step 5 reads it.
  rendered_prod="$work/rendered.yml"
  # A missing secret must stop `up` with a message instead of starting with an empty password.
  printf 'REDIS_PWD=r\nRMQ_PWD=q\n' >"$work/no-db-password.env"
  if docker-compose --env-file "$work/no-db-password.env" -f deploy/docker-compose.yml config -q \
    >"$work/err.txt" 2>&1; then
    echo "docker-compose accepted a configuration without POSTGRES_PWD"
    exit 1
  fi
  grep -q POSTGRES_PWD "$work/err.txt"
  echo "without POSTGRES_PWD it refuses: $(tr -d '\n' <"$work/err.txt" | cut -c1-120)"
}

if ! command -v nginx >/dev/null 2>&1 && ! apt_install nginx; then
  echo "nginx is not available and cannot be installed: deploy/nginx/nginx.conf cannot be checked"
  exit 1
fi
sed -e 's/server api-[12]:8080/server 127.0.0.1:8080/' deploy/nginx/nginx.conf >"$work/nginx.conf"
nginx -t -q -c "$work/nginx.conf" -e "$work/error.log"
echo "deploy/nginx/nginx.conf: nginx -t passed ($(nginx -v 2>&1))"

# Variables the binaries declare: clap's `env = "NAME"`, direct `env::var("NAME")` reads, and
# the worker's own, read through a `var` function (`positive(&var, "NAME", …)`).
declared=$(grep -rhoE '(env = |env::var(_os)?\(|&var, )"[A-Z][A-Z0-9_]*"' api-bin/src wiring/src worker-bin/src |
  grep -oE '"[A-Z0-9_]+"' | tr -d '"' | sort -u)
[ -n "$declared" ] || { echo "found no variable declared in api-bin/src, wiring/src or worker-bin/src"; exit 1; }
# Read only by docker-compose.yml (interpolation), never by the binaries.
compose_only="RMQ_USER RMQ_PWD MESSENGER_ENV_FILE MESSENGER_IMAGE MESSENGER_HTTP_PORT MESSENGER_SUBNET"
env_problems=0
for var in $declared; do
  if ! grep -qE "^#?$var=" deploy/.env.example; then
    echo "deploy/.env.example does not document $var"
    env_problems=1
  fi
done
for file in deploy/.env.example deploy/.env.dev deploy/.env.prod deploy/.env.legacy; do
  for var in $(grep -oE '^#?[A-Z][A-Z0-9_]*=' "$file" | tr -d '#='); do
    if ! grep -qx "$var" <<<"$declared" && [[ " $compose_only " != *" $var "* ]]; then
      echo "$file sets $var, which nothing reads"
      env_problems=1
    fi
  done
done
[ "$env_problems" = 0 ] || exit 1
echo "env files: the $(wc -w <<<"$declared") declared variables are documented; no unknown ones are set"

# Step 5 reads the environment docker-compose rendered in step 1.
cargo build --quiet -p messenger-api -p messenger-worker
target_dir=$(cargo metadata --format-version 1 --no-deps |
  python3 -c 'import json, sys; print(json.load(sys.stdin)["target_directory"])')
find_yaml_python
"$yaml_python" - "$rendered_prod" "$target_dir/debug" <<'PY'
import json, os, select, subprocess, sys, yaml

services = yaml.safe_load(open(sys.argv[1]))["services"]
bin_dir = sys.argv[2]
# What each binary's first log line must say with the production settings.
expected = {
    "api-1": ("messenger-api", "storage in PostgreSQL; sessions, limits and task state in Redis; "
              "search queue in RabbitMQ"),
    "worker": ("messenger-worker", "messenger-worker: search tasks from RabbitMQ"),
}
for name, (binary, says) in expected.items():
    env = {k: str(v) for k, v in (services[name].get("environment") or {}).items()}
    # Only reachable inside compose: point them at a closed port here (nothing is contacted),
    # and listen on loopback, on a port of the system's choosing.
    env["POSTGRES_HOSTS"] = "127.0.0.1:9"
    env["REDIS_URL"] = env["REDIS_URL"].replace("//redis:6379", "//127.0.0.1:9")
    env["RMQ_URL"] = env["RMQ_URL"].replace("@rabbitmq:5672", "@127.0.0.1:9")
    env.update(HOST="127.0.0.1", PORT="0", PATH=os.environ["PATH"])
    proc = subprocess.Popen([os.path.join(bin_dir, binary)], env=env, cwd="/",
                            stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    try:
        ready, _, _ = select.select([proc.stdout], [], [], 15)
        first = proc.stdout.readline() if ready else ""
    finally:
        proc.terminate()
        try:
            proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()
    try:
        message = json.loads(first)["message"]
    except (ValueError, KeyError):
        sys.exit(f"{name}: {binary} refused the compose environment, or did not log JSON "
                 f"(LOG_FORMAT=json): {first!r}")
    if says not in message:
        sys.exit(f"{name}: the first log line does not say {says!r}: {message!r}")
    print(f"{name}: {binary} accepts the compose environment: {message}")
PY
