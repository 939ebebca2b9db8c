DROP INDEX sessions_account_idx;
DROP INDEX sessions_public_id_idx;
ALTER TABLE sessions
    DROP COLUMN user_agent,
    DROP COLUMN client_address,
    DROP COLUMN public_id;
