ALTER INDEX messages_words_idx RESET (gin_pending_list_limit);
