-- The webhook's duplicate check ("an event with exactly these details was already stored for this
-- call") read every event of the call, details and all. It now looks up (phone_call_id,
-- details_hash) and compares details only for the rows with the same hash. The hash is the first
-- 8 bytes of SHA-1 over the details text, as a big-endian signed integer, computed by
-- src/store/events.rs. Events stored before this migration keep a NULL hash; the check compares
-- their details as before (they are found through the same index, under NULL).
-- The new index leads with phone_call_id, so it replaces the old one for lookups by call.
ALTER TABLE remote_phone_call_events ADD COLUMN details_hash INTEGER;
DROP INDEX remote_phone_call_events_phone_call;
CREATE INDEX remote_phone_call_events_call_hash ON remote_phone_call_events (phone_call_id, details_hash);
