//! System ports: the argon2id hasher, clocks and id generators (real ones and test doubles).

use argon2::password_hash::{PasswordHash, PasswordHasher as _, PasswordVerifier, SaltString};
use async_trait::async_trait;
use messenger_domain::{Password, Timestamp};
use messenger_ports::{Clock, IdGenerator, PasswordHasher, PortError, PortResult};
use std::sync::{
    atomic::{AtomicI64, AtomicU64, Ordering},
    Arc,
};
use std::time::{Duration, SystemTime, UNIX_EPOCH};
use tokio::sync::Semaphore;

/// Argon2id with the OWASP parameters (m = 19456 KiB, t = 2, p = 1), run on the blocking
/// pool behind a small semaphore: a login flood queues for a permit (at most
/// `permit_wait`, then 503) instead of starving the async workers.
#[derive(Clone)]
pub struct Argon2Hasher {
    permits: Arc<Semaphore>,
    permit_wait: Duration,
}

impl Argon2Hasher {
    /// At most `max_concurrent` hashes at once; a caller waits at most `permit_wait`.
    pub fn new(max_concurrent: usize, permit_wait: Duration) -> Self {
        Self {
            permits: Arc::new(Semaphore::new(max_concurrent.max(1))),
            permit_wait,
        }
    }

    async fn run<T: Send + 'static>(
        &self,
        job: impl FnOnce() -> PortResult<T> + Send + 'static,
    ) -> PortResult<T> {
        let permit =
            tokio::time::timeout(self.permit_wait, Arc::clone(&self.permits).acquire_owned())
                .await
                .map_err(|_| PortError::Unavailable("no password-hashing capacity in time".into()))?
                .map_err(|_| PortError::Internal("hashing semaphore closed".into()))?;
        let out = tokio::task::spawn_blocking(move || {
            let r = job();
            drop(permit);
            r
        })
        .await
        .map_err(|e| PortError::Internal(format!("hashing task failed: {e}")))?;
        out
    }
}

#[async_trait]
impl PasswordHasher for Argon2Hasher {
    async fn hash(&self, password: &Password) -> PortResult<String> {
        let password = password.clone();
        let mut salt = [0u8; 16];
        getrandom::fill(&mut salt).map_err(|e| PortError::Internal(format!("OS RNG: {e}")))?;
        self.run(move || {
            let salt = SaltString::encode_b64(&salt)
                .map_err(|e| PortError::Internal(format!("salt: {e}")))?;
            argon2::Argon2::default()
                .hash_password(password.expose().as_bytes(), &salt)
                .map(|h| h.to_string())
                .map_err(|e| PortError::Internal(format!("argon2: {e}")))
        })
        .await
    }

    async fn verify(&self, password: &Password, hash: &str) -> PortResult<bool> {
        let password = password.clone();
        let hash = hash.to_owned();
        self.run(move || {
            let parsed = PasswordHash::new(&hash)
                .map_err(|e| PortError::Internal(format!("stored hash: {e}")))?;
            match argon2::Argon2::default().verify_password(password.expose().as_bytes(), &parsed) {
                Ok(()) => Ok(true),
                Err(argon2::password_hash::Error::Password) => Ok(false),
                Err(e) => Err(PortError::Internal(format!("argon2: {e}"))),
            }
        })
        .await
    }
}

/// A fast, insecure hasher for tests (never for production: it is a reversible marker).
#[derive(Debug, Clone, Copy, Default)]
pub struct PlainHasher;

#[async_trait]
impl PasswordHasher for PlainHasher {
    async fn hash(&self, password: &Password) -> PortResult<String> {
        Ok(format!("plain:{}", password.expose()))
    }

    async fn verify(&self, password: &Password, hash: &str) -> PortResult<bool> {
        Ok(hash.strip_prefix("plain:") == Some(password.expose()))
    }
}

/// The system clock.
#[derive(Debug, Clone, Copy, Default)]
pub struct SystemClock;

