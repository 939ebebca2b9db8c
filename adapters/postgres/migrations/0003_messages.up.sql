-- Messages, their search vectors, and idempotency keys.

CREATE TABLE messages (
    chat_id    uuid NOT NULL REFERENCES chats (id),
    seq        bigint NOT NULL,   -- 1, 2, 3, … per chat, in commit order
    id         uuid NOT NULL,
    user_id    uuid NOT NULL,
    user_name  text NOT NULL,
    text       text NOT NULL,
    created_at bigint NOT NULL,
    -- The domain tokenizer's words with their positions, written as a tsvector literal by
    -- the adapter (never PostgreSQL's parser, whose word rules differ).
    words      tsvector NOT NULL,
    -- Some word occurs more often than a tsvector keeps positions for (256), so a phrase
    -- may match beyond what `words` records: such rows are checked by the adapter.
    words_truncated boolean NOT NULL DEFAULT false,
    -- Keyset paging: (chat_id, seq) > (c, n) is one index range scan at any depth.
    PRIMARY KEY (chat_id, seq)
);

CREATE INDEX messages_words_idx ON messages USING gin (words);

CREATE TABLE idempotency_keys (
    chat_id     uuid NOT NULL,
    scope       text NOT NULL,
    key         text NOT NULL,
    fingerprint bytea NOT NULL,
    message_id  uuid NOT NULL,
    created_at  bigint NOT NULL,
    PRIMARY KEY (chat_id, scope, key)
);

-- Purging old keys.
CREATE INDEX idempotency_keys_created_at_idx ON idempotency_keys (created_at);
