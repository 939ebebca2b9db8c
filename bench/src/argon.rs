//! The login ceiling of this machine: cores ÷ the time of one argon2id hash
//! with the service's parameters (OWASP: m = 19456 KiB, t = 2, p = 1).

use std::time::{Duration, Instant};

use argon2::{Algorithm, Argon2, Params, Version};

use crate::error::BenchError;

/// Memory cost in KiB, iterations and lanes of the service's hasher.
const M_COST_KIB: u32 = 19_456;
const T_COST: u32 = 2;
const P_COST: u32 = 1;

/// The argon2 bound measured here.
#[derive(Debug, Clone, Copy)]
pub struct ArgonBound {
    /// Median time of one hash on one core.
    pub hash_time: Duration,
    /// Cores available to this process.
    pub cores: usize,
}

impl ArgonBound {
    /// Logins per second the machine could do if it only hashed.
    pub fn logins_per_sec(&self) -> f64 {
        self.cores as f64 / self.hash_time.as_secs_f64()
    }
}

/// Times `samples` hashes one after another (on a blocking thread) and
/// takes the median, so one descheduled sample does not skew it.
///
/// # Errors
/// [`BenchError::Argon2`] if the parameters are refused or the thread fails.
pub async fn measure(samples: usize) -> Result<ArgonBound, BenchError> {
    let samples = samples.max(1);
    let mut times = tokio::task::spawn_blocking(move || {
        let params = Params::new(M_COST_KIB, T_COST, P_COST, Some(32))
            .map_err(|e| BenchError::Argon2(e.to_string()))?;
        let hasher = Argon2::new(Algorithm::Argon2id, Version::V0x13, params);
        let mut out = [0_u8; 32];
        let mut times = Vec::with_capacity(samples);
        for i in 0..samples {
            let began = Instant::now();
            hasher
                .hash_password_into(b"benchmark password", &[i as u8; 16], &mut out)
                .map_err(|e| BenchError::Argon2(e.to_string()))?;
            times.push(began.elapsed());
        }
        Ok::<_, BenchError>(times)
    })
    .await??;
    times.sort();
    let cores = std::thread::available_parallelism().map_or(1, usize::from);
    Ok(ArgonBound {
        hash_time: times[times.len() / 2],
        cores,
    })
}
