-- The automatic relay's queue (docs/api.md, Release and relay). A job is written in the same
-- transaction as the message it may relay, so a message acknowledged with 250 is never lost
-- to a restart, a kill or a long relay outage; it is worked by one worker with backoff.
-- A job holds no mail content (only its message's seq) and cascades from its message, so
-- nothing of a deleted message stays here.

CREATE TABLE relay_job (
    seq         INTEGER PRIMARY KEY,             -- enqueue order
    id          TEXT NOT NULL UNIQUE,            -- rly_..., as the deliveries list shows it
    message_seq INTEGER NOT NULL REFERENCES message(seq) ON DELETE CASCADE,
    state       TEXT NOT NULL DEFAULT 'pending', -- pending | sent | failed
    attempts    INTEGER NOT NULL DEFAULT 0,
    next_at     INTEGER NOT NULL,                -- Unix ms; meaningful while pending
    last_error  TEXT,
    response    TEXT,                            -- the relay's reply once sent
    created_at  INTEGER NOT NULL,
    finished_at INTEGER
);
-- The worker's query: due pending rows, earliest first.
CREATE INDEX relay_job_due ON relay_job(state, next_at);
-- The cascade from a message delete looks its jobs up here.
CREATE INDEX relay_job_message ON relay_job(message_seq);
