-- One row per subscription (PROTOCOL §2.6), identified by (account, service, token_hash).
--
-- No plaintext device token and no enc_key is stored: both are sealed with storage.key
-- (XChaCha20-Poly1305, src/store/seal.rs), and token_hash is a keyed BLAKE2b of (service, token),
-- so a copy of this table alone neither reveals a token nor links an account to one.
CREATE TABLE subscriptions (
    account          BYTEA    NOT NULL CHECK (length(account) = 33),
    service          TEXT     NOT NULL,
    token_hash       BYTEA    NOT NULL CHECK (length(token_hash) = 32),
    token_sealed     BYTEA    NOT NULL,
    enc_key_sealed   BYTEA    NOT NULL,
    session_ed25519  BYTEA             CHECK (length(session_ed25519) = 32),
    subaccount_token BYTEA             CHECK (length(subaccount_token) = 36),
    subaccount_sig   BYTEA             CHECK (length(subaccount_sig) = 64),
    signature        BYTEA    NOT NULL CHECK (length(signature) = 64),
    sig_ts           BIGINT   NOT NULL,
    want_data        BOOLEAN  NOT NULL,
    -- Each namespace as a 2-byte big-endian two's-complement integer, ascending.
    namespaces       BYTEA    NOT NULL CHECK (length(namespaces) % 2 = 0),
    -- What the last upsert of this row did: 0 added, 1 renewed, 2 renewed with a monitor change.
    -- Set in ON CONFLICT DO UPDATE and read back with RETURNING, so one atomic statement can
    -- report the outcome (Postgres before 18 cannot RETURN the old row).
    upsert_outcome   SMALLINT NOT NULL DEFAULT 0,
    CHECK ((subaccount_token IS NULL) = (subaccount_sig IS NULL)),
    -- Also the per-account index: account is its leading column.
    PRIMARY KEY (account, service, token_hash)
);

-- Expiry (sig_ts + 14 days) and the live-row filters.
CREATE INDEX subscriptions_sig_ts ON subscriptions (sig_ts);
-- remove_token: one device token across every account.
CREATE INDEX subscriptions_token_hash ON subscriptions (token_hash);
