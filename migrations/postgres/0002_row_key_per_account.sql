-- Row key per (account, service, token) (issue 16).
--
-- Until now token_hash was a keyed BLAKE2b of (service, token), so the rows of two accounts
-- subscribed from one device shared it: a copy of this table linked a Session ID to its groups.
-- From now on token_hash is a keyed BLAKE2b of (account, service, token), with a key derived
-- from storage.key (src/store/seal.rs); token_sealed and enc_key_sealed are sealed with a fresh
-- nonce each. So no device-derived column of one account's row equals that of another account's
-- row for the same device, and the database alone can no longer find one token's rows across
-- accounts: invalid-token removal names the accounts (the relay's subscriber index knows them).
--
-- SQL cannot compute the keyed hash. This migration records which scheme the rows use; at
-- start the relay opens each row's sealed token, writes the new token_hash and sets the version
-- to 2, in one transaction (src/store/rekey.rs), and logs how many rows it re-keyed.
CREATE TABLE store_meta (
    name  TEXT   PRIMARY KEY,
    value BIGINT NOT NULL
);

-- 1: rows keyed by (service, token), to be re-keyed; 2: (account, service, token).
INSERT INTO store_meta (name, value)
SELECT 'row_key_version', CASE WHEN EXISTS (SELECT 1 FROM subscriptions) THEN 1 ELSE 2 END;

-- Served remove_token's lookup of one token across accounts, which no longer exists.
DROP INDEX subscriptions_token_hash;
