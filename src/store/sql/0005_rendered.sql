-- A message is rendered once, at ingest, so that reading it parses and sanitizes nothing:
-- the HTML with remote content allowed (only when `html` had something remote blocked; else
-- `html` serves both views), and the links and one-time codes the API shows.
-- Rows stored before this migration are filled in by its Rust side (store/migrate.rs).
ALTER TABLE message_body ADD COLUMN html_remote TEXT;
ALTER TABLE message_body ADD COLUMN links_json  TEXT NOT NULL DEFAULT '[]';
ALTER TABLE message_body ADD COLUMN codes_json  TEXT NOT NULL DEFAULT '[]';
