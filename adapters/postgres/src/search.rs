//! `MessageSearch` over a `tsvector` column filled from the domain tokenizer.
//!
//! PostgreSQL's own parser never sees the text: the adapter writes the tokenizer's words
//! with their positions as a `tsvector` literal (`'word':1,4 'other':2`), and the query's
//! terms as a `tsquery` literal (`'a' & ( 'b' <-> 'c' )`), both passed as bound
//! parameters. Matching is then the domain's rule exactly, whatever the server's locale.
//!
//! One limit of `tsvector` needs care: it keeps at most 256 positions per word (and none
//! past 16,383), so a phrase can hide in a message where some word repeats more often.
//! Such rows are flagged (`words_truncated`); for a query with phrases they are selected by
//! their words alone and checked here with the domain matcher.

use crate::convert::uuid;
use crate::search_plan::{Plan, WordStats, STATS_SQL};
use crate::PgStore;
use async_trait::async_trait;
use messenger_domain::{tokenize, ChatId, MessageId, SearchHit, SearchQuery, Term, Timestamp};
use messenger_ports::{MessageSearch, PortResult, SearchScope};
use std::collections::BTreeMap;
use std::fmt::Write as _;
use std::sync::Arc;
use tokio::time::timeout_at;
use uuid::Uuid;

/// Most positions a `tsvector` keeps per word.
const MAX_POSITIONS_PER_WORD: usize = 256;
/// Highest position a `tsvector` records (later ones are clamped to it).
const MAX_POSITION: usize = 16_383;

/// Appends `word` as a quoted lexeme (quotes and backslashes escaped).
fn push_lexeme(out: &mut String, word: &str) {
    out.push('\'');
    for c in word.chars() {
        if c == '\'' || c == '\\' {
            out.push(c);
        }
        out.push(c);
    }
    out.push('\'');
}

/// The `tsvector` literal of `text`'s words with their positions (from 1), and whether it
/// records less than the words say (a word with more than 256 positions, or more than
/// 16,383 words), so a phrase match must be checked on the text.
pub(crate) fn tsvector_literal(text: &str) -> (String, bool) {
    let words = tokenize(text);
    let truncated = words.len() > MAX_POSITION;
    let mut positions: BTreeMap<&str, Vec<usize>> = BTreeMap::new();
    for (i, w) in words.iter().enumerate() {
        positions.entry(w.as_str()).or_default().push(i + 1);
    }
    let truncated = truncated || positions.values().any(|p| p.len() > MAX_POSITIONS_PER_WORD);
    let mut out = String::with_capacity(text.len() + 4 * words.len());
    for (word, ps) in &positions {
        if !out.is_empty() {
            out.push(' ');
        }
        push_lexeme(&mut out, word);
        // Positions past what PostgreSQL keeps are left out rather than sent to be dropped.
        for (k, p) in ps
            .iter()
            .take_while(|p| **p <= MAX_POSITION)
            .take(MAX_POSITIONS_PER_WORD)
            .enumerate()
        {
            out.push(if k == 0 { ':' } else { ',' });
            let _ = write!(out, "{p}");
        }
    }
    (out, truncated)
}

/// The `tsquery` literal of all of `query`'s terms: words ANDed, a phrase as its words
/// joined by `<->`. With `phrases_as_words`, phrases become ANDed words too (the
/// candidate test for rows whose positions are incomplete).
pub(crate) fn tsquery_literal(query: &SearchQuery, phrases_as_words: bool) -> String {
    let mut out = String::new();
    for term in query.terms() {
        if !out.is_empty() {
            out.push_str(" & ");
        }
        match term {
            Term::Word(w) => push_lexeme(&mut out, w),
            Term::Phrase(ws) => {
                let joiner = if phrases_as_words { " & " } else { " <-> " };
                out.push('(');
                for (i, w) in ws.iter().enumerate() {
                    if i > 0 {
                        out.push_str(joiner);
                    }
                    push_lexeme(&mut out, w);
                }
                out.push(')');
            }
        }
    }
    out
}

