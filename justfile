# Everyday commands. The README's two set-up commands (run, test) need only cargo.

set dotenv-load := false

pg_url := env_var_or_default("MESSENGER_TEST_DATABASE_URL", "postgres://root@127.0.0.1:5432/test")
redis_url := env_var_or_default("MESSENGER_TEST_REDIS_URL", "redis://127.0.0.1:6379")
amqp_url := env_var_or_default("MESSENGER_TEST_AMQP_URL", "amqp://guest:guest@127.0.0.1:5672/%2f")

# List the recipes.
default:
    @just --list

# Run the API fully in memory on http://127.0.0.1:8080 (docs at /docs), built without the
# PostgreSQL, Redis and RabbitMQ adapters (a first build takes about half as long).
run:
    cargo run --release -p messenger-api --no-default-features

# Run the API on the local PostgreSQL (in-process cache, limiter and search worker).
run-pg:
    DATABASE_URL={{pg_url}} cargo run --release -p messenger-api

# Two API instances, a worker and nginx on :8080 over the local services.
stack:
    bash deploy/stack.sh up

# Stop what `just stack` started.
stack-down:
    bash deploy/stack.sh down

# The test suite (real-service tests skip unless their variables are set).
test:
    cargo test --workspace

# The test suite against the local PostgreSQL, Redis and RabbitMQ.
test-all:
    MESSENGER_TEST_DATABASE_URL={{pg_url}} MESSENGER_TEST_REDIS_URL={{redis_url}} MESSENGER_TEST_AMQP_URL={{amqp_url}} cargo test --workspace

# The web client's tests in a real browser (installs chromium and the npm packages if missing).
browser-test:
    bash .ci/steps/browser.sh

# Formatting and lints, as CI checks them.
lint:
    cargo fmt --all -- --check
    cargo clippy --workspace --all-targets -- -D warnings

# Format the code.
fmt:
    cargo fmt --all

# The load benchmark against an in-memory server and the bare poem server (see bench/README.md).
bench:
    bash bench/run.sh

# Regenerate the committed OpenAPI document from the code.
spec:
    UPDATE_OPENAPI=1 cargo test -p messenger-api --test spec

# Apply (up), roll back (down) or list (status) the PostgreSQL migrations.
migrate action="up":
    DATABASE_URL={{pg_url}} cargo run -p messenger-api -- migrate {{action}}

# Line coverage of the test suite (installs cargo-tarpaulin from crates.io on first use).
coverage:
    command -v cargo-tarpaulin >/dev/null || cargo install --locked cargo-tarpaulin
    cargo tarpaulin --workspace --skip-clean --out Stdout

# Build the container image (needs a Docker engine).
docker-build:
    docker build -f deploy/Dockerfile -t messenger:latest .

# Everything CI runs.
ci:
    bash .ci/run
