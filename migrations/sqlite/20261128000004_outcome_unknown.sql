-- A call given up as errored because its create request's outcome stayed unknown (a crash
-- mid-dial, a 5xx or a timeout after sending, no matching call found at the provider) may
-- have rung the phone. The campaign runner must never retry such a call automatically:
-- an operator decides. 1 marks those calls.
ALTER TABLE phone_calls ADD COLUMN outcome_unknown INTEGER NOT NULL DEFAULT 0;

-- A webhook for a SID scfm never heard of (the create's response was lost) finds its call by
-- the attempt token in the URL; only unresolved claims (still queued) are looked up that way.
CREATE INDEX phone_calls_open_dial_attempt ON phone_calls (dial_attempt_id)
    WHERE status = 'queued' AND dial_attempt_id IS NOT NULL;
