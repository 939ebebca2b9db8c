//! Password hashers for tests that need hashing to take time.

use async_trait::async_trait;
use messenger_domain::Password;
use messenger_memory::PlainHasher;
use messenger_ports::{PasswordHasher, PortResult};
use std::time::Duration;

/// [`PlainHasher`] that takes `delay` per hash or check, as argon2 does (tens of
/// milliseconds): concurrent logins then overlap, so a limit checked before hashing and
/// counted after it can be seen to leak.
#[derive(Debug, Clone, Copy)]
pub struct SlowHasher {
    /// How long each hash or check takes.
    pub delay: Duration,
}

#[async_trait]
impl PasswordHasher for SlowHasher {
    async fn hash(&self, password: &Password) -> PortResult<String> {
        tokio::time::sleep(self.delay).await;
        PlainHasher.hash(password).await
    }

    async fn verify(&self, password: &Password, hash: &str) -> PortResult<bool> {
        tokio::time::sleep(self.delay).await;
        PlainHasher.verify(password, hash).await
    }
}
