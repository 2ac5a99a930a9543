-- The full-text index of search (store/search.rs): one row per message, its rowid the
-- message's seq. It keeps a copy of what it indexed: deleting a row must name its words to
-- take them out (a contentless table only marks the row deleted, and every word stays on
-- disk). `unicode61 remove_diacritics 2` folds
-- case and accents ("muller" finds "Müller"); why this tokenizer: docs/design.md#search.
-- Rows of messages stored before this migration are filled in by its Rust side
-- (store/migrate.rs).
CREATE VIRTUAL TABLE message_fts USING fts5(
    subject, sender, to_addr, cc_addr, bcc_addr, reply_to, message_id, body,
    tokenize = 'unicode61 remove_diacritics 2'
);
-- secure-delete: a deleted row's words are removed from the index's pages, not just marked
-- deleted until a merge, so with the database's own secure_delete nothing of them remains.
INSERT INTO message_fts (message_fts, rank) VALUES ('secure-delete', 1);
-- Every way a message goes (its own DELETE, its mailbox's cascade) takes its index row along.
CREATE TRIGGER message_unindexed AFTER DELETE ON message BEGIN
    DELETE FROM message_fts WHERE rowid = OLD.seq;
END;
