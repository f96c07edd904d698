-- Schedules shared by every process on this file, one row each, holding the next free slot in
-- microseconds since the Unix epoch:
-- - 'dial:default': the account-wide calls-per-second cap. A dialler claims calls and reserves
--   one slot per call in the same write transaction, then sends each create at its slot, so all
--   processes together keep the cap;
-- - 'campaign_pass': the campaign runner's pass, taken by one process per interval.
CREATE TABLE schedules (
    name TEXT PRIMARY KEY,
    next_us INTEGER NOT NULL
);