/// The search statement for a scope, whether the query has phrases, and the way to read
/// (see `search_plan`). Built from fixed fragments only; every value is a parameter: `$1`
/// the tsquery, `$2` the row limit, `$3` the phrases-as-words tsquery (with phrases), `$3`
/// or `$4` the scope's chat ids.
fn search_sql(scoped: bool, with_phrases: bool, plan: Plan) -> String {
    let matches = if with_phrases {
        "(words @@ $1::text::tsquery OR (words_truncated AND words @@ $3::text::tsquery))"
    } else {
        "words @@ $1::text::tsquery"
    };
    let scope = match (scoped, with_phrases) {
        (false, _) => "",
        (true, false) => " AND chat_id = ANY($3)",
        (true, true) => " AND chat_id = ANY($4)",
    };
    // The same rows in the same order whatever the plan; only what the planner can use
    // differs. `(…) IS TRUE` is no condition an index serves (so the GIN index is not
    // read); `created_at + 0` is no order an index gives (so the walk is not taken).
    let (matches, order) = match plan {
        Plan::Planner => (matches.to_owned(), "created_at"),
        Plan::Walk => (format!("({matches}) IS TRUE"), "created_at"),
        Plan::Words => (matches.to_owned(), "created_at + 0"),
        Plan::Scope => (format!("({matches}) IS TRUE"), "created_at + 0"),
    };
    format!(
        "SELECT id, chat_id, text, user_name, created_at, words_truncated FROM messages \
         WHERE {matches}{scope} ORDER BY {order} DESC, id DESC LIMIT $2"
    )
}

/// The chats an account created or has a current member in, with their message counts.
const SCOPE: &str = "SELECT c.id, c.last_seq FROM participants p \
                     JOIN chats c ON c.id = p.chat_id \
                     WHERE p.account_id = $1 AND (p.is_creator OR p.identities > 0)";

/// The statistics of the words, from the cache or read now (a failure to read them
/// leaves the choice to the planner until the next refresh).
async fn word_stats(store: &PgStore, client: &tokio_postgres::Client) -> Option<Arc<WordStats>> {
    if let Some(cached) = store.db.word_stats.fresh() {
        return cached;
    }
    let loaded = match client.query_opt(STATS_SQL, &[]).await {
        Ok(Some(row)) => {
            let rows: f64 = row.try_get(0).unwrap_or(0.0);
            let words: Option<Vec<String>> = row.try_get(1).unwrap_or(None);
            let freqs: Option<Vec<f32>> = row.try_get(2).unwrap_or(None);
            WordStats::new(rows, words.unwrap_or_default(), freqs.unwrap_or_default()).map(Arc::new)
        }
        Ok(None) => None,
        Err(e) => {
            tracing::warn!(error = %e, "cannot read the word statistics; the planner chooses");
            None
        }
    };
    store.db.word_stats.store(loaded.clone());
    loaded
}

/// Every word a query's terms need (a phrase needs each of its words).
fn required_words(query: &SearchQuery) -> Vec<&str> {
    let mut words: Vec<&str> = query
        .terms()
        .iter()
        .flat_map(|t| match t {
            Term::Word(w) => std::slice::from_ref(w),
            Term::Phrase(ws) => ws.as_slice(),
        })
        .map(String::as_str)
        .collect();
    words.sort_unstable();
    words.dedup();
    words
}

/// A search statement ready to run: the way chosen, the SQL and its values.
struct Statement {
    plan: Plan,
    sql: String,
    full: String,
    words_only: Option<String>,
    chats: Option<Vec<Uuid>>,
}

