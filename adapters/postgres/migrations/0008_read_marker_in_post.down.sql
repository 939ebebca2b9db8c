CREATE FUNCTION message_posted() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    UPDATE participants p SET read_seq = greatest(p.read_seq, NEW.seq)
    FROM members m
    WHERE m.chat_id = NEW.chat_id AND m.id = NEW.user_id
      AND p.account_id = m.account_id AND p.chat_id = NEW.chat_id;
    RETURN NULL;
END
$$;

CREATE TRIGGER messages_posted AFTER INSERT ON messages
    FOR EACH ROW EXECUTE FUNCTION message_posted();
