-- The CAP import ledger (issue 14): see migrations/sqlite/20261204000018_cap_alerts.sql, the
-- same table and meaning.
CREATE TABLE cap_alerts (
    sender       text COLLATE "C" NOT NULL,
    identifier   text COLLATE "C" NOT NULL,
    msg_type     text COLLATE "C" NOT NULL,
    callout_id   bigint REFERENCES callouts (id) ON DELETE SET NULL,
    state        text COLLATE "C" NOT NULL DEFAULT 'done',
    imported_at  text COLLATE "C" NOT NULL,
    PRIMARY KEY (sender, identifier)
);
CREATE INDEX cap_alerts_callout ON cap_alerts (callout_id);

INSERT INTO cap_alerts (sender, identifier, msg_type, callout_id, imported_at)
SELECT metadata::json ->> 'cap_sender', metadata::json ->> 'cap_identifier',
       COALESCE(metadata::json ->> 'cap_msg_type', 'Alert'), id, created_at
FROM callouts
WHERE json_typeof(metadata::json -> 'cap_sender') = 'string'
  AND json_typeof(metadata::json -> 'cap_identifier') = 'string'
ON CONFLICT DO NOTHING;
INSERT INTO cap_alerts (sender, identifier, msg_type, callout_id, imported_at)
SELECT metadata::json ->> 'cap_sender', metadata::json ->> 'cap_cancelled_by', 'Cancel', id, updated_at
FROM callouts
WHERE json_typeof(metadata::json -> 'cap_sender') = 'string'
  AND json_typeof(metadata::json -> 'cap_cancelled_by') = 'string'
ON CONFLICT DO NOTHING;
