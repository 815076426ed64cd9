-- One row per subscription (PROTOCOL §2.6), identified by (account, service, token_hash).
-- Same logical schema as migrations/postgres; see there for the column notes.
--
-- No plaintext device token and no enc_key is stored: both are sealed with storage.key
-- (XChaCha20-Poly1305, src/store/seal.rs), and token_hash is a keyed BLAKE2b of (service, token),
-- so a copy of this file alone neither reveals a token nor links an account to one.
CREATE TABLE subscriptions (
    account          BLOB    NOT NULL CHECK (length(account) = 33),
    service          TEXT    NOT NULL,
    token_hash       BLOB    NOT NULL CHECK (length(token_hash) = 32),
    token_sealed     BLOB    NOT NULL,
    enc_key_sealed   BLOB    NOT NULL,
    session_ed25519  BLOB             CHECK (length(session_ed25519) = 32),
    subaccount_token BLOB             CHECK (length(subaccount_token) = 36),
    subaccount_sig   BLOB             CHECK (length(subaccount_sig) = 64),
    signature        BLOB    NOT NULL CHECK (length(signature) = 64),
    sig_ts           INTEGER NOT NULL,
    want_data        BOOLEAN NOT NULL,
    namespaces       BLOB    NOT NULL CHECK (length(namespaces) % 2 = 0),
    upsert_outcome   INTEGER NOT NULL DEFAULT 0,
    CHECK ((subaccount_token IS NULL) = (subaccount_sig IS NULL)),
    PRIMARY KEY (account, service, token_hash)
) WITHOUT ROWID;

CREATE INDEX subscriptions_sig_ts ON subscriptions (sig_ts);
CREATE INDEX subscriptions_token_hash ON subscriptions (token_hash);
