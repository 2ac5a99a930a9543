-- An inbox per app: the SMTP user whose first mail made a mailbox (AUTH as `shop` sends
-- everything not for a live mailbox to `shop@DOMAIN`). NULL for every other mailbox.
ALTER TABLE mailbox ADD COLUMN smtp_user TEXT;
