-- Each participation carries a summary of its calls: how many, the last one's id, status, and
-- when that status was reached. The campaign runner and the progress report read these through
-- an index instead of aggregating every call of the callout once a second (which held SQLite's
-- write lock for 125 ms per tick at 100,000 participations, and grew with the campaign).
-- Triggers keep the summary true on every write to phone_calls, whoever makes it.
ALTER TABLE callout_participations ADD COLUMN call_count INTEGER NOT NULL DEFAULT 0;
ALTER TABLE callout_participations ADD COLUMN last_call_id INTEGER;
ALTER TABLE callout_participations ADD COLUMN last_call_status TEXT;
ALTER TABLE callout_participations ADD COLUMN last_call_status_at TEXT;

UPDATE callout_participations SET
    call_count = (SELECT count(*) FROM phone_calls pc WHERE pc.callout_participation_id = callout_participations.id),
    last_call_id = (SELECT max(id) FROM phone_calls pc WHERE pc.callout_participation_id = callout_participations.id);
UPDATE callout_participations SET
    last_call_status = (SELECT status FROM phone_calls pc WHERE pc.id = callout_participations.last_call_id),
    last_call_status_at = (SELECT updated_at FROM phone_calls pc WHERE pc.id = callout_participations.last_call_id)
WHERE last_call_id IS NOT NULL;

-- Never called yet, in id order (the runner's first attempts).
CREATE INDEX callout_participations_uncalled ON callout_participations (callout_id) WHERE call_count = 0;
-- Due for a retry: one range per (status, attempts) up to the cut-off time of that attempt.
CREATE INDEX callout_participations_last_call
    ON callout_participations (callout_id, last_call_status, call_count, last_call_status_at);

CREATE TRIGGER phone_calls_summary_insert AFTER INSERT ON phone_calls
WHEN NEW.callout_participation_id IS NOT NULL
BEGIN
    UPDATE callout_participations SET call_count = call_count + 1, last_call_id = NEW.id,
        last_call_status = NEW.status, last_call_status_at = NEW.updated_at
    WHERE id = NEW.callout_participation_id;
END;

CREATE TRIGGER phone_calls_summary_status AFTER UPDATE OF status ON phone_calls
WHEN NEW.callout_participation_id IS NOT NULL AND OLD.status IS NOT NEW.status
BEGIN
    UPDATE callout_participations SET last_call_status = NEW.status, last_call_status_at = NEW.updated_at
    WHERE id = NEW.callout_participation_id AND last_call_id = NEW.id;
END;

CREATE TRIGGER phone_calls_summary_delete AFTER DELETE ON phone_calls
WHEN OLD.callout_participation_id IS NOT NULL
BEGIN
    UPDATE callout_participations SET
        call_count = call_count - 1,
        last_call_id = (SELECT max(id) FROM phone_calls WHERE callout_participation_id = OLD.callout_participation_id)
    WHERE id = OLD.callout_participation_id;
    UPDATE callout_participations SET
        last_call_status = (SELECT status FROM phone_calls WHERE id = callout_participations.last_call_id),
        last_call_status_at = (SELECT updated_at FROM phone_calls WHERE id = callout_participations.last_call_id)
    WHERE id = OLD.callout_participation_id;
END;
