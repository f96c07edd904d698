-- Congestion control (issue 13): the pace of a schedule as a share of its cap (1: the full cap),
-- lowered when the provider or the network congests and raised again when it clears; when it
-- last changed (microseconds on the server's clock) and why it is below 1. Shared by every
-- process on this database, so they slow down and ramp up together.
ALTER TABLE schedules
    ADD COLUMN share double precision NOT NULL DEFAULT 1.0,
    ADD COLUMN share_at_us bigint NOT NULL DEFAULT 0,
    ADD COLUMN share_reason text;
