-- Webhooks and their delivery queue (API.md, Webhooks). The queue lives here, not in memory,
-- so a delivery that is pending when the engine stops is sent after the next start.

CREATE TABLE webhook (
    id          TEXT PRIMARY KEY,
    url         TEXT NOT NULL,
    -- A webhook filtered to one mailbox goes with it: mailbox ids are never reused, so it
    -- could never fire again. Its queued deliveries go too (they cascade from the webhook).
    mailbox_id  TEXT REFERENCES mailbox(id) ON DELETE CASCADE,
    events_json TEXT NOT NULL,                   -- ["message.received", ...]
    secret      TEXT NOT NULL,                   -- HMAC-SHA256 key, as given to the user
    created_at  INTEGER NOT NULL                 -- Unix ms
);
-- Every mailbox delete (and each one the expiry sweep makes) looks up its webhooks here.
CREATE INDEX webhook_mailbox ON webhook(mailbox_id);

CREATE TABLE webhook_delivery (
    seq         INTEGER PRIMARY KEY,             -- enqueue order
    id          TEXT NOT NULL UNIQUE,            -- dlv_..., the X-Mailiy-Delivery header
    webhook_id  TEXT NOT NULL REFERENCES webhook(id) ON DELETE CASCADE,
    event_name  TEXT NOT NULL,
    -- The exact JSON bytes that are signed and sent, identical on every attempt. Cleared once
    -- the delivery is finished, so no mail summary outlives its use here.
    body        BLOB,
    state       TEXT NOT NULL DEFAULT 'pending', -- pending | delivered | failed
    attempts    INTEGER NOT NULL DEFAULT 0,
    next_at     INTEGER NOT NULL,                -- Unix ms; meaningful while pending
    last_status INTEGER,                         -- HTTP status of the last attempt, if any
    last_error  TEXT,
    created_at  INTEGER NOT NULL,
    finished_at INTEGER
);
-- The worker's query: due pending rows, earliest first.
CREATE INDEX webhook_delivery_due ON webhook_delivery(state, next_at);
-- Per-webhook listing and pruning of finished rows.
CREATE INDEX webhook_delivery_webhook ON webhook_delivery(webhook_id, seq);
