-- The event log: every change clients hear of, recorded in the change's own transaction.
--
-- Order: an event's position is its transaction's id (xid8) shifted left by 20 bits, plus
-- its ordinal within the transaction. Transaction ids are taken in one order and
-- committed in another, so readers only read below the horizon: the oldest transaction
-- id still running (pg_snapshot_xmin), below which every transaction has ended. Nothing
-- can ever appear below a position a reader was given. Writers of a chat take the chat's
-- advisory lock before their first write, so a chat's transactions take their ids in the
-- order they commit: a chat's events are in the order of its changes.
CREATE TABLE events (
    pos          bigint PRIMARY KEY,
    at           bigint NOT NULL,   -- when recorded (µs): retention
    kind         smallint NOT NULL, -- 1 message.created, 2 member.joined, 3 member.left,
                                    -- 4 chat.created, 5 chat.renamed, 6 read.updated
    chat_id      uuid NOT NULL,
    account_id   uuid,              -- the member's account, the creator, the marker's owner
    user_id      uuid,              -- the member (joined, left)
    name         text,              -- the member's name (joined), the chat's (created, renamed)
    seq          bigint,            -- the message (its row in messages), the read marker
    unread       bigint,            -- read.updated: messages after the marker
    removed      boolean,           -- member.left: removed by the creator
    reads_before boolean,           -- membership events: the account read the chat before
    reads_after  boolean            -- … and after
);

-- An account's own membership events after a position (the chats it read there).
CREATE INDEX events_membership_idx ON events (account_id, pos) WHERE kind IN (2, 3, 4);
-- Purging by age: times grow with insertion, so a BRIN index is enough and costs little.
CREATE INDEX events_at_idx ON events USING brin (at);

-- The newest purged position: positions below it cannot be replayed.
CREATE TABLE event_floor (
    one boolean PRIMARY KEY DEFAULT true CHECK (one),
    pos bigint NOT NULL
);
INSERT INTO event_floor (pos) VALUES (0);

CREATE FUNCTION event_pos(ord integer) RETURNS bigint LANGUAGE sql VOLATILE AS $$
    SELECT (pg_current_xact_id()::text::bigint << 20) | ord
$$;

CREATE FUNCTION event_horizon() RETURNS bigint LANGUAGE sql STABLE AS $$
    SELECT pg_snapshot_xmin(pg_current_snapshot())::text::bigint << 20
$$;

CREATE FUNCTION event_now() RETURNS bigint LANGUAGE sql STABLE AS $$
    SELECT (extract(epoch FROM statement_timestamp()) * 1000000)::bigint
$$;

-- The log replaces the event position counter.
CREATE OR REPLACE FUNCTION message_posted() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    UPDATE participants p SET read_seq = greatest(p.read_seq, NEW.seq)
    FROM members m
    WHERE m.chat_id = NEW.chat_id AND m.id = NEW.user_id
      AND p.account_id = m.account_id AND p.chat_id = NEW.chat_id;
    RETURN NULL;
END
$$;

DROP SEQUENCE event_position;
