//! Caching: `PAGE_CACHE`, `CACHE_TYPE` (the original's: memory or redis),
//! `PAGE_CACHE_MESSAGES`, `PAGE_CACHE_RENDERED_MB`, `SESSION_CACHE_CAPACITY`.

use super::parse::{boolean_or, num_or, one_of};
use super::ConfigError;

const CACHE_TYPE: &str = "memory";
const PAGE_CACHE_MESSAGES: &str = "200000";
// As many pages as the message cache holds by default: 2,000 pages of 100 messages of
// about 250 bytes of JSON each.
const PAGE_CACHE_RENDERED_MB: &str = "64";
const SESSION_CACHE_CAPACITY: &str = "100000";

/// Where the page cache lives.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CacheType {
    /// In this process (moka).
    Memory,
    /// In Redis (needs `REDIS_URL`).
    Redis,
}

/// The caching variables, as text.
#[derive(Clone, Default, clap::Args)]
pub struct CacheVars {
    /// Cache full pages of messages: on/off [default: on].
    #[arg(long, env = "PAGE_CACHE", help_heading = "Caching")]
    pub page_cache: Option<String>,
    /// Where the page cache lives: memory or redis.
    #[arg(long, env = "CACHE_TYPE", default_value = CACHE_TYPE, help_heading = "Caching")]
    pub cache_type: Option<String>,
    /// Messages the in-process page cache holds.
    #[arg(long, env = "PAGE_CACHE_MESSAGES", default_value = PAGE_CACHE_MESSAGES, help_heading = "Caching")]
    pub page_cache_messages: Option<String>,
    /// MiB of full pages kept as written JSON, 0 for none.
    #[arg(long, env = "PAGE_CACHE_RENDERED_MB", default_value = PAGE_CACHE_RENDERED_MB, help_heading = "Caching")]
    pub page_cache_rendered_mb: Option<String>,
    /// Sessions the in-process session cache holds.
    #[arg(long, env = "SESSION_CACHE_CAPACITY", default_value = SESSION_CACHE_CAPACITY, help_heading = "Caching")]
    pub session_cache_capacity: Option<String>,
}

/// The caches' settings.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Cache {
    /// Cache full pages of messages.
    pub page_cache: bool,
    /// Where the page cache lives.
    pub cache_type: CacheType,
    /// Messages the in-process page cache holds.
    pub page_cache_messages: u64,
    /// MiB of full pages kept as written JSON (0: none).
    pub rendered_page_cache_mib: u64,
    /// Sessions the in-process session cache holds.
    pub session_cache_capacity: u64,
}

impl Cache {
    pub(super) fn from_vars(v: &CacheVars) -> Result<Self, ConfigError> {
        Ok(Self {
            page_cache: boolean_or("PAGE_CACHE", &v.page_cache, true)?,
            cache_type: one_of(
                "CACHE_TYPE",
                &v.cache_type,
                CACHE_TYPE,
                &[("memory", CacheType::Memory), ("redis", CacheType::Redis)],
                "memory or redis",
            )?,
            page_cache_messages: num_or(
                "PAGE_CACHE_MESSAGES",
                &v.page_cache_messages,
                PAGE_CACHE_MESSAGES,
                "a whole number",
            )?,
            rendered_page_cache_mib: num_or(
                "PAGE_CACHE_RENDERED_MB",
                &v.page_cache_rendered_mb,
                PAGE_CACHE_RENDERED_MB,
                "a whole number of MiB",
            )?,
            session_cache_capacity: num_or(
                "SESSION_CACHE_CAPACITY",
                &v.session_cache_capacity,
                SESSION_CACHE_CAPACITY,
                "a whole number",
            )?,
        })
    }

    /// Bytes of rendered pages to keep (none when the page cache is off).
    pub fn rendered_page_bytes(&self) -> u64 {
        if self.page_cache {
            self.rendered_page_cache_mib.saturating_mul(1024 * 1024)
        } else {
            0
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn s(v: &str) -> Option<String> {
        Some(v.to_owned())
    }

    #[test]
    fn cache_type_is_memory_or_redis_in_any_case() {
        let c = |v: &str| {
            Cache::from_vars(&CacheVars {
                cache_type: s(v),
                ..CacheVars::default()
            })
        };
        assert_eq!(c("MEMORY").unwrap().cache_type, CacheType::Memory);
        assert_eq!(c("Redis").unwrap().cache_type, CacheType::Redis);
        assert!(c("disk")
            .unwrap_err()
            .to_string()
            .starts_with("CACHE_TYPE:"));
        let e = Cache::from_vars(&CacheVars {
            page_cache: s("2"),
            ..CacheVars::default()
        })
        .unwrap_err();
        assert!(e.to_string().starts_with("PAGE_CACHE:"));
    }

    #[test]
    fn rendered_pages_are_off_with_the_page_cache() {
        let on = Cache::from_vars(&CacheVars::default()).unwrap();
        assert_eq!(on.rendered_page_bytes(), 64 * 1024 * 1024);
        let off = Cache {
            page_cache: false,
            ..on
        };
        assert_eq!(off.rendered_page_bytes(), 0);
    }
}
