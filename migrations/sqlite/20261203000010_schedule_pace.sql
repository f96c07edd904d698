-- Congestion control (issue 13): the pace of a schedule as a share of its cap (1: the full cap),
-- lowered when the provider or the network congests and raised again when it clears; when it
-- last changed (microseconds, the schedules' time line) and why it is below 1. Shared by every
-- process on this file, so they slow down and ramp up together.
ALTER TABLE schedules ADD COLUMN share REAL NOT NULL DEFAULT 1.0;
ALTER TABLE schedules ADD COLUMN share_at_us INTEGER NOT NULL DEFAULT 0;
ALTER TABLE schedules ADD COLUMN share_reason TEXT;
