-- 1,000,000 messages for timing searches, in about a minute (the adapter would take most
-- of an hour): the migrations' tables in schema :schema, 1,000 chats (the first 10
-- created by account 00…01, the others by 00…02), messages of 5 to 20 words from a
-- 20,000-word vocabulary drawn log-uniformly (as pg_bench writes them), spread over the
-- chats, one millisecond apart. The words' tsvector is PostgreSQL's 'simple' one, which
-- for these ASCII words is what the adapter writes. Run from the repository root:
--   psql -h 127.0.0.1 -d test -v schema=bench_search -f adapters/postgres/examples/seed_search.sql
--   SEARCH_SCHEMA=bench_search cargo run --release -p messenger-postgres --example pg_bench
-- and drop the schema afterwards.
\set ON_ERROR_STOP on
DROP SCHEMA IF EXISTS :schema CASCADE;
CREATE SCHEMA :schema;
SET search_path = :schema;
\i adapters/postgres/migrations/0001_accounts_and_sessions.up.sql
\i adapters/postgres/migrations/0002_chats_and_members.up.sql
\i adapters/postgres/migrations/0003_messages.up.sql
\i adapters/postgres/migrations/0004_messages_by_time.up.sql
SET synchronous_commit = off;
CREATE TABLE chat_list AS
  SELECT i AS idx, gen_random_uuid() AS id, gen_random_uuid() AS member_id,
         CASE WHEN i < 10 THEN '00000000-0000-0000-0000-000000000001'::uuid
              ELSE '00000000-0000-0000-0000-000000000002'::uuid END AS creator
  FROM generate_series(0, 999) i;
INSERT INTO chats (id, name, creator, created_at) SELECT id, 'chat ' || idx, creator, 0 FROM chat_list;
INSERT INTO members SELECT id, member_id, creator, 'member', 0, true FROM chat_list;
DROP INDEX messages_words_idx; DROP INDEX messages_created_at_idx;
ALTER TABLE messages DROP CONSTRAINT messages_pkey;
INSERT INTO messages (chat_id, seq, id, user_id, user_name, text, created_at, words, words_truncated)
SELECT ch.id, (g - 1) / 1000 + 1, gen_random_uuid(), ch.member_id, 'member', t.text,
       1700000000000000 + g * 1000, to_tsvector('simple', t.text), false
FROM generate_series(1, 1000000) g
JOIN chat_list ch ON ch.idx = (g - 1) % 1000
CROSS JOIN LATERAL (
  SELECT string_agg('word' || (floor(power(20000, random()))::int - 1), ' ') AS text
  FROM generate_series(1, 5 + floor(random() * 16)::int + 0 * g)
) t;
ALTER TABLE messages ADD PRIMARY KEY (chat_id, seq);
CREATE INDEX messages_words_idx ON messages USING gin (words);
CREATE INDEX messages_created_at_idx ON messages (created_at, id);
UPDATE chats c SET last_seq = 1000, last_created_at = 0;
VACUUM ANALYZE messages; VACUUM ANALYZE chats; VACUUM ANALYZE members;
SELECT count(*), pg_size_pretty(pg_total_relation_size('messages')), pg_size_pretty(pg_relation_size('messages_words_idx')) FROM messages;
