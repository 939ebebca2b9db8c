-- Conversations: what the chat list needs without counting rows (each chat's activity,
-- last sequence number and member count beside it; per account and chat the read marker,
-- the creator flag and the number of current identities), members in joining order,
-- leaving and removal, and the event position.

-- The chat list's order. Every append already advances last_created_at in its own
-- transaction; a generated column keeps the activity in step without another statement.
ALTER TABLE chats
    ADD COLUMN activity bigint NOT NULL
        GENERATED ALWAYS AS (coalesce(last_created_at, created_at)) STORED,
    ADD COLUMN member_seq bigint NOT NULL DEFAULT 0,     -- the last join number given
    ADD COLUMN member_count bigint NOT NULL DEFAULT 0;   -- current members

-- No index on activity: it changes with every message, and an index on it would make
-- every append's update of the chat row a non-HOT update touching each of the chat's
-- indexes. An account's list reads its own chats by primary key instead; legacy mode's
-- list of every chat is a top-N sort over the chats.

-- Members are numbered in joining order; a member that left or was removed stays (its
-- messages refer to it) but is no longer active, and gives up its name ownership.
ALTER TABLE members
    ADD COLUMN join_seq bigint NOT NULL DEFAULT 0,
    ADD COLUMN active   boolean NOT NULL DEFAULT true,
    ADD COLUMN removed  boolean NOT NULL DEFAULT false;

UPDATE members m SET join_seq = n.rn
FROM (SELECT chat_id, id,
             row_number() OVER (PARTITION BY chat_id ORDER BY joined_at, id) AS rn
      FROM members) n
WHERE m.chat_id = n.chat_id AND m.id = n.id;

UPDATE chats c SET member_seq = n.cnt, member_count = n.cnt
FROM (SELECT chat_id, count(*) AS cnt FROM members GROUP BY chat_id) n
WHERE c.id = n.chat_id;

-- The members list: a chat's active members in joining order.
CREATE INDEX members_join_order_idx ON members (chat_id, join_seq) WHERE active;

-- An account's part in a chat. The chat list of an account is its rows here (primary
-- key range) joined to chats by primary key; unread = chats.last_seq - read_seq.
CREATE TABLE participants (
    account_id uuid NOT NULL,
    chat_id    uuid NOT NULL REFERENCES chats (id),
    is_creator boolean NOT NULL DEFAULT false,
    identities integer NOT NULL DEFAULT 0,     -- its active members in the chat
    read_seq   bigint NOT NULL DEFAULT 0,      -- the read marker: last message read
    barred     boolean NOT NULL DEFAULT false, -- removed by the creator: may not re-join
    PRIMARY KEY (account_id, chat_id)
);

-- Existing chats: everything before this migration counts as read.
INSERT INTO participants (account_id, chat_id, is_creator, identities, read_seq)
SELECT account_id, chat_id, bool_or(is_creator), sum(identities)::integer, max(last_seq)
FROM (SELECT creator AS account_id, id AS chat_id, true AS is_creator,
             0 AS identities, last_seq
      FROM chats
      UNION ALL
      SELECT m.account_id, m.chat_id, false, 1, c.last_seq
      FROM members m JOIN chats c ON c.id = m.chat_id) p
GROUP BY account_id, chat_id;

-- The event position: every change takes a value. The event log will replace it.
CREATE SEQUENCE event_position;

-- Posting moves the poster's read marker to its message, in the inserting transaction,
-- whichever statement inserts the message.
CREATE FUNCTION message_posted() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    UPDATE participants p SET read_seq = greatest(p.read_seq, NEW.seq)
    FROM members m
    WHERE m.chat_id = NEW.chat_id AND m.id = NEW.user_id
      AND p.account_id = m.account_id AND p.chat_id = NEW.chat_id;
    PERFORM nextval('event_position');
    RETURN NULL;
END
$$;

CREATE TRIGGER messages_posted AFTER INSERT ON messages
    FOR EACH ROW EXECUTE FUNCTION message_posted();
