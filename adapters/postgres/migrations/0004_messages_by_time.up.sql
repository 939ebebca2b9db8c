-- Search results are the newest matches first. For a common word, walking messages
-- newest first and stopping at the cap beats collecting every match from the GIN index
-- and sorting them; the planner picks per query.
CREATE INDEX messages_created_at_idx ON messages (created_at, id);
