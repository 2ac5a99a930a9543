-- Each stored copy keeps its SMTP envelope (sender, recipients, HELO name, client, AUTH user,
-- TLS) and its session's transcript up to the end of DATA, as JSON, beside the body: lists
-- never read them, and they go with the message. NULL for mail stored before this migration
-- (its envelope is then `envelope_from` alone) and for mail that came without a session.
ALTER TABLE message_body ADD COLUMN envelope_json TEXT;
ALTER TABLE message_body ADD COLUMN transcript_json TEXT;
