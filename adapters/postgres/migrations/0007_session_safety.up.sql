-- Account safety: each session's public id and where its login came from.
--
-- The public id names a session to its owner (the list of sessions, ending one of them).
-- It is the domain's rule — the first 16 bytes of SHA-256 of the token hash — computed by
-- the database, so existing rows get theirs too; it cannot be turned back into the token
-- nor into its hash.
ALTER TABLE sessions
    ADD COLUMN public_id bytea NOT NULL
        GENERATED ALWAYS AS (substring(sha256(token_hash) FROM 1 FOR 16)) STORED,
    ADD COLUMN client_address text NOT NULL DEFAULT '',  -- as the limits key it
    ADD COLUMN user_agent text;                          -- cut to 256 characters; NULL: none sent

CREATE UNIQUE INDEX sessions_public_id_idx ON sessions (public_id);

-- An account's sessions, newest first: its list, and ending all of them.
CREATE INDEX sessions_account_idx ON sessions (account_id, created_at DESC, token_hash DESC);
