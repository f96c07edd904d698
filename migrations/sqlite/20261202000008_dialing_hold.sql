-- Dialling held after the provider refused our credentials (HTTP 401/403): while the row
-- exists no process on this file claims a call, so queued calls wait instead of all ending
-- errored; a harmless request the provider accepts again (from any process) deletes it.
-- At most one row (id 1); no row: dialling is free.
CREATE TABLE dialing_hold (
    id INTEGER PRIMARY KEY CHECK (id = 1),
    reason TEXT NOT NULL,
    -- When dialling was first held.
    since TEXT NOT NULL,
    -- When the reason last changed.
    updated_at TEXT NOT NULL
);
