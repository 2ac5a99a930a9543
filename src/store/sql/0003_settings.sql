-- Settings changed at run time (API.md, Settings): one row per key, the value as JSON.
-- Flags and MAILIY_* variables given at start override these for that run.
CREATE TABLE setting (
    key   TEXT PRIMARY KEY,
    value TEXT NOT NULL
);
