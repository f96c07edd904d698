-- Provider failover (issue 13): two routes, the primary provider account and a fallback.
-- Each call records the route that placed it (NULL: not placed yet); its polls, its
-- reconciliation and its webhooks' signatures use that route's account.
ALTER TABLE phone_calls ADD COLUMN route TEXT;
-- The dialling hold becomes one row per route: id 1 the primary, id 2 the fallback. SQLite
-- cannot change a CHECK constraint, so the table is rebuilt (a hold in place is kept).
CREATE TABLE dialing_hold_by_route (
    id INTEGER PRIMARY KEY CHECK (id IN (1, 2)),
    reason TEXT NOT NULL,
    since TEXT NOT NULL,
    updated_at TEXT NOT NULL
);
INSERT INTO dialing_hold_by_route (id, reason, since, updated_at)
    SELECT id, reason, since, updated_at FROM dialing_hold;
DROP TABLE dialing_hold;
ALTER TABLE dialing_hold_by_route RENAME TO dialing_hold;
