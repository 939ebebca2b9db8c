//! The search-task store: each task is a hash (`task:{id}`) and its hits a list
//! (`hits:{id}`, one JSON hit per element), both expiring together. Every change that
//! touches both is one Lua script, so a reader never sees `SUCCESS` without the hits. The
//! `{id}` hash tag keeps both keys in one slot should the deployment move to a cluster.
//!
//! A task's time limit is kept by the `Clock` port (its end, `expires`, is a field of the
//! hash, checked by every script), so tests drive it with a manual clock; Redis's expiry
//! only frees the memory, a little later (see `client::EXPIRY_SLACK`).

use crate::client::{now_micros, ttl_millis, RedisStore, EXPIRY_SLACK};
use crate::dto::{from_json, to_json, HitDto};
use async_trait::async_trait;
use fred::prelude::{KeysInterface, Value};
use fred::types::scripts::Script;
use messenger_domain::{
    AccountId, SearchHit, SearchQuery, SearchTask, TaskId, TaskStatus, Timestamp,
};
use messenger_ports::{Clock, HitsSlice, PortError, PortResult, TaskStore};
use std::collections::HashMap;
use std::sync::{Arc, LazyLock};
use std::time::Duration;

/// KEYS: task, hits. ARGV: Redis expiry (ms), account, query, all-chats flag, status,
/// created (µs), end of the time limit (µs).
static INSERT: LazyLock<Script> = LazyLock::new(|| {
    Script::from_lua(
        r"
redis.call('DEL', KEYS[1], KEYS[2])
redis.call('HSET', KEYS[1], 'account', ARGV[2], 'query', ARGV[3], 'all', ARGV[4],
  'status', ARGV[5], 'created', ARGV[6], 'expires', ARGV[7])
redis.call('PEXPIRE', KEYS[1], ARGV[1])
return 1
",
    )
});

/// KEYS: task. ARGV: now (µs). The task's fields, or none when it is gone or expired.
static READ: LazyLock<Script> = LazyLock::new(|| {
    Script::from_lua(
        r"
local e = tonumber(redis.call('HGET', KEYS[1], 'expires'))
if e == nil or e <= tonumber(ARGV[1]) then return {} end
return redis.call('HGETALL', KEYS[1])
",
    )
});

/// KEYS: task, hits. ARGV: now (µs), Redis expiry (ms), new end of the time limit (µs),
/// status. Answers 0 when the task is gone or expired, or `SUCCESS` (never left).
static SET_STATUS: LazyLock<Script> = LazyLock::new(|| {
    Script::from_lua(
        r"
local e = tonumber(redis.call('HGET', KEYS[1], 'expires'))
if e == nil or e <= tonumber(ARGV[1]) then return 0 end
if redis.call('HGET', KEYS[1], 'status') == 'SUCCESS' then return 0 end
redis.call('HSET', KEYS[1], 'status', ARGV[4], 'expires', ARGV[3])
redis.call('PEXPIRE', KEYS[1], ARGV[2])
redis.call('PEXPIRE', KEYS[2], ARGV[2])
return 1
",
    )
});

/// KEYS: task, hits. ARGV: now (µs), Redis expiry (ms), new end of the time limit (µs),
/// then one JSON hit each. Stores the hits and sets `SUCCESS` at once; answers 0 when the
/// task is gone or expired, or already final (a late worker cannot complete it again).
/// Pushes in chunks (Lua's `unpack` has a stack limit).
static COMPLETE: LazyLock<Script> = LazyLock::new(|| {
    Script::from_lua(
        r"
local e = tonumber(redis.call('HGET', KEYS[1], 'expires'))
if e == nil or e <= tonumber(ARGV[1]) then return 0 end
local s = redis.call('HGET', KEYS[1], 'status')
if s == 'SUCCESS' or s == 'FAILED' then return 0 end
redis.call('DEL', KEYS[2])
local n = #ARGV
local i = 4
while i <= n do
  local last = math.min(i + 499, n)
  redis.call('RPUSH', KEYS[2], unpack(ARGV, i, last))
  i = last + 1
end
redis.call('HSET', KEYS[1], 'status', 'SUCCESS', 'expires', ARGV[3])
redis.call('PEXPIRE', KEYS[1], ARGV[2])
redis.call('PEXPIRE', KEYS[2], ARGV[2])
return 1
",
    )
});

