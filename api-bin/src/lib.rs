//! `messenger-api`: the HTTP adapter of the messenger (poem + poem-openapi) and the
//! binary's entry points. Configuration, adapter selection, port decorators, background jobs
//! and logging set-up live in `messenger-wiring`, the composition root it shares with
//! `messenger-worker`.
//!
//! Layout:
//! - `cli` — the command line (`serve`, `healthcheck`, `migrate`);
//! - `app` — [`App`]: build (wire, start jobs, bind), run until shutdown;
//! - `api` — one poem-openapi area per file (health, auth, chats, search), the spec;
//! - `web` — the web client (`api-bin/web/`, compiled in), served at `/app/`;
//! - `http` — the gate (route table → auth → throttling → body limit, request ids, access
//!   log, timeouts), error answers, request metrics.
//!
//! Tests drive the library: `App::build(config, overrides)` on port 0, `App::run` with a
//! shutdown future, `App::messenger()` for direct use-case calls.

pub mod api;
mod app;
pub mod cli;
pub mod healthcheck;
pub mod http;
pub mod web;

pub use app::App;
pub use messenger_wiring::{config, logging, Config, ConfigError, Overrides, StartError};
