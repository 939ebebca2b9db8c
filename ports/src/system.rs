//! System ports: password hashing, time and ids, so tests control all three.

use crate::PortResult;
use async_trait::async_trait;
use messenger_domain::{Password, Timestamp};

/// Password hashing (argon2id in production; a fast one in tests).
#[async_trait]
pub trait PasswordHasher: Send + Sync + 'static {
    /// A PHC string for `password`.
    ///
    /// # Errors
    /// [`crate::PortError::Unavailable`] when no hashing capacity frees up in time
    /// (a login flood must not queue without bound).
    async fn hash(&self, password: &Password) -> PortResult<String>;

    /// Whether `password` matches the PHC string `hash`.
    ///
    /// # Errors
    /// As [`PasswordHasher::hash`]; [`crate::PortError::Internal`] for a corrupt hash.
    async fn verify(&self, password: &Password, hash: &str) -> PortResult<bool>;
}

/// The current time.
pub trait Clock: Send + Sync + 'static {
    /// Now, in UTC.
    fn now(&self) -> Timestamp;
}

/// Fresh ids and token bytes.
pub trait IdGenerator: Send + Sync + 'static {
    /// A new 128-bit id (a random UUID v4 in production), never repeated.
    fn new_id(&self) -> u128;

    /// 16 bytes for a session token, from the OS RNG in production.
    fn token_bytes(&self) -> [u8; 16];
}
