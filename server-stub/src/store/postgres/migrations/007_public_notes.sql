-- Schema 6: pharmacies' public notes (see `notes`): every note by its client id (replay or
-- conflict), and the note each site shows, for the open data's `/v1/sites`.
CREATE TABLE notes (
    id UUID PRIMARY KEY,
    site TEXT NOT NULL,
    note TEXT,
    set_at TIMESTAMPTZ NOT NULL,
    changed_at TIMESTAMPTZ NOT NULL,
    recorded_at TIMESTAMPTZ NOT NULL
);
CREATE TABLE site_notes (
    site TEXT PRIMARY KEY,
    note_id UUID NOT NULL,
    note TEXT,
    changed_at TIMESTAMPTZ NOT NULL
);
