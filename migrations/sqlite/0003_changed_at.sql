-- When each row was last written (unix seconds), so a running relay can catch up on rows
-- another process wrote (import-spns) without a restart. See migrations/postgres; SQLite is
-- one machine's file, so the writer's clock (bound by the upsert) is the database's clock.
-- Rows that existed before this migration get 0: a relay loads them at start-up anyway.
ALTER TABLE subscriptions ADD COLUMN changed_at INTEGER NOT NULL DEFAULT 0;

CREATE INDEX subscriptions_changed_at ON subscriptions (changed_at);
