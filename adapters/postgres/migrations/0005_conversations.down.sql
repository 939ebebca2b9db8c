DROP TRIGGER messages_posted ON messages;
DROP FUNCTION message_posted();
DROP SEQUENCE event_position;
DROP TABLE participants;
-- Without the notion of leaving, a member that left would count again: forget it (its
-- messages keep its name).
DELETE FROM members WHERE NOT active;
DROP INDEX members_join_order_idx;
ALTER TABLE members DROP COLUMN removed, DROP COLUMN active, DROP COLUMN join_seq;
ALTER TABLE chats DROP COLUMN member_count, DROP COLUMN member_seq, DROP COLUMN activity;
