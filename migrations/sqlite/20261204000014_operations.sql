-- Emergency operations (issue 14): named operators, who made and started each callout, the
-- two-person start, and the tamper-evident journal. The same tables and meaning as
-- migrations/postgres/20261204000014_operations.sql.

-- An operator: a name and the SHA-256 of its API token (the token itself is shown once, by
-- `scfm operators add`, and never stored). A revoked operator's token no longer authenticates.
CREATE TABLE operators (
    id            INTEGER PRIMARY KEY AUTOINCREMENT,
    name          TEXT    NOT NULL UNIQUE,
    token_sha256  TEXT    NOT NULL UNIQUE,
    created_at    TEXT    NOT NULL,
    revoked_at    TEXT
);

-- Who created and who started a callout (named operators only: the shared API credential of
-- SCFM leaves them NULL, so SCFM's JSON is unchanged), whether it needs a second operator's
-- approval to start, and who approved it, when.
ALTER TABLE callouts ADD COLUMN created_by TEXT;
ALTER TABLE callouts ADD COLUMN started_by TEXT;
ALTER TABLE callouts ADD COLUMN requires_approval INTEGER NOT NULL DEFAULT 0;
ALTER TABLE callouts ADD COLUMN approved_by TEXT;
ALTER TABLE callouts ADD COLUMN approved_at TEXT;

-- The journal: one row per operator action and provider event, each carrying the hash of the
-- one before (domain::journal has the encoding). Rows are only ever inserted: the triggers
-- refuse updates and deletes from scfm's own connections, and `scfm journal verify` finds a
-- change made around them (triggers dropped, the file edited) by the broken chain.
CREATE TABLE journal (
    seq         INTEGER PRIMARY KEY,
    at          TEXT    NOT NULL,
    actor       TEXT    NOT NULL,
    action      TEXT    NOT NULL,
    subject     TEXT    NOT NULL,
    callout_id  INTEGER,
    details     TEXT    NOT NULL,
    prev_hash   TEXT    NOT NULL,
    hash        TEXT    NOT NULL
);
CREATE INDEX journal_callout ON journal (callout_id, seq) WHERE callout_id IS NOT NULL;

-- The last entry's number and hash, written with every append in the same transaction: a
-- journal cut short at the end no longer reaches its head.
CREATE TABLE journal_head (
    id    INTEGER PRIMARY KEY CHECK (id = 1),
    seq   INTEGER NOT NULL,
    hash  TEXT    NOT NULL
);
INSERT INTO journal_head (id, seq, hash)
VALUES (1, 0, '0000000000000000000000000000000000000000000000000000000000000000');

CREATE TRIGGER journal_no_update BEFORE UPDATE ON journal
BEGIN SELECT RAISE(ABORT, 'the journal is append-only'); END;
CREATE TRIGGER journal_no_delete BEFORE DELETE ON journal
BEGIN SELECT RAISE(ABORT, 'the journal is append-only'); END;