impl Statement {
    /// Reads the scope and the words' statistics and writes the statement; `None` when the
    /// scope holds no chat (nothing can match).
    async fn new(
        store: &PgStore,
        client: &deadpool_postgres::Object,
        scope: SearchScope,
        query: &SearchQuery,
        cap: u32,
    ) -> Result<Option<Self>, tokio_postgres::Error> {
        let with_phrases = query.terms().iter().any(|t| matches!(t, Term::Phrase(_)));
        // The scope is read first and passed as an array, so the planner sees which
        // chats (and how big they are) and can combine the chat and word indexes; an
        // `IN (subquery)` would hide that. The statement is unnamed (prepared for this
        // call), so it is planned for these values rather than with a generic plan
        // that cannot know how common the words are.
        let (chats, scope_rows): (Option<Vec<Uuid>>, Option<f64>) = match scope {
            SearchScope::AllChats => (None, None),
            SearchScope::ChatsOf(a) => {
                let st = client.prepare_cached(SCOPE).await?;
                let rows = client.query(&st, &[&uuid(a.as_u128())]).await?;
                let mut ids = Vec::with_capacity(rows.len());
                let mut messages = 0i64;
                for r in &rows {
                    ids.push(r.try_get::<_, Uuid>(0)?);
                    messages = messages.saturating_add(r.try_get::<_, i64>(1)?);
                }
                if ids.is_empty() {
                    return Ok(None);
                }
                (Some(ids), Some(messages as f64))
            }
        };
        let plan = word_stats(store, client).await.map_or(Plan::Planner, |s| {
            s.choose(required_words(query), scope_rows, cap)
        });
        Ok(Some(Self {
            plan,
            sql: search_sql(chats.is_some(), with_phrases, plan),
            full: tsquery_literal(query, false),
            words_only: with_phrases.then(|| tsquery_literal(query, true)),
            chats,
        }))
    }

    /// The values of the statement's parameters for a row limit of `limit`.
    fn params<'a>(&'a self, limit: &'a i64) -> Vec<&'a (dyn tokio_postgres::types::ToSql + Sync)> {
        let mut params: Vec<&(dyn tokio_postgres::types::ToSql + Sync)> = vec![&self.full, limit];
        if let Some(words_only) = &self.words_only {
            params.push(words_only);
        }
        if let Some(ids) = &self.chats {
            params.push(ids);
        }
        params
    }
}

impl PgStore {
    /// The way `search` would read for these arguments and the output of
    /// `EXPLAIN (ANALYZE, BUFFERS)` of its first statement (for benchmark notes; it runs
    /// the statement). Empty lines when the scope holds no chat.
    ///
    /// # Errors
    /// `Unavailable` when the database does not answer within the search deadline.
    pub async fn explain_search(
        &self,
        scope: SearchScope,
        query: &SearchQuery,
        cap: u32,
    ) -> PortResult<(String, Vec<String>)> {
        let deadline = self.db.search_deadline();
        let client = self.db.checkout(deadline).await?;
        let outcome = timeout_at(deadline, async {
            let Some(statement) = Statement::new(self, &client, scope, query, cap).await? else {
                return Ok(("no chat in scope".to_owned(), Vec::new()));
            };
            let limit = i64::from(cap.max(1));
            let sql = format!("EXPLAIN (ANALYZE, BUFFERS) {}", statement.sql);
            let rows = client
                .query(sql.as_str(), &statement.params(&limit))
                .await?;
            let lines = rows
                .iter()
                .map(|r| r.try_get::<_, String>(0))
                .collect::<Result<Vec<_>, _>>()?;
            Ok((format!("{:?}", statement.plan), lines))
        })
        .await;
        Ok(self.db.settle(client, outcome)?)
    }
}

