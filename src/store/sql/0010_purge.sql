-- Big deletes without stalls (store/purge.rs): a deleted or expired mailbox with more messages
-- than one bounded chunk is hidden at once (`purging`, its expiry 0 and its address freed, so
-- no read, RCPT or wait finds it and the address can be taken again) and its messages are freed
-- by the writer a chunk at a time between other work. The partial index keeps the writer's
-- "anything to free?" check to one lookup in an index that is almost always empty.
-- Turning on incremental auto-vacuum (so freed pages go back to the file system) cannot be done
-- in a migration's transaction; the store does it at open (purge::use_incremental_vacuum).
ALTER TABLE mailbox ADD COLUMN purging INTEGER NOT NULL DEFAULT 0;
CREATE INDEX mailbox_purging ON mailbox(id) WHERE purging;
