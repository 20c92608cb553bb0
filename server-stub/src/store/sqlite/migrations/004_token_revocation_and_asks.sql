-- Schema 4: token revocation, the token generation servers poll to forget cached
-- tokens (see `http::auth`), and the audit of eligibility questions (masked ID and
-- keyed person key only). `seq` is the rowid: the time index carries it, so a page in
-- (asked_ms, seq) order is one index range.
ALTER TABLE tokens ADD COLUMN revoked_ms INTEGER;
CREATE TABLE token_state (
    id INTEGER PRIMARY KEY CHECK (id = 1),
    generation INTEGER NOT NULL
) STRICT;
INSERT INTO token_state (id, generation) VALUES (1, 0);
CREATE TABLE eligibility_asks (
    seq INTEGER PRIMARY KEY,
    asked_ms INTEGER NOT NULL,
    site TEXT NOT NULL,
    token_id TEXT NOT NULL,
    person BLOB NOT NULL CHECK (length(person) = 16),
    id_masked TEXT NOT NULL
) STRICT;
CREATE INDEX eligibility_asks_by_time ON eligibility_asks (asked_ms);
