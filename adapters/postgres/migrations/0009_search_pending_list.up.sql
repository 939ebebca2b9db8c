-- New messages enter the word index through its pending list (GIN's fast update), which
-- every search of the index reads whole, match or not. At the default limit (4 MB, about
-- 400 pages and 12,000 messages' words) that was about 1.9 ms of each rare-word search at
-- any table size; at 256 kB a search reads at most about 32 pending pages, and each
-- insert that moves the list into the index moves a sixteenth as much.
ALTER INDEX messages_words_idx SET (gin_pending_list_limit = 256);