impl Clock for SystemClock {
    fn now(&self) -> Timestamp {
        let us = SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .map(|d| i64::try_from(d.as_micros()).unwrap_or(i64::MAX))
            .unwrap_or(0);
        Timestamp::from_micros(us)
    }
}

/// A clock that moves only when told (tests never sleep).
#[derive(Debug, Default)]
pub struct ManualClock {
    now: AtomicI64,
}

impl ManualClock {
    /// A clock showing `start`.
    pub fn new(start: Timestamp) -> Self {
        Self {
            now: AtomicI64::new(start.as_micros()),
        }
    }

    /// Moves the clock forward by `d`.
    pub fn advance(&self, d: Duration) {
        let us = i64::try_from(d.as_micros()).unwrap_or(i64::MAX);
        self.now.fetch_add(us, Ordering::SeqCst);
    }

    /// Sets the clock (also backwards, to test rules about time running backwards).
    pub fn set(&self, t: Timestamp) {
        self.now.store(t.as_micros(), Ordering::SeqCst);
    }
}

impl Clock for ManualClock {
    fn now(&self) -> Timestamp {
        Timestamp::from_micros(self.now.load(Ordering::SeqCst))
    }
}

/// Random UUID v4 ids and OS-RNG token bytes.
#[derive(Debug, Clone, Copy, Default)]
pub struct RandomIds;

impl IdGenerator for RandomIds {
    fn new_id(&self) -> u128 {
        uuid::Uuid::new_v4().as_u128()
    }

    fn token_bytes(&self) -> [u8; 16] {
        let mut b = [0u8; 16];
        if getrandom::fill(&mut b).is_err() {
            // The OS RNG failing is not recoverable; fall back to uuid's RNG (also the OS
            // RNG, with its own error handling) rather than issuing a predictable token.
            b = uuid::Uuid::new_v4().into_bytes();
        }
        b
    }
}

/// Predictable ids for tests: 1, 2, 3, … (tokens too, distinct from ids).
#[derive(Debug, Default)]
pub struct SequentialIds {
    next: AtomicU64,
}

impl IdGenerator for SequentialIds {
    fn new_id(&self) -> u128 {
        u128::from(self.next.fetch_add(1, Ordering::SeqCst) + 1)
    }

    fn token_bytes(&self) -> [u8; 16] {
        let n = u128::from(self.next.fetch_add(1, Ordering::SeqCst) + 1) | (1u128 << 127);
        n.to_be_bytes()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn argon2_hashes_verify_and_reject() {
        let h = Argon2Hasher::new(1, Duration::from_secs(5));
        let pw = Password::parse("correct horse").unwrap();
        let phc = h.hash(&pw).await.unwrap();
        assert!(phc.starts_with("$argon2id$v=19$m=19456,t=2,p=1$"), "{phc}");
        assert!(h.verify(&pw, &phc).await.unwrap());
        assert!(!h
            .verify(&Password::parse("wrong").unwrap(), &phc)
            .await
            .unwrap());
        assert!(matches!(
            h.verify(&pw, "not a hash").await,
            Err(PortError::Internal(_))
        ));
    }

    #[tokio::test]
    async fn argon2_gives_up_when_no_permit_frees_in_time() {
        let h = Argon2Hasher::new(1, Duration::from_millis(20));
        let _held = Arc::clone(&h.permits).acquire_owned().await.unwrap();
        let r = h.hash(&Password::parse("x").unwrap()).await;
        assert!(matches!(r, Err(PortError::Unavailable(_))));
    }

    #[test]
    fn manual_clock_moves_only_when_told() {
        let c = ManualClock::new(Timestamp::from_micros(5));
        assert_eq!(c.now().as_micros(), 5);
        c.advance(Duration::from_millis(1));
        assert_eq!(c.now().as_micros(), 1005);
    }

    #[test]
    fn ids_are_unique() {
        let s = SequentialIds::default();
        assert_ne!(s.new_id(), s.new_id());
        assert_ne!(RandomIds.new_id(), RandomIds.new_id());
        assert_ne!(RandomIds.token_bytes(), RandomIds.token_bytes());
    }
}
