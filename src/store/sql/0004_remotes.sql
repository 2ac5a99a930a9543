-- Remote Mailiy endpoints that mailboxes are synced from (API.md, Settings and remote accounts).
-- The API key lives only here: never in an API answer, a log line or the exported settings.

CREATE TABLE remote (
    id         TEXT PRIMARY KEY,                 -- rmt_...
    name       TEXT NOT NULL,
    url        TEXT NOT NULL,                    -- base URL, no trailing slash
    api_key    TEXT NOT NULL,
    created_at INTEGER NOT NULL                  -- Unix ms
);

-- A local mailbox that mirrors one on a remote endpoint (mailbox.origin = 'remote').
-- Goes with its local mailbox (expiry, delete) and with its remote account.
CREATE TABLE remote_mailbox (
    mailbox_id        TEXT PRIMARY KEY REFERENCES mailbox(id) ON DELETE CASCADE,
    remote_id         TEXT NOT NULL REFERENCES remote(id) ON DELETE CASCADE,
    remote_mailbox_id TEXT NOT NULL,
    -- The newest remote message taken in order: catch-up asks for what came `after=` it.
    cursor            TEXT,
    UNIQUE (remote_id, remote_mailbox_id)
);

-- Every remote message already taken, written in the same transaction as its local copy: the
-- primary key is what makes a message arrive once across reconnects and restarts of either
-- side. message_id is NULL for one that was skipped (over a local cap). Rows outlive a local
-- delete of the message, so a deleted message is not fetched again; they go with the mailbox.
CREATE TABLE remote_message (
    mailbox_id        TEXT NOT NULL REFERENCES mailbox(id) ON DELETE CASCADE,
    remote_message_id TEXT NOT NULL,
    message_id        TEXT,
    PRIMARY KEY (mailbox_id, remote_message_id)
) WITHOUT ROWID;
