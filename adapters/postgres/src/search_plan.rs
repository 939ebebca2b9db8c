//! Which way a search reads `messages`, chosen from the words' frequencies.
//!
//! Results are the newest matches, so three ways exist, and each is fast for other data:
//! - **walk**: read messages newest first (`messages_created_at_idx`) and stop at the cap:
//!   cheap when matches are common, ruinous when they are rare;
//! - **words**: fetch every message the GIN index gives for the words (it intersects
//!   their postings) and sort them: cheap when few messages hold them all, about 3 µs per
//!   match otherwise, plus reading the postings;
//! - **scope**: fetch every message of the account's chats (primary key) and test it:
//!   cheap when those chats are small, whatever the words.
//!
//! PostgreSQL's planner knows the frequencies but misjudges the walk (it expects matches
//! spread evenly and random reads costlier than cached pages are), so a mid-frequency
//! word took the walk at 1,000,000 messages (about 120,000 rows read for 1,000 hits). Here
//! the adapter estimates each way's rows from the same statistics (`pg_stats` of the
//! `words` column, refreshed by ANALYZE) and writes the statement so only that way is
//! possible. Without statistics (a new table) the planner chooses.

use std::collections::HashMap;
use std::sync::{Arc, Mutex, PoisonError};
use std::time::{Duration, Instant};

/// Costs per row read, in microseconds, measured on cached data (1,000,000 messages):
/// a row of the walk, an entry of a word's GIN postings, a match fetched through the GIN
/// index, a row of the scope.
const WALK_ROW: f64 = 0.4;
const POSTING: f64 = 0.2;
const MATCH_ROW: f64 = 2.8;
const SCOPE_ROW: f64 = 2.0;
/// An entry of the primary key read to intersect the GIN matches with the scope.
const SCOPE_KEY: f64 = 0.1;

/// How long loaded statistics are used before they are read again.
const STATS_TTL: Duration = Duration::from_secs(60);

/// How a search statement reads `messages`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Plan {
    /// No statistics: the planner chooses.
    Planner,
    /// Newest first through `messages_created_at_idx`, stopping at the limit.
    Walk,
    /// The GIN index's matches, sorted.
    Words,
    /// The scope's messages through the primary key, tested and sorted.
    Scope,
}

/// What ANALYZE recorded about `messages.words`.
#[derive(Debug, Default)]
pub(crate) struct WordStats {
    /// Rows in the table.
    rows: f64,
    /// The most common words and the fraction of rows holding each.
    common: HashMap<String, f64>,
    /// The fraction assumed for any other word (half the least common listed).
    other: f64,
}

impl WordStats {
    /// Statistics from `pg_class.reltuples` and `pg_stats` (words and their frequencies,
    /// followed by the minimum, maximum and null frequencies); `None` when ANALYZE has not
    /// run yet.
    pub(crate) fn new(rows: f64, words: Vec<String>, freqs: Vec<f32>) -> Option<Self> {
        if rows <= 0.0 || words.is_empty() || freqs.len() < words.len() {
            return None;
        }
        let min = freqs.get(words.len()).copied().unwrap_or(0.0);
        Some(Self {
            rows,
            common: words
                .into_iter()
                .zip(freqs.iter().map(|f| f64::from(*f)))
                .collect(),
            other: f64::from(min) / 2.0,
        })
    }

    fn frequency(&self, word: &str) -> f64 {
        self.common.get(word).copied().unwrap_or(self.other)
    }

    /// The cheapest way for a query whose conditions need all of `words`, over
    /// `scope_rows` messages (`None`: every chat), returning `cap` hits.
    pub(crate) fn choose<'a>(
        &self,
        words: impl IntoIterator<Item = &'a str>,
        scope_rows: Option<f64>,
        cap: u32,
    ) -> Plan {
        let freqs: Vec<f64> = words.into_iter().map(|w| self.frequency(w)).collect();
        if freqs.is_empty() {
            return Plan::Planner;
        }
        let n = self.rows.max(1.0);
        let in_scope = scope_rows.map_or(1.0, |r| (r / n).min(1.0));
        // Words taken as independent: the walk reads rows until `cap` of them hold every
        // word (phrases match fewer: the walk's estimate is a lower bound).
        let all: f64 = freqs.iter().product();
        let walk = WALK_ROW * n.min(f64::from(cap) / (all * in_scope).max(1e-12));
        let postings: f64 = freqs.iter().sum();
        // With a scope, PostgreSQL either intersects the matches with the scope's keys
        // before fetching rows (cheap when the scope is a small part of the table), or
        // fetches every match and filters it by chat (cheaper when the scope is most of
        // the table: a million-message chat's keys cost more to read than its matches).
        let fetch_all = MATCH_ROW * all * n;
        let fetch_scoped = scope_rows.map_or(fetch_all, |r| {
            MATCH_ROW * all * in_scope * n + SCOPE_KEY * r
        });
        let by_words = POSTING * postings * n + fetch_all.min(fetch_scoped);
        let by_scope = scope_rows.map_or(f64::INFINITY, |r| SCOPE_ROW * r);
        if by_scope < walk && by_scope < by_words {
            Plan::Scope
        } else if walk < by_words {
            Plan::Walk
        } else {
            Plan::Words
        }
    }
}

