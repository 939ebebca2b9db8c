//! Between domain values and column values: ids are `uuid`, times `bigint` microseconds,
//! sequence numbers `bigint`.

use messenger_ports::PortError;
use uuid::Uuid;

/// An id's column value.
pub(crate) fn uuid(v: u128) -> Uuid {
    Uuid::from_u128(v)
}

/// A sequence number read from a column (never negative unless the data is corrupt).
pub(crate) fn seq(v: i64) -> Result<u64, PortError> {
    u64::try_from(v).map_err(|_| PortError::Internal(format!("negative sequence number {v}")))
}

/// A sequence-number bound for a query; numbers past `i64::MAX` cannot exist in a column,
/// so they clamp.
pub(crate) fn seq_param(v: u64) -> i64 {
    i64::try_from(v).unwrap_or(i64::MAX)
}

/// Reading columns without panicking: a type mismatch is a bug reported as `Internal`.
pub(crate) trait RowExt {
    /// Column `idx` as `T`.
    fn col<'a, T: tokio_postgres::types::FromSql<'a>>(&'a self, idx: usize)
        -> Result<T, PortError>;
}

impl RowExt for tokio_postgres::Row {
    fn col<'a, T: tokio_postgres::types::FromSql<'a>>(
        &'a self,
        idx: usize,
    ) -> Result<T, PortError> {
        self.try_get(idx)
            .map_err(|e| PortError::Internal(format!("reading column {idx}: {e}")))
    }
}
