//! System ports: the argon2id hasher, clocks and id generators (real ones and test doubles).

use argon2::password_hash::{Output, ParamsString, PasswordHash, SaltString};
use argon2::{Algorithm, Argon2, Block, Params, Version};
use async_trait::async_trait;
use messenger_domain::{Password, Timestamp};
use messenger_ports::{Clock, IdGenerator, PasswordHasher, PortError, PortResult};
use std::sync::{
    atomic::{AtomicI64, AtomicU64, Ordering},
    Arc, Mutex, PoisonError,
};
use std::time::{Duration, SystemTime, UNIX_EPOCH};
use tokio::sync::Semaphore;

/// Argon2id with the OWASP parameters (m = 19456 KiB, t = 2, p = 1), run on the blocking
/// pool behind a small semaphore: a login flood queues for a permit (at most
/// `permit_wait`, then 503) instead of starving the async workers.
///
/// Each hash needs 19 MiB of working memory. Allocating it per hash on whichever blocking
/// thread runs it leaves the allocator holding one such block per thread that ever hashed
/// (hundreds of MiB after a flood), so the blocks are kept in a pool instead: at most one
/// per permit, reused for every hash.
#[derive(Clone)]
pub struct Argon2Hasher {
    permits: Arc<Semaphore>,
    permit_wait: Duration,
    memory: Arc<Mutex<Vec<Vec<Block>>>>,
}

impl Argon2Hasher {
    /// At most `max_concurrent` hashes at once; a caller waits at most `permit_wait`.
    pub fn new(max_concurrent: usize, permit_wait: Duration) -> Self {
        Self {
            permits: Arc::new(Semaphore::new(max_concurrent.max(1))),
            permit_wait,
            memory: Arc::default(),
        }
    }

    /// Runs `job` on the blocking pool with a permit and a working-memory block.
    async fn run<T: Send + 'static>(
        &self,
        job: impl FnOnce(&mut Vec<Block>) -> PortResult<T> + Send + 'static,
    ) -> PortResult<T> {
        let permit =
            tokio::time::timeout(self.permit_wait, Arc::clone(&self.permits).acquire_owned())
                .await
                .map_err(|_| PortError::Unavailable("no password-hashing capacity in time".into()))?
                .map_err(|_| PortError::Internal("hashing semaphore closed".into()))?;
        let pool = Arc::clone(&self.memory);
        tokio::task::spawn_blocking(move || {
            let mut blocks = pool
                .lock()
                .unwrap_or_else(PoisonError::into_inner)
                .pop()
                .unwrap_or_default();
            let r = job(&mut blocks);
            pool.lock()
                .unwrap_or_else(PoisonError::into_inner)
                .push(blocks);
            drop(permit);
            r
        })
        .await
        .map_err(|e| PortError::Internal(format!("hashing task failed: {e}")))?
    }
}

fn argon2_error(e: impl std::fmt::Display) -> PortError {
    PortError::Internal(format!("argon2: {e}"))
}

/// Computes the raw argon2id hash into `out`, using (and growing if needed) `blocks`.
fn argon2id_into(
    params: Params,
    password: &[u8],
    salt: &[u8],
    out: &mut [u8],
    blocks: &mut Vec<Block>,
) -> PortResult<()> {
    let needed = params.block_count();
    if blocks.len() != needed {
        blocks.resize(needed, Block::default());
    }
    Argon2::new(Algorithm::Argon2id, Version::V0x13, params)
        .hash_password_into_with_memory(password, salt, out, blocks.as_mut_slice())
        .map_err(argon2_error)
}

#[async_trait]
impl PasswordHasher for Argon2Hasher {
    async fn hash(&self, password: &Password) -> PortResult<String> {
        let password = password.clone();
        let mut salt = [0u8; 16];
        getrandom::fill(&mut salt).map_err(|e| PortError::Internal(format!("OS RNG: {e}")))?;
        self.run(move |blocks| {
            let params = Params::default();
            let mut out = [0u8; 32];
            argon2id_into(
                params.clone(),
                password.expose().as_bytes(),
                &salt,
                &mut out,
                blocks,
            )?;
            let salt = SaltString::encode_b64(&salt).map_err(argon2_error)?;
            let phc = PasswordHash {
                algorithm: argon2::ARGON2ID_IDENT,
                version: Some(Version::V0x13.into()),
                params: ParamsString::try_from(&params).map_err(argon2_error)?,
                salt: Some(salt.as_salt()),
                hash: Some(Output::new(&out).map_err(argon2_error)?),
            };
            Ok(phc.to_string())
        })
        .await
    }

    async fn verify(&self, password: &Password, hash: &str) -> PortResult<bool> {
        let password = password.clone();
        let hash = hash.to_owned();
        self.run(move |blocks| {
            let parsed = PasswordHash::new(&hash)
                .map_err(|e| PortError::Internal(format!("stored hash: {e}")))?;
            if parsed.algorithm != argon2::ARGON2ID_IDENT {
                return Err(PortError::Internal("stored hash is not argon2id".into()));
            }
            let params = Params::try_from(&parsed).map_err(argon2_error)?;
            let (Some(salt), Some(expected)) = (parsed.salt, parsed.hash) else {
                return Err(PortError::Internal("stored hash lacks salt or hash".into()));
            };
            let mut salt_buf = [0u8; 64];
            let salt = salt.decode_b64(&mut salt_buf).map_err(argon2_error)?;
            let mut out = vec![0u8; expected.len()];
            argon2id_into(params, password.expose().as_bytes(), salt, &mut out, blocks)?;
            // `Output`'s equality is constant-time.
            Ok(Output::new(&out).map_err(argon2_error)? == expected)
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
    async fn argon2_hashes_agree_with_the_reference_implementation() {
        use argon2::password_hash::{PasswordHasher as _, PasswordVerifier as _};
        let h = Argon2Hasher::new(2, Duration::from_secs(5));
        let pw = Password::parse("pässwörd").unwrap();
        let ours = h.hash(&pw).await.unwrap();
        let parsed = PasswordHash::new(&ours).unwrap();
        assert!(Argon2::default()
            .verify_password(pw.expose().as_bytes(), &parsed)
            .is_ok());
        let salt = SaltString::encode_b64(b"0123456789abcdef").unwrap();
        let theirs = Argon2::default()
            .hash_password(pw.expose().as_bytes(), &salt)
            .unwrap()
            .to_string();
        assert!(h.verify(&pw, &theirs).await.unwrap());
        assert!(!h
            .verify(&Password::parse("other").unwrap(), &theirs)
            .await
            .unwrap());
    }

    #[tokio::test]
    async fn argon2_reuses_its_working_memory() {
        let h = Argon2Hasher::new(2, Duration::from_secs(5));
        let pw = Password::parse("x").unwrap();
        for _ in 0..4 {
            h.hash(&pw).await.unwrap();
        }
        let blocks = h.memory.lock().unwrap().len();
        assert!(
            (1..=2).contains(&blocks),
            "{blocks} working-memory blocks kept"
        );
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
