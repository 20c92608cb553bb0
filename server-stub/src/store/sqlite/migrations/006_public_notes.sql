-- Schema 5: pharmacies' public notes (see `notes`): every note by its client id (replay or
-- conflict), and the note each site shows, for the open data's `/v1/sites`.
CREATE TABLE notes (
    id TEXT PRIMARY KEY NOT NULL,
    site TEXT NOT NULL,
    note TEXT,
    set_at_ms INTEGER NOT NULL,
    changed_ms INTEGER NOT NULL,
    recorded_ms INTEGER NOT NULL
) STRICT;
CREATE TABLE site_notes (
    site TEXT PRIMARY KEY NOT NULL,
    note_id TEXT NOT NULL,
    note TEXT,
    changed_ms INTEGER NOT NULL
) STRICT;
