#!/usr/bin/env bash
# The web client tested in a real browser: Debian's chromium (installed from Debian's
# packages when missing) driven by playwright-core (npm ci in tests/browser; nothing
# downloads a browser), against the messenger-api binary the test run built (debug).
# The restart scenario runs the service on PostgreSQL (MESSENGER_TEST_DATABASE_URL, a
# schema of its own per run, dropped afterwards). On failure the screenshots of the pages
# and the services' logs are in target/browser-artifacts/ (their paths are printed).
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
cd "$here/../.."

export PLAYWRIGHT_SKIP_BROWSER_DOWNLOAD=1
export CHROMIUM_PATH=${CHROMIUM_PATH:-/usr/bin/chromium}
export MESSENGER_TEST_DATABASE_URL="${MESSENGER_TEST_DATABASE_URL:-postgres://root@127.0.0.1:5432/test}"

# Installs the Debian packages given that are missing (apt may be busy: wait for its lock).
apt_install() {
  local missing=() pkg
  for pkg in "$@"; do
    # grep reads all its input (no -q): with pipefail, a writer cut off early would fail.
    dpkg-query -W -f='${Status}' "$pkg" 2>/dev/null | grep 'install ok installed' >/dev/null ||
      missing+=("$pkg")
  done
  [ "${#missing[@]}" -eq 0 ] && return 0
  local try updated=""
  for try in 1 2 3; do
    if apt-get -o DPkg::Lock::Timeout=120 update -qq >/dev/null; then
      updated=1
      break
    fi
    echo "apt-get update failed (try $try of 3)"
    sleep 5
  done
  [ -n "$updated" ] || { echo "apt-get update kept failing"; return 1; }
  echo "installing ${missing[*]} from Debian's packages"
  DEBIAN_FRONTEND=noninteractive apt-get -o DPkg::Lock::Timeout=120 install -y -qq \
    --no-install-recommends "${missing[@]}" >/dev/null
}

[ -x "$CHROMIUM_PATH" ] || apt_install chromium
command -v node >/dev/null && command -v npm >/dev/null || apt_install nodejs npm
"$CHROMIUM_PATH" --version
echo "node $(node --version)"

target_dir=$(cargo metadata --format-version 1 --no-deps |
  python3 -c 'import json, sys; print(json.load(sys.stdin)["target_directory"])')
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
if [ -z "${MESSENGER_API_BIN:-}" ]; then
  # The test run built it already; this only makes sure (and is quick when it is current).
  cargo build --quiet -p messenger-api
  # A copy: the restart scenario starts it again later, and a build elsewhere into the
  # same target directory must not swap it in the meantime.
  cp "$target_dir/debug/messenger-api" "$work/messenger-api"
  export MESSENGER_API_BIN="$work/messenger-api"
fi
export BROWSER_ARTIFACTS="${BROWSER_ARTIFACTS:-$target_dir/browser-artifacts}"
mkdir -p "$BROWSER_ARTIFACTS"
find "$BROWSER_ARTIFACTS" -maxdepth 1 -type f \( -name '*.png' -o -name '*.log' \) -delete

cd tests/browser
npm ci --no-audit --no-fund --loglevel=error
if ! npm test; then
  echo "browser tests failed; screenshots and logs:"
  find "$BROWSER_ARTIFACTS" -type f | sort
  exit 1
fi
