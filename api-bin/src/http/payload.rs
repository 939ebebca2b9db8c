//! A JSON answer serialised by serde straight from the use case's data, documented in the
//! spec by a separate schema type.
//!
//! poem-openapi's `Json<T>` turns `T` into a `serde_json::Value` tree first, which for a
//! 100-message page means hundreds of small allocations per request; pages are the hot
//! path, so they borrow the messages and write the bytes directly. A test parses the
//! output with the schema type, so the two cannot drift apart.

use super::errors::JSON;
use poem::{IntoResponse, Response};
use poem_openapi::{
    payload::Payload,
    registry::{MetaSchemaRef, Registry},
    types::Type,
};
use serde::Serialize;
use std::marker::PhantomData;

/// A JSON answer: `V` is written with serde, `S` is what the spec says it is.
pub struct SerdeJson<S, V> {
    value: V,
    size_hint: usize,
    schema: PhantomData<fn() -> S>,
}

impl<S, V> SerdeJson<S, V> {
    /// Wraps `value`; `size_hint` is the expected size in bytes (to allocate once).
    pub fn new(value: V, size_hint: usize) -> Self {
        Self {
            value,
            size_hint,
            schema: PhantomData,
        }
    }
}

impl<S: Type, V: Send> Payload for SerdeJson<S, V> {
    const CONTENT_TYPE: &'static str = JSON;

    fn schema_ref() -> MetaSchemaRef {
        S::schema_ref()
    }

    fn register(registry: &mut Registry) {
        S::register(registry);
    }
}

impl<S, V: Serialize + Send> IntoResponse for SerdeJson<S, V> {
    fn into_response(self) -> Response {
        let mut buf = Vec::with_capacity(self.size_hint);
        match serde_json::to_writer(&mut buf, &self.value) {
            Ok(()) => Response::builder().content_type(JSON).body(buf),
            Err(e) => {
                tracing::error!(error = %e, "could not serialise an answer");
                super::errors::error_response(&messenger_domain::Error::InternalError)
            }
        }
    }
}

/// Serialises any `Display` value as a JSON string without an intermediate `String`
/// (ids, timestamps).
pub struct AsStr<'a, T>(pub &'a T);

impl<T: std::fmt::Display> Serialize for AsStr<'_, T> {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.collect_str(self.0)
    }
}

/// `{"iterator": "<cursor>"}`.
pub struct NextView<'a>(pub &'a str);

impl Serialize for NextView<'_> {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        use serde::ser::SerializeStruct;
        let mut st = s.serialize_struct("Next", 1)?;
        st.serialize_field("iterator", self.0)?;
        st.end()
    }
}