/// Loaded statistics and when, shared by every search of a store.
#[derive(Default)]
pub(crate) struct StatsCache(Mutex<Option<(Instant, Option<Arc<WordStats>>)>>);

impl StatsCache {
    /// The cached statistics, or `None` when they must be (re)loaded.
    pub(crate) fn fresh(&self) -> Option<Option<Arc<WordStats>>> {
        let slot = self.0.lock().unwrap_or_else(PoisonError::into_inner);
        match &*slot {
            Some((at, stats)) if at.elapsed() < STATS_TTL => Some(stats.clone()),
            _ => None,
        }
    }

    /// Stores freshly loaded statistics (or their absence).
    pub(crate) fn store(&self, stats: Option<Arc<WordStats>>) {
        *self.0.lock().unwrap_or_else(PoisonError::into_inner) = Some((Instant::now(), stats));
    }
}

/// Reads the statistics of `messages.words` in the connection's schema.
pub(crate) const STATS_SQL: &str = "SELECT c.reltuples::float8, \
     s.most_common_elems::text::text[], s.most_common_elem_freqs \
     FROM pg_class c LEFT JOIN pg_stats s ON s.schemaname = current_schema() \
     AND s.tablename = 'messages' AND s.attname = 'words' \
     WHERE c.oid = 'messages'::regclass";

#[cfg(test)]
mod tests {
    use super::*;

    /// Frequencies as measured on 1,000,000 seeded messages (log-uniform vocabulary).
    fn stats() -> WordStats {
        WordStats::new(
            1_000_000.0,
            vec![
                "word0".into(),
                "word1".into(),
                "word150".into(),
                "word300".into(),
            ],
            vec![0.57, 0.40, 0.0088, 0.0048, 0.0013, 0.57, 0.0],
        )
        .unwrap()
    }

    #[test]
    fn common_words_walk_rare_ones_use_the_index() {
        let s = stats();
        assert_eq!(s.choose(["word0"], None, 1000), Plan::Walk);
        assert_eq!(s.choose(["word0", "word1"], None, 1000), Plan::Walk);
        // 8,800 matches: fetching them beats reading 114,000 rows newest first.
        assert_eq!(s.choose(["word150"], None, 1000), Plan::Words);
        assert_eq!(s.choose(["word150", "word300"], None, 1000), Plan::Words);
        // A phrase of common words: many messages hold both.
        assert_eq!(s.choose(["word0", "word1"], None, 1000), Plan::Walk);
        assert_eq!(s.choose(["unlisted"], None, 1000), Plan::Words);
        assert!((s.frequency("unlisted") - 0.00065).abs() < 1e-6);
    }

    #[test]
    fn a_small_scope_is_read_whole_when_its_matches_are_rare_in_the_walk() {
        let s = stats();
        // 10,000 messages in scope (1 %): common words would walk 175,000 rows.
        assert_eq!(s.choose(["word0"], Some(10_000.0), 1000), Plan::Scope);
        assert_eq!(
            s.choose(["word0", "word1"], Some(10_000.0), 1000),
            Plan::Scope
        );
        // A rare word, or mid words rarely together: fewer matches than the scope's rows.
        assert_eq!(s.choose(["unlisted"], Some(10_000.0), 1000), Plan::Words);
        assert_eq!(
            s.choose(["word150", "word300"], Some(10_000.0), 1000),
            Plan::Words
        );
        // A scope of every chat: as if unscoped.
        assert_eq!(s.choose(["word0"], Some(1_000_000.0), 1000), Plan::Walk);
        assert_eq!(
            s.choose(["word150"], Some(1_000_000.0), 1000),
            Plan::Words,
            "fetching 8,800 matches and filtering them by chat beats the walk"
        );
    }

    #[test]
    fn without_statistics_the_planner_chooses() {
        assert!(WordStats::new(0.0, vec!["a".into()], vec![0.5, 0.5, 0.5, 0.0]).is_none());
        assert!(WordStats::new(1000.0, vec![], vec![]).is_none());
        assert_eq!(stats().choose([], None, 10), Plan::Planner);
    }
}
