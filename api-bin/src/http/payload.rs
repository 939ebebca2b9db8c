//! A JSON answer serialised by serde straight from the use case's data, documented in the
//! spec by a separate schema type.
//!
//! poem-openapi's `Json<T>` turns `T` into a `serde_json::Value` tree first, which for a
//! 100-message page means hundreds of small allocations per request; pages are the hot
//! path, so they borrow the messages and write the bytes directly. A test parses the
//! output with the schema type, so the two cannot drift apart.

use super::errors::JSON;
use bytes::Bytes;
use messenger_domain::Timestamp;
use poem::{IntoResponse, Response};
use poem_openapi::{
    payload::Payload,
    registry::{MetaSchemaRef, Registry},
    types::Type,
};
use serde::Serialize;
use std::marker::PhantomData;

/// A JSON answer: `V` is written with serde (or was, earlier: see [`SerdeJson::rendered`]),
/// `S` is what the spec says it is.
pub struct SerdeJson<S, V> {
    body: Body<V>,
    schema: PhantomData<fn() -> S>,
}

enum Body<V> {
    Value { value: V, size_hint: usize },
    Rendered(Bytes),
}

impl<S, V> SerdeJson<S, V> {
    /// Wraps `value`; `size_hint` is the expected size in bytes (to allocate once).
    pub fn new(value: V, size_hint: usize) -> Self {
        Self {
            body: Body::Value { value, size_hint },
            schema: PhantomData,
        }
    }

    /// An answer already written (by [`render`] of the same kind of value).
    pub fn rendered(bytes: Bytes) -> Self {
        Self {
            body: Body::Rendered(bytes),
            schema: PhantomData,
        }
    }
}

/// Writes `value` as JSON, reserving `size_hint` bytes.
///
/// # Errors
/// When `value` refuses to serialise.
pub fn render<V: Serialize>(value: &V, size_hint: usize) -> serde_json::Result<Bytes> {
    let mut buf = Vec::with_capacity(size_hint);
    serde_json::to_writer(&mut buf, value)?;
    Ok(Bytes::from(buf))
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
        let rendered = match self.body {
            Body::Rendered(bytes) => Ok(bytes),
            Body::Value { value, size_hint } => render(&value, size_hint),
        };
        match rendered {
            Ok(bytes) => Response::builder().content_type(JSON).body(bytes),
            Err(e) => {
                tracing::error!(error = %e, "could not serialise an answer");
                super::errors::error_response(&messenger_domain::Error::InternalError)
            }
        }
    }
}

/// An id as the API writes it: 32 lowercase hex digits, formatted without `core::fmt`
/// (pages write 200 of them).
pub struct Hex(pub u128);

impl Serialize for Hex {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        let buf = hex32(self.0);
        s.serialize_str(std::str::from_utf8(&buf).map_err(serde::ser::Error::custom)?)
    }
}

/// 32 lowercase hex digits of `v`.
pub fn hex32(v: u128) -> [u8; 32] {
    const DIGITS: &[u8; 16] = b"0123456789abcdef";
    let mut out = [0u8; 32];
    for (i, b) in v.to_be_bytes().iter().enumerate() {
        out[2 * i] = DIGITS[usize::from(b >> 4)];
        out[2 * i + 1] = DIGITS[usize::from(b & 0x0f)];
    }
    out
}

/// A timestamp as the API writes it (RFC 3339, UTC, microseconds: the domain's `Display`),
/// formatted without `core::fmt`.
pub struct Rfc3339(pub Timestamp);

impl Serialize for Rfc3339 {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        match rfc3339(self.0) {
            Some(buf) => {
                s.serialize_str(std::str::from_utf8(&buf).map_err(serde::ser::Error::custom)?)
            }
            // Outside years 0–9999: the domain's own formatting.
            None => s.collect_str(&self.0),
        }
    }
}

/// `YYYY-MM-DDTHH:MM:SS.ffffffZ` for years 0–9999.
pub fn rfc3339(ts: Timestamp) -> Option<[u8; 27]> {
    let micros = ts.as_micros();
    let secs = micros.div_euclid(1_000_000);
    let frac = micros.rem_euclid(1_000_000);
    let days = secs.div_euclid(86_400);
    let sod = secs.rem_euclid(86_400);
    // Civil date from days since 1970-01-01 (Howard Hinnant's algorithm).
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z.rem_euclid(146_097);
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let day = doy - (153 * mp + 2) / 5 + 1;
    let month = if mp < 10 { mp + 3 } else { mp - 9 };
    let year = yoe + era * 400 + i64::from(month <= 2);
    if !(0..=9999).contains(&year) {
        return None;
    }
    let mut out = *b"0000-00-00T00:00:00.000000Z";
    let mut put = |at: usize, width: usize, mut v: i64| {
        for i in (at..at + width).rev() {
            out[i] = b'0' + u8::try_from(v % 10).unwrap_or(0);
            v /= 10;
        }
    };
    put(0, 4, year);
    put(5, 2, month);
    put(8, 2, day);
    put(11, 2, sod / 3600);
    put(14, 2, sod % 3600 / 60);
    put(17, 2, sod % 60);
    put(20, 6, frac);
    Some(out)
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ids_are_32_lowercase_hex_digits_as_the_domain_shows_them() {
        for v in [
            0u128,
            1,
            u128::MAX,
            0x0123_4567_89ab_cdef_fedc_ba98_7654_3210,
        ] {
            let id = messenger_domain::ChatId::from_u128(v);
            assert_eq!(std::str::from_utf8(&hex32(v)).unwrap(), id.to_string());
        }
    }

    #[test]
    fn timestamps_are_written_as_the_domain_shows_them() {
        let mut samples = vec![
            0,
            -1,
            1,
            951_782_400_000_000, // 2000-02-29
            1_795_766_686_123_456,
            253_402_300_799_999_999, // 9999-12-31T23:59:59.999999
            -62_167_219_200_000_000, // 0000-01-01
        ];
        // A walk over many days, leap years and times of day.
        let mut t: i64 = -2_208_988_800_000_000; // 1900
        while t < 4_102_444_800_000_000 {
            samples.push(t);
            t += 86_399_999_937;
        }
        for us in samples {
            let ts = Timestamp::from_micros(us);
            let fast = rfc3339(ts).unwrap();
            assert_eq!(std::str::from_utf8(&fast).unwrap(), ts.to_rfc3339(), "{us}");
        }
        assert!(rfc3339(Timestamp::from_micros(253_402_300_800_000_000)).is_none());
    }
}
