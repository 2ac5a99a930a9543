-- Mailboxes, messages (summary rows), their bodies, raw bytes and attachments.
-- Summary rows stay small so lists never touch bodies or blobs; every child row cascades from
-- its mailbox, so one DELETE of a mailbox removes everything sent to it.
-- Child tables are keyed by the message's integer `seq` (their rowid), and public message and
-- attachment ids are time-ordered, so inserts append to the right edge of every B-tree instead
-- of dirtying random pages: fewer pages per commit, cheaper group commits.

CREATE TABLE mailbox (
    id            TEXT PRIMARY KEY,
    address       TEXT NOT NULL UNIQUE,          -- stored lower-case
    tier          TEXT NOT NULL,
    created_at    INTEGER NOT NULL,              -- Unix ms
    expires_at    INTEGER NOT NULL,              -- Unix ms
    origin        TEXT NOT NULL DEFAULT 'local',
    remote        TEXT,
    -- Counters kept by triggers, so RCPT checks and lists stay O(1) per mailbox.
    bytes_used    INTEGER NOT NULL DEFAULT 0,
    message_count INTEGER NOT NULL DEFAULT 0,
    unread_count  INTEGER NOT NULL DEFAULT 0
);
CREATE INDEX mailbox_expires_at ON mailbox(expires_at);

CREATE TABLE message (
    seq             INTEGER PRIMARY KEY,         -- arrival order
    id              TEXT NOT NULL UNIQUE,
    mailbox_id      TEXT NOT NULL REFERENCES mailbox(id) ON DELETE CASCADE,
    received_at     INTEGER NOT NULL,
    envelope_from   TEXT NOT NULL,
    from_json       TEXT,
    to_json         TEXT NOT NULL,
    cc_json         TEXT NOT NULL,
    subject         TEXT NOT NULL,
    snippet         TEXT NOT NULL,
    size            INTEGER NOT NULL,
    has_attachments INTEGER NOT NULL,
    seen            INTEGER NOT NULL DEFAULT 0
);
CREATE INDEX message_mailbox_seq ON message(mailbox_id, seq);

CREATE TABLE message_body (
    message_seq    INTEGER PRIMARY KEY REFERENCES message(seq) ON DELETE CASCADE,
    date           INTEGER,
    header_msg_id  TEXT,
    reply_to_json  TEXT NOT NULL,
    headers_json   TEXT NOT NULL,
    text           TEXT,
    html           TEXT,                         -- sanitized, remote content blocked
    remote_blocked INTEGER NOT NULL,
    parse_note     TEXT
);

CREATE TABLE message_raw (
    message_seq INTEGER PRIMARY KEY REFERENCES message(seq) ON DELETE CASCADE,
    raw        BLOB NOT NULL
);

CREATE TABLE attachment (
    seq          INTEGER PRIMARY KEY,
    id           TEXT NOT NULL UNIQUE,
    message_seq  INTEGER NOT NULL REFERENCES message(seq) ON DELETE CASCADE,
    position     INTEGER NOT NULL,
    filename     TEXT NOT NULL,
    content_type TEXT NOT NULL,
    content_id   TEXT,
    inline       INTEGER NOT NULL,
    size         INTEGER NOT NULL,
    data         BLOB NOT NULL
);
CREATE INDEX attachment_message ON attachment(message_seq, position);

CREATE TRIGGER message_counted AFTER INSERT ON message BEGIN
    UPDATE mailbox SET bytes_used = bytes_used + NEW.size,
                       message_count = message_count + 1,
                       unread_count = unread_count + (NEW.seen = 0)
     WHERE id = NEW.mailbox_id;
END;
CREATE TRIGGER message_uncounted AFTER DELETE ON message BEGIN
    UPDATE mailbox SET bytes_used = bytes_used - OLD.size,
                       message_count = message_count - 1,
                       unread_count = unread_count - (OLD.seen = 0)
     WHERE id = OLD.mailbox_id;
END;
CREATE TRIGGER message_seen AFTER UPDATE OF seen ON message WHEN OLD.seen <> NEW.seen BEGIN
    UPDATE mailbox SET unread_count = unread_count + (CASE WHEN NEW.seen THEN -1 ELSE 1 END)
     WHERE id = NEW.mailbox_id;
END;
