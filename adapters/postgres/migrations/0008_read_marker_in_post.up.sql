-- The poster's read marker moves in the statement that stores the message (it reads the
-- poster's member row anyway, to check it), not in a row trigger that looked the member
-- up again: one lookup and one trigger call less per post.
DROP TRIGGER messages_posted ON messages;
DROP FUNCTION message_posted();
