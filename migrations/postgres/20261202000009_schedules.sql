-- Schedules shared by every process on this database, one row each, holding the next free slot
-- in microseconds since the Unix epoch on the server's clock (clock_timestamp(), so processes on
-- several machines share one time line); the row lock serializes takers:
-- - 'dial:default': the account-wide calls-per-second cap. A dialler claims calls and reserves
--   one slot per call in the same transaction, then sends each create at its slot;
-- - 'campaign_pass': the campaign runner's pass, taken by one process per interval.
CREATE TABLE schedules (
    name     text COLLATE "C" PRIMARY KEY,
    next_us  bigint NOT NULL
);
