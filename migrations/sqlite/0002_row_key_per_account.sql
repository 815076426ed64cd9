-- Row key per (account, service, token) (issue 16). Same as migrations/postgres; see there.
--
-- token_hash becomes a keyed BLAKE2b of (account, service, token), so no device-derived column
-- of one account's row equals that of another account's row for the same device. The relay
-- re-keys existing rows at start, once, in one transaction (src/store/rekey.rs), and sets
-- row_key_version to 2.
CREATE TABLE store_meta (
    name  TEXT    PRIMARY KEY,
    value INTEGER NOT NULL
);

-- 1: rows keyed by (service, token), to be re-keyed; 2: (account, service, token).
INSERT INTO store_meta (name, value)
SELECT 'row_key_version', CASE WHEN EXISTS (SELECT 1 FROM subscriptions) THEN 1 ELSE 2 END;

DROP INDEX subscriptions_token_hash;
