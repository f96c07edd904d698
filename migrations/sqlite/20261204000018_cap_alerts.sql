-- The CAP import ledger (issue 14): one row per CAP message (sender, identifier) scfm has taken,
-- whatever its msgType, and the callout it drafted, updated or cancelled. The primary key makes
-- "import each alert once" a constraint, so a feed poll, `scfm cap import` and the TUI's `:cap`
-- racing on one alert draft it once; and an Update's references find their draft here even
-- after an earlier Update gave the draft its own identifier. The same table and meaning as
-- migrations/postgres/20261204000018_cap_alerts.sql.
--
-- state: 'drafting' while an import is under way (taken, callout not yet known), 'done' after.
-- A 'done' row whose callout was deleted keeps the alert handled for feeds (callout_id NULL);
-- an explicit import may draft it again.
CREATE TABLE cap_alerts (
    sender       TEXT    NOT NULL,
    identifier   TEXT    NOT NULL,
    msg_type     TEXT    NOT NULL,
    callout_id   INTEGER REFERENCES callouts (id) ON DELETE SET NULL,
    state        TEXT    NOT NULL DEFAULT 'done',
    imported_at  TEXT    NOT NULL,
    PRIMARY KEY (sender, identifier)
);
CREATE INDEX cap_alerts_callout ON cap_alerts (callout_id);

-- Drafts made before the ledger: their own alert, and the Cancel recorded on them.
INSERT INTO cap_alerts (sender, identifier, msg_type, callout_id, imported_at)
SELECT json_extract(metadata, '$.cap_sender'), json_extract(metadata, '$.cap_identifier'),
       COALESCE(json_extract(metadata, '$.cap_msg_type'), 'Alert'), id, created_at
FROM callouts
WHERE json_valid(metadata) AND json_type(metadata, '$.cap_sender') = 'text'
  AND json_type(metadata, '$.cap_identifier') = 'text'
ON CONFLICT DO NOTHING;
INSERT INTO cap_alerts (sender, identifier, msg_type, callout_id, imported_at)
SELECT json_extract(metadata, '$.cap_sender'), json_extract(metadata, '$.cap_cancelled_by'),
       'Cancel', id, updated_at
FROM callouts
WHERE json_valid(metadata) AND json_type(metadata, '$.cap_sender') = 'text'
  AND json_type(metadata, '$.cap_cancelled_by') = 'text'
ON CONFLICT DO NOTHING;
