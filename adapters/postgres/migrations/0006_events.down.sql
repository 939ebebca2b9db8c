CREATE SEQUENCE event_position;

CREATE OR REPLACE FUNCTION message_posted() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    UPDATE participants p SET read_seq = greatest(p.read_seq, NEW.seq)
    FROM members m
    WHERE m.chat_id = NEW.chat_id AND m.id = NEW.user_id
      AND p.account_id = m.account_id AND p.chat_id = NEW.chat_id;
    PERFORM nextval('event_position');
    RETURN NULL;
END
$$;

DROP FUNCTION event_now();
DROP FUNCTION event_horizon();
DROP FUNCTION event_pos(integer);
DROP TABLE event_floor;
DROP TABLE events;
