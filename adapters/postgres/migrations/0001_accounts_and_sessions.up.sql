-- Accounts and the durable record of sessions.
-- Times are microseconds since the Unix epoch (UTC), as the domain's Timestamp holds them.
-- The anonymous account of legacy mode (id 0) never has a row here, so nothing refers to
-- this table by foreign key.

CREATE TABLE accounts (
    id            uuid PRIMARY KEY,
    name          text NOT NULL,   -- unique case-sensitively (deterministic collation)
    password_hash text NOT NULL,   -- PHC string
    created_at    bigint NOT NULL,
    CONSTRAINT accounts_name_key UNIQUE (name)
);

CREATE TABLE sessions (
    token_hash bytea PRIMARY KEY,  -- SHA-256 of the token; the token is never stored
    account_id uuid NOT NULL,
    created_at bigint NOT NULL,
    expires_at bigint NOT NULL,
    revoked    boolean NOT NULL DEFAULT false
);

-- Purging expired sessions.
CREATE INDEX sessions_expires_at_idx ON sessions (expires_at);