/// KEYS: task, hits. ARGV: now (µs), offset, limit. Answers `{-1}` when the task is gone
/// or expired, else `{total, hit…}`.
static HITS: LazyLock<Script> = LazyLock::new(|| {
    Script::from_lua(
        r"
local e = tonumber(redis.call('HGET', KEYS[1], 'expires'))
if e == nil or e <= tonumber(ARGV[1]) then return {-1} end
local out = {redis.call('LLEN', KEYS[2])}
local offset = tonumber(ARGV[2])
local limit = tonumber(ARGV[3])
if limit > 0 then
  local items = redis.call('LRANGE', KEYS[2], offset, offset + limit - 1)
  for _, v in ipairs(items) do out[#out + 1] = v end
end
return out
",
    )
});

/// Search tasks and their hits in Redis, readable by every API instance and worker.
pub struct RedisTaskStore {
    store: RedisStore,
    clock: Arc<dyn Clock>,
}

impl RedisTaskStore {
    /// The task store of `store`, keeping time limits on `clock`.
    pub fn new(store: &RedisStore, clock: Arc<dyn Clock>) -> Self {
        Self {
            store: store.clone(),
            clock,
        }
    }

    fn now(&self) -> String {
        now_micros(self.clock.as_ref()).to_string()
    }

    /// The Redis expiry (ms) and the logical end (µs) of a time limit of `ttl` from now.
    fn limit(&self, ttl: Duration) -> (String, String) {
        let end = self.clock.now().plus(ttl).as_micros();
        (ttl_millis(ttl + EXPIRY_SLACK).to_string(), end.to_string())
    }

    fn task_key(&self, id: TaskId) -> String {
        self.store.key("task", &format!("{{{id}}}"))
    }

    /// The task's key and its hits' key (the order the scripts expect).
    fn keys(&self, id: TaskId) -> Vec<String> {
        vec![
            self.task_key(id),
            self.store.key("hits", &format!("{{{id}}}")),
        ]
    }
}

fn corrupt(what: &str) -> PortError {
    PortError::Internal(format!("corrupt search task in Redis: {what}"))
}

fn task_from_fields(id: TaskId, mut f: HashMap<String, String>) -> Result<SearchTask, PortError> {
    let mut field = |name: &str| f.remove(name).ok_or_else(|| corrupt(name));
    let account_id = AccountId::parse(&field("account")?).ok_or_else(|| corrupt("account"))?;
    // Stored from a parsed query's text, so it parses again to the same query.
    let query = SearchQuery::parse(&field("query")?).map_err(|_| corrupt("query"))?;
    let all_chats = field("all")? == "1";
    let status = TaskStatus::parse(&field("status")?).ok_or_else(|| corrupt("status"))?;
    let created_at = field("created")?
        .parse::<i64>()
        .map(Timestamp::from_micros)
        .map_err(|_| corrupt("created"))?;
    Ok(SearchTask {
        id,
        account_id,
        query,
        all_chats,
        status,
        created_at,
    })
}

#[async_trait]
impl TaskStore for RedisTaskStore {
    async fn insert_task(&self, task: &SearchTask, ttl: Duration) -> PortResult<()> {
        let (expiry, end) = self.limit(ttl);
        let args = vec![
            expiry,
            task.account_id.to_string(),
            task.query.as_str().to_owned(),
            if task.all_chats { "1" } else { "0" }.to_owned(),
            task.status.as_str().to_owned(),
            task.created_at.as_micros().to_string(),
            end,
        ];
        let _: i64 = self.store.script(&INSERT, self.keys(task.id), args).await?;
        Ok(())
    }

    async fn task(&self, id: TaskId) -> PortResult<Option<SearchTask>> {
        let fields: HashMap<String, String> = self
            .store
            .script(&READ, vec![self.task_key(id)], vec![self.now()])
            .await?;
        if fields.is_empty() {
            return Ok(None);
        }
        task_from_fields(id, fields).map(Some)
    }

    async fn set_status(&self, id: TaskId, status: TaskStatus, ttl: Duration) -> PortResult<bool> {
        let (expiry, end) = self.limit(ttl);
        let args = vec![self.now(), expiry, end, status.as_str().to_owned()];
        let done: i64 = self.store.script(&SET_STATUS, self.keys(id), args).await?;
        Ok(done == 1)
    }

    async fn complete(&self, id: TaskId, hits: &[SearchHit], ttl: Duration) -> PortResult<bool> {
        let (expiry, end) = self.limit(ttl);
        let mut args = Vec::with_capacity(hits.len() + 3);
        args.extend([self.now(), expiry, end]);
        for hit in hits {
            args.push(to_json(&HitDto::from_hit(hit))?);
        }
        let done: i64 = self.store.script(&COMPLETE, self.keys(id), args).await?;
        Ok(done == 1)
    }

    async fn hits(&self, id: TaskId, offset: u64, limit: u32) -> PortResult<Option<HitsSlice>> {
        // LRANGE takes signed 64-bit indexes; an offset past that has no hits anyway.
        let offset = offset.min(i64::MAX as u64 / 2);
        let args = vec![self.now(), offset.to_string(), limit.to_string()];
        let answer: Vec<Value> = self.store.script(&HITS, self.keys(id), args).await?;
        let mut items = answer.into_iter();
        let total = items
            .next()
            .and_then(|v| v.as_i64())
            .ok_or_else(|| corrupt("hits answer"))?;
        let Ok(total) = u64::try_from(total) else {
            return Ok(None);
        };
        let hits = items
            .map(|v| {
                let json = v.as_string().ok_or_else(|| corrupt("hit"))?;
                from_json::<HitDto>(&json, "search hit")?.into_hit()
            })
            .collect::<Result<Vec<_>, _>>()?;
        Ok(Some(HitsSlice { hits, total }))
    }

    async fn delete_task(&self, id: TaskId) -> PortResult<()> {
        let commands = self.store.commands();
        self.store.run(commands.del::<(), _>(self.keys(id))).await
    }
}
