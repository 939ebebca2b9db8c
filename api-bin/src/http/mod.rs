//! The HTTP side: the gate (route table, auth, throttling, body limit, request ids, access
//! log), error answers, and the assembly of the router around the poem-openapi service.

pub mod answers;
pub mod client_addr;
pub mod errors;
pub mod gate;
pub mod metrics;
pub mod payload;
pub mod routes;
pub mod security;

use self::metrics::Metrics;
use crate::{api, web};
use bytes::Bytes;
use errors::catchers;
use gate::{Gate, GateSettings};
use messenger_domain::Error;
use poem::middleware::CatchPanic;
use poem::{endpoint::make_sync, get, Endpoint, EndpointExt, Response, Route};
use std::sync::Arc;

/// The whole service: the gate around the router of the API, the spec, the docs, the
/// metrics and the web client.
pub fn endpoint(settings: GateSettings) -> impl Endpoint<Output = Response> {
    let service = api::service(&settings.messenger, settings.api.clone());
    let spec = Bytes::from(api::spec_json(&service));
    // The UI embeds the document; give it the served one (with the general answers).
    let docs = Bytes::from(service.swagger_ui_html().replace(
        &service.spec(),
        std::str::from_utf8(&spec).unwrap_or_default(),
    ));
    let docs_page = move |_| {
        Response::builder()
            .content_type("text/html; charset=utf-8")
            .body(docs.clone())
    };
    let metrics: Arc<Metrics> = Arc::clone(&settings.metrics);
    let router = Route::new()
        .at(
            "/openapi.json",
            get(make_sync(move |_| {
                Response::builder()
                    .content_type(errors::JSON)
                    .body(spec.clone())
            })),
        )
        // With and without the trailing slash: both are typed and linked.
        .at("/docs", get(make_sync(docs_page.clone())))
        .at("/docs/", get(make_sync(docs_page)))
        .at(
            "/metrics",
            get(make_sync(move |_| {
                Response::builder()
                    .content_type("text/plain; version=0.0.4")
                    .body(metrics.render())
            })),
        )
        // The web client (not part of the API, so not in the spec).
        .at("/app", get(web::to_app))
        .at("/app/", get(web::index))
        .at("/app/:file", get(web::file))
        .nest("/", service)
        .catch_error(catchers::payload)
        .catch_error(catchers::param)
        .catch_error(catchers::content_type)
        .catch_error(catchers::multipart)
        .catch_error(catchers::authorization)
        .catch_error(catchers::not_found)
        .catch_error(catchers::read_body)
        // A panicking handler is a bug: answer 500 in the contract's shape (the panic
        // message is on stderr), keep the connection, and let the gate log the request.
        .with(CatchPanic::new().with_handler(|_| {
            tracing::error!("a handler panicked; answering 500");
            errors::error_response(&Error::InternalError)
        }));
    // The root is claimed by the nest above (it registers the empty path too), so the
    // redirect to the client is answered in front of the router.
    Gate::new(web::Root(router), settings)
}
