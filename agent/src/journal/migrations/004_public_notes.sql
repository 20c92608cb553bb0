-- The pharmacy's public note (one key at the counter), synced like a listing change but with
-- its own UUIDv7 (the server's idempotency key). `note` NULL clears it.
CREATE TABLE public_notes (
    seq              INTEGER PRIMARY KEY AUTOINCREMENT,
    id               TEXT NOT NULL UNIQUE,
    note             TEXT,
    set_at_ms        INTEGER NOT NULL,
    sync_state       TEXT NOT NULL DEFAULT 'queued'
                     CHECK (sync_state IN ('queued', 'synced', 'superseded', 'rejected')),
    reject_reason    TEXT,
    synced_at_ms     INTEGER
) STRICT;
