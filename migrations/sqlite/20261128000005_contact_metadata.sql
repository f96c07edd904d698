-- Side table for metadata filters (issue 7, row 3): one row per top-level metadata key of each
-- contact whose value is a JSON string, so `metadata.<key> = <text>` is an index range instead of
-- a json_extract over every contact. Only strings are indexed: a filter on a number, boolean,
-- null, nested path or any other value keeps the scan (store/filter.rs decides), so the side
-- table never has to reproduce SQLite's text forms of other JSON types.
--
-- Every statement below (and store::import::sync_contact_metadata) reads a contact's rows with the
-- same expression: json_each over the metadata if it is valid JSON (anything else gives no rows
-- rather than failing the write), keeping object members (text keys) whose value is a string.
--
-- The primary key (key, value, contact_id) is the only index: a count is a range of it, and the
-- triggers delete a contact's rows by seeking each (key, value, id) of its old metadata, so no
-- index on contact_id (and no foreign key, whose cascade would need one) is paid for on import.
CREATE TABLE contact_metadata (
    key         TEXT    NOT NULL,
    value       TEXT    NOT NULL,
    contact_id  INTEGER NOT NULL,
    PRIMARY KEY (key, value, contact_id)
) WITHOUT ROWID;

-- While a row is here, contacts with id > after_id may lack their side rows: the CSV import sets
-- it and writes contacts without the per-row insert trigger, then fills the side table in one
-- sorted pass (`store::import::sync_contact_metadata`) and deletes the row. Metadata filters use
-- the scan while it exists. At most one row.
CREATE TABLE contact_metadata_backlog (
    id        INTEGER PRIMARY KEY CHECK (id = 1),
    after_id  INTEGER NOT NULL
);

INSERT INTO contact_metadata (key, value, contact_id)
SELECT j.key, j.value, c.id FROM contacts c, json_each(CASE WHEN json_valid(c.metadata, 2) THEN c.metadata ELSE '{}' END) j
WHERE j.type = 'text' AND typeof(j.key) = 'text'
ORDER BY 1, 2, 3;

CREATE TRIGGER contact_metadata_ai AFTER INSERT ON contacts
WHEN NOT EXISTS (SELECT 1 FROM contact_metadata_backlog)
BEGIN
    INSERT OR IGNORE INTO contact_metadata (key, value, contact_id)
    SELECT j.key, j.value, NEW.id FROM json_each(CASE WHEN json_valid(NEW.metadata, 2) THEN NEW.metadata ELSE '{}' END) j
    WHERE j.type = 'text' AND typeof(j.key) = 'text';
END;

CREATE TRIGGER contact_metadata_au AFTER UPDATE OF metadata ON contacts
BEGIN
    DELETE FROM contact_metadata WHERE (key, value, contact_id) IN
        (SELECT j.key, j.value, OLD.id FROM json_each(CASE WHEN json_valid(OLD.metadata, 2) THEN OLD.metadata ELSE '{}' END) j
         WHERE j.type = 'text' AND typeof(j.key) = 'text');
    INSERT OR IGNORE INTO contact_metadata (key, value, contact_id)
    SELECT j.key, j.value, NEW.id FROM json_each(CASE WHEN json_valid(NEW.metadata, 2) THEN NEW.metadata ELSE '{}' END) j
    WHERE j.type = 'text' AND typeof(j.key) = 'text';
END;

CREATE TRIGGER contact_metadata_ad AFTER DELETE ON contacts
BEGIN
    DELETE FROM contact_metadata WHERE (key, value, contact_id) IN
        (SELECT j.key, j.value, OLD.id FROM json_each(CASE WHEN json_valid(OLD.metadata, 2) THEN OLD.metadata ELSE '{}' END) j
         WHERE j.type = 'text' AND typeof(j.key) = 'text');
END;
