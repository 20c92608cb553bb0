-- Schema 5: token revocation, the token generation servers poll to forget cached tokens
-- (see `http::auth`), and the audit of eligibility questions (masked ID and keyed person
-- key only), paged in (asked_at, seq) order.
ALTER TABLE tokens ADD COLUMN revoked_at TIMESTAMPTZ;
CREATE TABLE token_state (
    id SMALLINT PRIMARY KEY CHECK (id = 1),
    generation BIGINT NOT NULL
);
INSERT INTO token_state (id, generation) VALUES (1, 0);
CREATE TABLE eligibility_asks (
    seq BIGSERIAL PRIMARY KEY,
    asked_at TIMESTAMPTZ NOT NULL,
    site TEXT NOT NULL,
    token_id TEXT NOT NULL,
    person BYTEA NOT NULL CHECK (octet_length(person) = 16),
    id_masked TEXT NOT NULL
);
CREATE INDEX eligibility_asks_by_time ON eligibility_asks (asked_at, seq);