#[async_trait]
impl MessageSearch for PgStore {
    async fn search(
        &self,
        scope: SearchScope,
        query: &SearchQuery,
        cap: u32,
    ) -> PortResult<Vec<SearchHit>> {
        if cap == 0 {
            return Ok(Vec::new());
        }
        let deadline = self.db.search_deadline();
        let client = self.db.checkout(deadline).await?;
        let outcome = timeout_at(deadline, async {
            let Some(statement) = Statement::new(self, &client, scope, query, cap).await? else {
                return Ok(Vec::new());
            };
            // Rows whose positions are incomplete may fail the exact check; then ask for
            // more rows until `cap` hits are found or the matches run out.
            let mut limit = i64::from(cap);
            loop {
                let rows = client
                    .query(statement.sql.as_str(), &statement.params(&limit))
                    .await?;
                let mut hits = Vec::with_capacity(rows.len().min(cap as usize));
                for row in &rows {
                    let text: String = row.try_get(2)?;
                    if row.try_get::<_, bool>(5)? && !query.matches(&text) {
                        continue;
                    }
                    hits.push(SearchHit {
                        message_id: MessageId::from_u128(row.try_get::<_, Uuid>(0)?.as_u128()),
                        chat_id: ChatId::from_u128(row.try_get::<_, Uuid>(1)?.as_u128()),
                        text,
                        user_name: row.try_get(3)?,
                        created_at: Timestamp::from_micros(row.try_get(4)?),
                    });
                    if hits.len() == cap as usize {
                        break;
                    }
                }
                let exhausted = i64::try_from(rows.len()).unwrap_or(i64::MAX) < limit;
                if hits.len() == cap as usize || exhausted {
                    return Ok(hits);
                }
                limit = limit.saturating_mul(4);
            }
        })
        .await;
        Ok(self.db.settle(client, outcome)?)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tsvector_literal_quotes_and_numbers_positions() {
        let (v, truncated) = tsvector_literal("Hello, hello WORLD! it's");
        assert_eq!(v, "'hello':1,2 'it':4 's':5 'world':3");
        assert!(!truncated);
        assert_eq!(tsvector_literal("... !!").0, "");
    }

    #[test]
    fn lexemes_escape_quotes_and_backslashes() {
        let mut out = String::new();
        push_lexeme(&mut out, r"a'b\c");
        assert_eq!(out, r"'a''b\\c'");
    }

    #[test]
    fn many_repeats_are_flagged_and_cut_to_what_postgres_keeps() {
        let text = "a ".repeat(300);
        let (v, truncated) = tsvector_literal(&text);
        assert!(truncated);
        assert_eq!(v.matches(',').count(), MAX_POSITIONS_PER_WORD - 1);
    }

    #[test]
    fn tsquery_literal_ands_words_and_chains_phrases() {
        let q = SearchQuery::parse(r#"hello "big World" again"#).unwrap();
        assert_eq!(
            tsquery_literal(&q, false),
            "'hello' & ('big' <-> 'world') & 'again'"
        );
        assert_eq!(
            tsquery_literal(&q, true),
            "'hello' & ('big' & 'world') & 'again'"
        );
    }

    #[test]
    fn search_sql_numbers_parameters_consistently() {
        for plan in [Plan::Planner, Plan::Walk, Plan::Words, Plan::Scope] {
            assert!(search_sql(false, false, plan).contains("LIMIT $2"));
            assert!(!search_sql(false, false, plan).contains("$3"));
            assert!(search_sql(true, false, plan).contains("ANY($3)"));
            assert!(search_sql(true, true, plan).contains("ANY($4)"));
            assert!(search_sql(false, true, plan).contains("$3::text::tsquery"));
        }
    }

    #[test]
    fn each_plan_leaves_the_planner_only_its_way() {
        let walk = search_sql(false, false, Plan::Walk);
        assert!(walk.contains("(words @@ $1::text::tsquery) IS TRUE"));
        assert!(walk.contains("ORDER BY created_at DESC, id DESC"));
        let words = search_sql(false, false, Plan::Words);
        assert!(words.contains("WHERE words @@ $1::text::tsquery ORDER BY created_at + 0 DESC"));
        let scope = search_sql(true, true, Plan::Scope);
        assert!(scope.contains(") IS TRUE AND chat_id = ANY($4) ORDER BY created_at + 0 DESC"));
    }

    #[test]
    fn required_words_include_phrase_words_once() {
        let q = SearchQuery::parse(r#"big "big world" again"#).unwrap();
        assert_eq!(required_words(&q), ["again", "big", "world"]);
    }
}
