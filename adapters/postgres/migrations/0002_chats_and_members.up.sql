-- Chats and their members.

CREATE TABLE chats (
    id              uuid PRIMARY KEY,
    name            text NOT NULL,
    creator         uuid NOT NULL,  -- an account id (or the anonymous one: no foreign key)
    created_at      bigint NOT NULL,
    -- The last message's sequence number and time, advanced by each insert in the
    -- inserting transaction: the row lock orders a chat's messages.
    last_seq        bigint NOT NULL DEFAULT 0,
    last_created_at bigint
);

-- Search scope: the chats an account created.
CREATE INDEX chats_creator_idx ON chats (creator);

CREATE TABLE members (
    chat_id    uuid NOT NULL REFERENCES chats (id),
    id         uuid NOT NULL,
    account_id uuid NOT NULL,
    name       text NOT NULL,
    joined_at  bigint NOT NULL,
    -- The first member of its (chat, account, name): the one a join that reuses gets.
    -- Legacy mode stores further members of the same name with this false.
    name_owner boolean NOT NULL,
    PRIMARY KEY (chat_id, id)
);

-- At most one name owner per (chat, account, name), also under concurrent joins.
CREATE UNIQUE INDEX members_name_owner_idx ON members (chat_id, account_id, name)
    WHERE name_owner;

-- Access checks and search scope: the chats an account has a member in.
CREATE INDEX members_account_idx ON members (account_id, chat_id);
