-- A message's HTML is rendered once, at ingest, so that reading it parses and sanitizes
-- nothing: beside `html` (remote content blocked), the HTML with remote content allowed, kept
-- only when `html` had something remote blocked (else `html` serves both views).
-- Rows stored before this migration are filled in by its Rust side (store/migrate.rs).
ALTER TABLE message_body ADD COLUMN html_remote TEXT;
