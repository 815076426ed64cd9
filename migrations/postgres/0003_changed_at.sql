-- When each row was last written (unix seconds), so a running relay can catch up on rows
-- another process wrote (import-spns, another replica) without a restart: it polls for rows
-- with changed_at at or after the newest it has seen, less a small overlap.
--
-- Postgres stamps the time itself (the trigger below), from the database's own clock, so the
-- writers' clocks never need to agree. Rows that existed before this migration get 0: a relay
-- loads them at start-up anyway.
ALTER TABLE subscriptions ADD COLUMN changed_at BIGINT NOT NULL DEFAULT 0;

CREATE FUNCTION subscriptions_stamp_changed_at() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    NEW.changed_at := floor(extract(epoch FROM clock_timestamp()))::bigint;
    RETURN NEW;
END
$$;

CREATE TRIGGER subscriptions_changed_at
    BEFORE INSERT OR UPDATE ON subscriptions
    FOR EACH ROW EXECUTE FUNCTION subscriptions_stamp_changed_at();

-- The catch-up poll: rows changed since a watermark.
CREATE INDEX subscriptions_changed_at ON subscriptions (changed_at);
