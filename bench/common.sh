# Sourced by bench/sizes.sh, bench/writes.sh and bench/post_cost.sh: quiet
# psql notices, the repository as the working directory, and the binaries and database
# they use: $api and $bench from BIN_DIR (default: the target directory's release/), $db
# from DATABASE_URL_BENCH (default: the local `test` database). Stops when a binary is
# missing.
export PGOPTIONS="${PGOPTIONS:-} -c client_min_messages=warning"
repo=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
cd "$repo"
bin=${BIN_DIR:-${CARGO_TARGET_DIR:-$repo/target}/release}
api=$bin/messenger-api
bench=$bin/messenger-bench
db=${DATABASE_URL_BENCH:-postgres://root@127.0.0.1:5432/test}
for exe in "$api" "$bench"; do
    [[ -x "$exe" ]] || { echo "no $exe (build it, or set BIN_DIR)" >&2; exit 2; }
done
