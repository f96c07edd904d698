-- Journal entries as recorded, before they are chained. A change's transaction inserts its
-- entry here (no shared row to lock, so writers of all processes do not take turns on the
-- journal's head); the sealer (`Service::seal_journal`, run by every `scfm serve` and TUI and
-- before a verify or export) moves entries, in `id` order, into `journal`, each hashed after
-- the one before, and advances `journal_head`, in one transaction. Entries are never changed
-- here (trigger below), only moved out by the sealer.
CREATE TABLE journal_inbox (
    id          INTEGER PRIMARY KEY AUTOINCREMENT,
    at          TEXT    NOT NULL,
    actor       TEXT    NOT NULL,
    action      TEXT    NOT NULL,
    subject     TEXT    NOT NULL,
    callout_id  INTEGER,
    details     TEXT    NOT NULL
);

CREATE TRIGGER journal_inbox_no_update BEFORE UPDATE ON journal_inbox
BEGIN SELECT RAISE(ABORT, 'journal entries are not changed'); END;
