-- Appends :n messages to one chat of a running service's PostgreSQL schema, in a minute
-- where posting them over the API would take most of an hour on a small machine; for
-- measuring reads of a million-message chat (`messenger-bench run --walk-chat <id>`).
--
-- The first call (no :chat given, i.e. -v chat=new) creates the chat, its creator's one
-- member and its participant row, and prints the chat's id; later calls with -v chat=<id>
-- append to it. Messages follow the chat's last one, one microsecond apart, written by
-- its first member, with the same columns the adapter fills; the poster's read marker is
-- set once at the end. With -v words=1 each message is 5 to 20 words `wordI` of a 20,000-word
-- vocabulary drawn log-uniformly (what `messenger-bench seed --text words` posts and the
-- shapes scenario searches; about two minutes for 1,000,000 on two cores); otherwise it is
-- 'seeded message N'. Run from the repository root against the service's schema:
--
--   psql -h 127.0.0.1 -d test -v schema=messenger -v chat=new -v n=100000 -f bench/seed_chat.sql
--   psql -h 127.0.0.1 -d test -v schema=messenger -v chat=<id> -v n=900000 -f bench/seed_chat.sql
\set ON_ERROR_STOP on
\if :{?words}
\else
  \set words 0
\endif
SET search_path = :schema;
SET synchronous_commit = off;

BEGIN;
SELECT :'chat' = 'new' AS creating \gset
\if :creating
  SELECT replace(gen_random_uuid()::text, '-', '') AS chat \gset
  INSERT INTO chats (id, name, creator, created_at, member_seq, member_count)
  VALUES (:'chat'::uuid, 'seeded chat', gen_random_uuid(),
          (extract(epoch FROM now()) * 1000000)::bigint, 1, 1);
  INSERT INTO members (chat_id, id, account_id, name, joined_at, name_owner, join_seq)
  SELECT id, gen_random_uuid(), creator, 'seeder', created_at, true, 1
  FROM chats WHERE id = :'chat'::uuid;
  INSERT INTO participants (account_id, chat_id, is_creator, identities, read_seq)
  SELECT creator, id, true, 1, 0 FROM chats WHERE id = :'chat'::uuid;
\endif

INSERT INTO messages (chat_id, seq, id, user_id, user_name, text, created_at, words,
                      words_truncated)
SELECT c.id, c.last_seq + g, gen_random_uuid(), m.id, m.name, t.text,
       coalesce(c.last_created_at, c.created_at) + g, to_tsvector('simple', t.text), false
FROM chats c
JOIN LATERAL (SELECT id, name FROM members WHERE chat_id = c.id ORDER BY join_seq LIMIT 1) m
  ON true
CROSS JOIN generate_series(1, :n) g
-- `g` in the word count makes the subquery run once per message.
CROSS JOIN LATERAL (
  SELECT CASE WHEN :words = 1
              THEN (SELECT string_agg('word' || (floor(power(20000, random()))::int - 1), ' ')
                    FROM generate_series(1, 5 + floor(random() * 16)::int + 0 * g))
              ELSE 'seeded message ' || g END AS text
) t
WHERE c.id = :'chat'::uuid;

UPDATE chats SET last_seq = last_seq + :n,
                 last_created_at = coalesce(last_created_at, created_at) + :n
WHERE id = :'chat'::uuid;
UPDATE participants p SET read_seq = c.last_seq
FROM chats c WHERE c.id = p.chat_id AND p.chat_id = :'chat'::uuid AND p.is_creator;
COMMIT;

ANALYZE messages;
SELECT :'chat' AS chat_id, last_seq AS messages FROM chats WHERE id = :'chat'::uuid;
