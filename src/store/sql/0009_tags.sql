-- Tags on messages (store/tags.rs): a name once in `tag`, linked to each message it labels.
-- A message's links go with it (cascade), and a tag no message carries any more is deleted
-- with its last link: a tag's name comes from mail (the X-Tags header), so nothing of a
-- deleted message may stay behind in it.
CREATE TABLE tag (
    id   INTEGER PRIMARY KEY,
    name TEXT NOT NULL UNIQUE COLLATE NOCASE
);
CREATE TABLE message_tag (
    message_seq INTEGER NOT NULL REFERENCES message(seq) ON DELETE CASCADE,
    tag_id      INTEGER NOT NULL REFERENCES tag(id) ON DELETE CASCADE,
    PRIMARY KEY (message_seq, tag_id)
) WITHOUT ROWID;
CREATE INDEX message_tag_by_tag ON message_tag(tag_id, message_seq);
CREATE TRIGGER tag_unused AFTER DELETE ON message_tag
WHEN NOT EXISTS (SELECT 1 FROM message_tag WHERE tag_id = OLD.tag_id) BEGIN
    DELETE FROM tag WHERE id = OLD.tag_id;
END;
